#include "agent/options.h"

#include <gtest/gtest.h>

namespace sawmill::agent {
namespace {

TEST(Options, SizesAndDurations) {
  EXPECT_EQ(*ParseBytes("10GiB"), 10ull << 30);
  EXPECT_EQ(*ParseBytes("512MiB"), 512ull << 20);
  EXPECT_EQ(*ParseBytes("1GB"), 1000000000ull);
  EXPECT_EQ(*ParseBytes("4096"), 4096ull);
  EXPECT_FALSE(ParseBytes("10 parsecs").ok());
  EXPECT_FALSE(ParseBytes("lots").ok());
  EXPECT_EQ(*ParseDurationNs("1s"), 1'000'000'000);
  EXPECT_EQ(*ParseDurationNs("250ms"), 250'000'000);
  EXPECT_EQ(*ParseDurationNs("2m"), 120'000'000'000);
  EXPECT_FALSE(ParseDurationNs("soon").ok());
}

}  // namespace
}  // namespace sawmill::agent
