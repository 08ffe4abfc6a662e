#include "http/idempotency_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sawmill::http {
namespace {

TEST(IdempotencyGate, KeysAreScopedByTenant) {
  IdempotencyGate gate;
  ASSERT_TRUE(gate.Acquire("a", "k").ok());
  EXPECT_TRUE(gate.Acquire("b", "k", 10).ok());
  EXPECT_EQ(gate.held(), 2u);
}

TEST(IdempotencyGate, SecondHolderWaitsForTheFirst) {
  IdempotencyGate gate;
  ASSERT_TRUE(gate.Acquire("t", "k").ok());
  std::atomic<bool> acquired{false};
  std::thread retry([&] {
    EXPECT_TRUE(gate.Acquire("t", "k", 10'000).ok());
    acquired = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(acquired.load());
  gate.Release("t", "k");
  retry.join();
  EXPECT_TRUE(acquired.load());
  EXPECT_EQ(gate.held(), 1u);
}

TEST(IdempotencyGate, StuckHolderGivesUnavailableAfterTheWait) {
  IdempotencyGate gate;
  ASSERT_TRUE(gate.Acquire("t", "k").ok());
  Status s = gate.Acquire("t", "k", 20);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("still being stored"), std::string::npos);
}

TEST(IdempotencyGate, HoldReleasesOnScopeExitAndIgnoresEmptyKeys) {
  IdempotencyGate gate;
  {
    IdempotencyHold hold(&gate, "t", "k");
    EXPECT_TRUE(hold.status().ok());
    IdempotencyHold none(&gate, "t", "");
    EXPECT_TRUE(none.status().ok());
    EXPECT_EQ(gate.held(), 1u);
  }
  EXPECT_EQ(gate.held(), 0u);
}

}  // namespace
}  // namespace sawmill::http
