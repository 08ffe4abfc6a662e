#include "agent/pushed_input.h"

namespace sawmill::agent {

size_t PushedInput::Poll(int64_t, size_t max_records, size_t max_bytes,
                         std::vector<SourceRecord>* out) {
  std::lock_guard lock(mu_);
  size_t bytes = 0;
  size_t records = 0;
  while (!queue_.empty() && records < max_records && bytes < max_bytes) {
    bytes += queue_.front().text.size() + 1;
    queued_bytes_ -= queue_.front().text.size() + 1;
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
    ++records;
  }
  if (records > 0) room_.notify_all();
  return bytes;
}

bool PushedInput::Finished() const {
  std::lock_guard lock(mu_);
  return finished_ && queue_.empty();
}

void PushedInput::Stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  room_.notify_all();
}

bool PushedInput::Push(std::string text, bool truncated, std::optional<Level> level) {
  std::unique_lock lock(mu_);
  room_.wait(lock, [&] { return stopping_ || queued_bytes_ < max_queued_bytes_; });
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
  std::lock_guard lock(mu_);
  finished_ = true;
}

bool PushedInput::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

}  // namespace sawmill::agent
