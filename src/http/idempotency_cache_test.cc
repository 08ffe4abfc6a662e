#include "http/idempotency_cache.h"

#include <gtest/gtest.h>

#include <thread>

namespace sawmill::http {
namespace {

HttpResponse Answer(const std::string& body) { return HttpResponse::Json(200, body); }

TEST(IdempotencyCache, RetryGetsTheFirstAnswer) {
  ManualClock clock(1);
  IdempotencyCache cache(IdempotencyOptions{}, &clock);
  EXPECT_FALSE(cache.Claim("t", "k1").has_value());
  cache.Complete("t", "k1", Answer(R"({"accepted":3})"));
  auto again = cache.Claim("t", "k1");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->body, R"({"accepted":3})");
}

TEST(IdempotencyCache, KeysAreScopedByTenant) {
  ManualClock clock(1);
  IdempotencyCache cache(IdempotencyOptions{}, &clock);
  EXPECT_FALSE(cache.Claim("a", "k").has_value());
  cache.Complete("a", "k", Answer("{}"));
  EXPECT_FALSE(cache.Claim("b", "k").has_value());
}

TEST(IdempotencyCache, FailedBatchCanBeRetried) {
  ManualClock clock(1);
  IdempotencyCache cache(IdempotencyOptions{}, &clock);
  EXPECT_FALSE(cache.Claim("t", "k").has_value());
  cache.Abandon("t", "k");
  EXPECT_FALSE(cache.Claim("t", "k").has_value());
}

TEST(IdempotencyCache, AnswersExpireAfterTheTtl) {
  ManualClock clock(1);
  IdempotencyCache cache(IdempotencyOptions{}, &clock);
  EXPECT_FALSE(cache.Claim("t", "k").has_value());
  cache.Complete("t", "k", Answer("{}"));
  clock.Advance(14 * 60 * kNanosPerSecond);
  EXPECT_TRUE(cache.Claim("t", "k").has_value());
  clock.Advance(2 * 60 * kNanosPerSecond);
  EXPECT_FALSE(cache.Claim("t", "k").has_value());
}

TEST(IdempotencyCache, MemoryIsBoundedByEntries) {
  ManualClock clock(1);
  IdempotencyOptions options;
  options.max_entries = 100;
  IdempotencyCache cache(options, &clock);
  for (int i = 0; i < 1000; ++i) {
    std::string key = "k" + std::to_string(i);
    ASSERT_FALSE(cache.Claim("t", key).has_value());
    cache.Complete("t", key, Answer("{}"));
  }
  EXPECT_LE(cache.size(), 101u);
  EXPECT_TRUE(cache.Claim("t", "k999").has_value());
}

TEST(IdempotencyCache, ConcurrentRetryWaitsForTheFirstAnswer) {
  IdempotencyCache cache(IdempotencyOptions{});
  ASSERT_FALSE(cache.Claim("t", "k").has_value());
  std::optional<HttpResponse> second;
  std::thread retry([&] { second = cache.Claim("t", "k", 10'000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  cache.Complete("t", "k", Answer(R"({"accepted":1})"));
  retry.join();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, R"({"accepted":1})");
}

}  // namespace
}  // namespace sawmill::http
