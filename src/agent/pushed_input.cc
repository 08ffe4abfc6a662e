#include "agent/pushed_input.h"

#include "common/mutex.h"

namespace sawmill::agent {

namespace {

// What a queued record counts against max_queued_bytes.
size_t QueuedBytes(const SourceRecord& record) {
  return record.record ? record.record->ApproximateSize() : record.text.size() + 1;
}

}  // namespace

size_t PushedInput::Poll(int64_t, size_t max_records, size_t max_bytes,
                         std::vector<SourceRecord>* out) {
  MutexLock lock(&mu_);
  size_t bytes = 0;
  size_t records = 0;
  while (!queue_.empty() && records < max_records && bytes < max_bytes) {
    const size_t queued = QueuedBytes(queue_.front());
    bytes += queued;
    queued_bytes_ -= queued;
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
    ++records;
  }
  if (records > 0) room_.NotifyAll();
  return bytes;
}

bool PushedInput::Finished() const {
  MutexLock lock(&mu_);
  return finished_ && queue_.empty();
}

void PushedInput::Stop() {
  MutexLock lock(&mu_);
  stopping_ = true;
  room_.NotifyAll();
}

bool PushedInput::Push(std::string text, bool truncated, std::optional<Level> level) {
  SourceRecord record;
  record.text = std::move(text);
  record.truncated = truncated;
  record.level = level;
  return Enqueue(std::move(record));
}

bool PushedInput::PushRecord(Record parsed) {
  SourceRecord record;
  record.record = std::move(parsed);
  return Enqueue(std::move(record));
}

bool PushedInput::Enqueue(SourceRecord record) {
  const size_t bytes = QueuedBytes(record);
  UniqueLock lock(&mu_);
  while (!stopping_ && queued_bytes_ >= max_queued_bytes_) room_.Wait(&lock);
  if (stopping_) return false;
  queued_bytes_ += bytes;
  record.context = context_.get();
  queue_.push_back(std::move(record));
  return true;
}

void PushedInput::MarkFinished() {
  MutexLock lock(&mu_);
  finished_ = true;
}

bool PushedInput::stopping() const {
  MutexLock lock(&mu_);
  return stopping_;
}

}  // namespace sawmill::agent
