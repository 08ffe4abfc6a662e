#include "common/periodic_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace sawmill {
namespace {

using std::chrono::steady_clock;

// Polls "done" for up to 30 s (the machine may be loaded): true once it holds.
template <class F>
bool Eventually(F done) {
  const auto deadline = steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(PeriodicWorker, RunsTheWorkEveryIntervalUntilStopped) {
  std::atomic<int> runs{0};
  PeriodicWorker worker;
  EXPECT_FALSE(worker.running());
  worker.Start(5'000'000, [&] { ++runs; });  // 5 ms
  EXPECT_TRUE(worker.running());
  EXPECT_TRUE(Eventually([&] { return runs.load() >= 3; }));
  worker.Stop();
  EXPECT_FALSE(worker.running());
  const int after = runs.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(runs.load(), after) << "the work ran after Stop returned";
  worker.Stop();  // again: nothing
}

TEST(PeriodicWorker, StopEndsALongWaitAtOnce) {
  std::atomic<int> runs{0};
  PeriodicWorker worker;
  worker.Start(3600LL * 1'000'000'000, [&] { ++runs; });  // an hour
  const auto start = steady_clock::now();
  worker.Stop();
  // Not the hour: far less than a minute even on a loaded machine.
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(60));
  EXPECT_EQ(runs.load(), 0);  // the first run is one interval after Start
}

TEST(PeriodicWorker, StopLetsTheRunInProgressFinish) {
  std::atomic<bool> started{false}, finished{false};
  std::atomic<int> runs{0};
  PeriodicWorker worker;
  worker.Start(1'000'000, [&] {
    if (++runs > 1) return;
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    finished = true;
  });
  ASSERT_TRUE(Eventually([&] { return started.load(); }));
  worker.Stop();
  EXPECT_TRUE(finished.load()) << "Stop returned in the middle of a run";
  EXPECT_EQ(runs.load(), 1) << "a new run started after Stop was called";
}

TEST(PeriodicWorker, AWorkerNeverStartedStopsAndIsDestroyedQuietly) {
  PeriodicWorker worker;
  worker.Stop();
  EXPECT_FALSE(worker.running());
}

}  // namespace
}  // namespace sawmill
