#include "common/periodic_worker.h"

#include <chrono>
#include <utility>

namespace sawmill {

void PeriodicWorker::Start(int64_t interval_ns, std::function<void()> work) {
  thread_ = std::thread([this, interval_ns, work = std::move(work)] { Loop(interval_ns, work); });
}

void PeriodicWorker::Stop() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  wake_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void PeriodicWorker::Loop(int64_t interval_ns, const std::function<void()>& work) {
  while (true) {
    {
      UniqueLock l(&mu_);
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::nanoseconds(interval_ns);
      while (!stopping_) {
        if (!wake_.WaitUntil(&l, deadline)) break;
      }
      if (stopping_) return;
    }
    work();
  }
}

}  // namespace sawmill
