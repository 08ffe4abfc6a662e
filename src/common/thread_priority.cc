#include "common/thread_priority.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace sawmill {

void NameThisThread(std::string_view name) {
#if defined(__linux__)
  const std::string cut(name.substr(0, 15));
  ::pthread_setname_np(::pthread_self(), cut.c_str());
#else
  (void)name;
#endif
}

std::string NameOfThisThread() {
#if defined(__linux__)
  char buf[16] = {};
  if (::pthread_getname_np(::pthread_self(), buf, sizeof(buf)) == 0) return buf;
#endif
  return "";
}

Status NiceThisThread(int nice) {
#if defined(__linux__)
  nice = std::clamp(nice, -20, 19);
  // On Linux PRIO_PROCESS with a thread id is that thread's nice alone (not the process's).
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int now = ::getpriority(PRIO_PROCESS, tid);
  if (now == -1 && errno != 0) {
    return Status::IOError(std::string("getpriority of thread ") + std::to_string(tid) + ": " +
                           std::strerror(errno));
  }
  if (nice <= now) return Status::OK();
  if (::setpriority(PRIO_PROCESS, tid, nice) != 0) {
    return Status::IOError(std::string("setpriority of thread ") + std::to_string(tid) + " to " +
                           std::to_string(nice) + ": " + std::strerror(errno));
  }
#else
  (void)nice;
#endif
  return Status::OK();
}

int NiceOfThisThread() {
#if defined(__linux__)
  errno = 0;
  const int now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
  if (now == -1 && errno != 0) return 0;
  return now;
#else
  return 0;
#endif
}

void NiceBackgroundThread(int nice, std::string_view what) {
  Status s = NiceThisThread(nice);
  if (!s.ok()) spdlog::warn("{} runs at the process's CPU priority: {}", what, s.ToString());
}

}  // namespace sawmill
