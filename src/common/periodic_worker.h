// A background thread that runs one piece of work every interval until it is stopped: what the
// disk watch, the retention rounds and the tier mover each did with a stop flag, a condition
// variable and a thread of their own.
//
//   PeriodicWorker worker_;
//   worker_.Start(interval_ns, [this] { RunOnce(); });  // first run one interval from now
//   ...
//   worker_.Stop();  // wakes the wait at once; a run in progress finishes first
//
// The wait is on the steady clock (a changed wall clock neither hurries nor delays it). The next
// wait starts when a run ends, so runs never overlap and a slow run delays the next one.
// Threading: Start and Stop from the owner's thread (not from "work"); Stop is idempotent and the
// destructor calls it, so a worker member stops before the members declared above it are
// destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <thread>

#include "common/mutex.h"

namespace sawmill {

class PeriodicWorker {
 public:
  PeriodicWorker() = default;
  ~PeriodicWorker() { Stop(); }
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;

  // Starts the thread: wait "interval_ns", run "work", and again, until Stop.
  // REQUIRES: interval_ns > 0; not started before.
  void Start(int64_t interval_ns, std::function<void()> work);
  // Ends the wait at once and joins the thread (after the run in progress, if any). No run
  // starts after Stop returns. Does nothing when not started or stopped already.
  void Stop();
  bool running() const { return thread_.joinable(); }

 private:
  void Loop(int64_t interval_ns, const std::function<void()>& work);

  Mutex mu_;
  CondVar wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sawmill
