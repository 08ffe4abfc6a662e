#include "agent/pushed_input.h"

#include "common/mutex.h"

namespace sawmill::agent {

size_t PushedInput::Poll(int64_t, size_t max_records, size_t max_bytes,
                         std::vector<SourceRecord>* out) {
  MutexLock lock(&mu_);
  size_t bytes = 0;
  size_t records = 0;
  while (!queue_.empty() && records < max_records && bytes < max_bytes) {
    bytes += queue_.front().text.size() + 1;
    queued_bytes_ -= queue_.front().text.size() + 1;
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
  UniqueLock lock(&mu_);
  while (!stopping_ && queued_bytes_ >= max_queued_bytes_) room_.Wait(&lock);
  if (stopping_) return false;
  queued_bytes_ += text.size() + 1;
  SourceRecord record;
  record.text = std::move(text);
  record.truncated = truncated;
  record.context = context_.get();
  record.level = level;
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
