#include "agent/options.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "common/config_values.h"

namespace sawmill::agent {
namespace {

// The agent reads sizes and durations with the syntax it shares with the server.
TEST(Options, SizesAndDurations) {
  EXPECT_EQ(*ParseSize("10GiB"), 10ull << 30);
  EXPECT_EQ(*ParseSize("512MiB"), 512ull << 20);
  EXPECT_EQ(*ParseSize("1GB"), 1000000000ull);
  EXPECT_EQ(*ParseSize("4096"), 4096ull);
  EXPECT_FALSE(ParseSize("10 parsecs").ok());
  EXPECT_FALSE(ParseSize("lots").ok());
  EXPECT_EQ(*ParseDuration("1s"), 1'000'000'000);
  EXPECT_EQ(*ParseDuration("250ms"), 250'000'000);
  EXPECT_EQ(*ParseDuration("2m"), 120'000'000'000);
  EXPECT_FALSE(ParseDuration("soon").ok());
}

TEST(Options, SectionValuesUseTheSharedSyntaxAndNameKeyAndLine) {
  const std::vector<OptionSpec> table = {
      {"wait", OptionType::kDuration, "1s", "how long"},
      {"size", OptionType::kBytes, "4MiB", "how much"},
      {"on", OptionType::kBool, "true", "whether"},
      {"count", OptionType::kInt, "3", "how many"},
  };
  auto values =
      ValidateSection(YAML::Load("wait: 1h30m\nsize: 1.5KiB\non: off\n"), table, "batch", {});
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  EXPECT_EQ(values->DurationNs("wait"), 5'400'000'000'000);
  EXPECT_EQ(values->Bytes("size"), 1536u);
  EXPECT_FALSE(values->Bool("on"));
  EXPECT_EQ(values->Int("count"), 3);
  auto bad = ValidateSection(YAML::Load("wait: 1s\n\nsize: 10k\n"), table, "batch", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "batch.size: '10k' is ambiguous: write 10KiB for powers of 1024 or 10KB for powers of "
            "1000 (line 3)");
  bad = ValidateSection(YAML::Load("count: -1\n"), table, "batch", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "batch.count: expected a whole number such as 1000, got '-1' (line 1)");
  bad = ValidateSection(YAML::Load("on: maybe\n"), table, "", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "on: expected true or false (or yes/no, on/off), got 'maybe' (line 1)");
}

}  // namespace
}  // namespace sawmill::agent
