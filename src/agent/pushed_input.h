// Base of inputs whose data arrives on their own thread (stdin, syslog): the thread pushes
// records into a bounded queue and blocks while it is full (backpressure reaches the source:
// a pipe writer or TCP sender waits; UDP datagrams wait in the kernel buffer), and Poll() takes
// them on the pipeline thread.
#pragma once

#include <deque>

#include "agent/input.h"
#include "common/mutex.h"

namespace sawmill::agent {

class PushedInput : public Input {
 public:
  explicit PushedInput(std::unique_ptr<InputContext> context, size_t max_queued_bytes)
      : context_(std::move(context)), max_queued_bytes_(max_queued_bytes) {}

  size_t Poll(int64_t now_ns, size_t max_records, size_t max_bytes,
              std::vector<SourceRecord>* out) override;
  bool Finished() const override;
  void Stop() override;

 protected:
  // Called by the input's thread. Returns false when the input is stopping.
  bool Push(std::string text, bool truncated, std::optional<Level> level);
  // The same for a record the input parsed itself (see SourceRecord::record).
  bool PushRecord(Record record);
  void MarkFinished();
  bool stopping() const;
  const InputContext* context() const { return context_.get(); }

 private:
  bool Enqueue(SourceRecord record);

  std::unique_ptr<InputContext> context_;
  const size_t max_queued_bytes_;
  mutable Mutex mu_;
  CondVar room_;
  std::deque<SourceRecord> queue_ GUARDED_BY(mu_);
  size_t queued_bytes_ GUARDED_BY(mu_) = 0;
  bool finished_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace sawmill::agent
