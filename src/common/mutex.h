// A mutex, its locks and a condition variable that clang's thread-safety analysis understands
// (common/thread_annotations.h; checked by `make lint`). They are thin wrappers over std::mutex,
// std::unique_lock and std::condition_variable, with the same behaviour and cost.
//
//   Mutex mu_;
//   std::deque<Item> queue_ GUARDED_BY(mu_);
//   CondVar ready_;
//
//   { MutexLock l(&mu_); queue_.push_back(item); }  // std::lock_guard
//   ready_.NotifyOne();
//
//   UniqueLock l(&mu_);                               // std::unique_lock
//   while (queue_.empty()) ready_.Wait(&l);           // a loop, not a predicate lambda: the
//                                                     // analysis cannot see a lambda holds mu_
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/thread_annotations.h"

namespace sawmill {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class UniqueLock;
  std::mutex mu_;
};

// Holds "mu" from construction to the end of the scope (std::lock_guard).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Holds "mu" from construction, may give it up and take it again, and releases it at the end
// of the scope if held (std::unique_lock). Needed to wait on a CondVar.
class SCOPED_CAPABILITY UniqueLock {
 public:
  explicit UniqueLock(Mutex* mu) ACQUIRE(mu) : lock_(mu->mu_) {}
  ~UniqueLock() RELEASE() {}
  UniqueLock(const UniqueLock&) = delete;
  UniqueLock& operator=(const UniqueLock&) = delete;

  void Unlock() RELEASE() { lock_.unlock(); }
  void Lock() ACQUIRE() { lock_.lock(); }

 private:
  friend class CondVar;
  std::unique_lock<std::mutex> lock_;
};

// std::condition_variable for a UniqueLock. Each wait gives the mutex up while it sleeps and
// holds it again when it returns; wake-ups may be spurious, so wait in a loop on the condition.
class CondVar {
 public:
  void Wait(UniqueLock* lock) { cv_.wait(lock->lock_); }
  // False when "deadline" passed (the condition may still have become true meanwhile).
  template <class Clock, class Duration>
  bool WaitUntil(UniqueLock* lock, const std::chrono::time_point<Clock, Duration>& deadline) {
    return cv_.wait_until(lock->lock_, deadline) == std::cv_status::no_timeout;
  }
  template <class Rep, class Period>
  bool WaitFor(UniqueLock* lock, const std::chrono::duration<Rep, Period>& timeout) {
    return cv_.wait_for(lock->lock_, timeout) == std::cv_status::no_timeout;
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace sawmill
