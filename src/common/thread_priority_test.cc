#include "common/thread_priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <thread>

namespace sawmill {
namespace {

// The nice value the kernel reports for thread "tid" of this process.
int KernelNice(long tid) {
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  EXPECT_EQ(errno, 0);
  return nice;
}

// A thread raises its own nice value; the kernel reports it for that thread alone, and a later
// call asking for less leaves it (an unprivileged thread cannot take priority back).
TEST(ThreadPriority, AThreadsNiceIsItsOwnAndOnlyEverRises) {
  const long main_tid = ::syscall(SYS_gettid);
  const int main_before = KernelNice(main_tid);
  const int target = std::min(19, main_before + 7);
  long tid = 0;
  int after_set = 0, after_lower = 0, reported = 0;
  std::string name;
  bool ok_set = false, ok_lower = false;
  std::thread t([&] {
    tid = ::syscall(SYS_gettid);
    NameThisThread("sawmill-test-thread-long-name");
    name = NameOfThisThread();
    ok_set = NiceThisThread(target).ok();
    after_set = KernelNice(tid);
    reported = NiceOfThisThread();
    ok_lower = NiceThisThread(main_before).ok();  // asks for less: nothing to do
    after_lower = KernelNice(tid);
  });
  t.join();
  EXPECT_TRUE(ok_set);
  EXPECT_EQ(after_set, target);
  EXPECT_EQ(reported, target);
  EXPECT_TRUE(ok_lower);
  EXPECT_EQ(after_lower, target);
  EXPECT_EQ(name, "sawmill-test-th");  // the kernel keeps 15 bytes
  // The thread that started it keeps its own.
  EXPECT_EQ(KernelNice(main_tid), main_before);
  EXPECT_EQ(NiceOfThisThread(), main_before);
}

}  // namespace
}  // namespace sawmill
