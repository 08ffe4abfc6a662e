#include "http/tenant_quotas.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog/sqlite_catalog.h"

namespace sawmill::http {
namespace {

QuotaValues Defaults() {
  QuotaValues d;
  for (const QuotaKeyInfo& info : QuotaKeyTable()) d[info.key] = 0;
  d[QuotaKey::kMaxQueries] = 10;
  d[QuotaKey::kIngestBurst] = 10'000;
  return d;
}

TEST(TenantQuotasTest, ConfigFileMappingIsParsedWithUnits) {
  auto parsed = ParseTenantQuotas(
      "acme:\n  max_queries: 4\n  scanned_bytes_per_hour: 1GiB\n  reader_max_range: 7d\n"
      "other: {ingest_lines_per_sec: 500, ingest_burst: 30s}\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2u);
  const QuotaValues& acme = parsed->at("acme");
  EXPECT_EQ(acme[QuotaKey::kMaxQueries], 4u);
  EXPECT_EQ(acme[QuotaKey::kScannedBytesPerHour], 1ull << 30);
  EXPECT_EQ(acme[QuotaKey::kReaderMaxRange], 7ull * 86'400'000);
  EXPECT_FALSE(acme[QuotaKey::kIngestLinesPerSec].has_value());
  EXPECT_EQ(parsed->at("other")[QuotaKey::kIngestBurst], 30'000u);
  EXPECT_EQ(acme.Encode(), "max_queries=4&scanned_bytes_per_hour=1GiB&reader_max_range=7d");
  auto back = QuotaValues::Decode(acme.Encode(), "x");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->values, acme.values);
  EXPECT_TRUE(ParseTenantQuotas("").ok());
}

TEST(TenantQuotasTest, BadConfigNamesTheTenantTheKeyAndTheLine) {
  auto bad = ParseTenantQuotas("acme:\n  max_queries: 4\n  max_querys: 5\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tenant_quotas.acme (line 3)"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("unknown quota 'max_querys'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("max_queries"), std::string::npos);  // the known keys
  bad = ParseTenantQuotas("acme:\n  scanned_bytes_per_hour: lots\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tenant_quotas.acme.scanned_bytes_per_hour"),
            std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("(line 2)"), std::string::npos);
  bad = ParseTenantQuotas("- acme\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("expected a mapping of tenant"), std::string::npos);
}

class TenantQuotaTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tenant_quotas_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<catalog::Catalog> Open() {
    auto c = catalog::OpenSqliteCatalog((dir_ / "catalog.db").string());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  std::filesystem::path dir_;
};

TEST_F(TenantQuotaTableTest, ApiOverConfigFileOverDefaultsKeyByKeyAndKeptInTheCatalog) {
  ManualClock clock(1'000 * kNanosPerSecond);
  auto configured = ParseTenantQuotas("acme: {max_queries: 4, max_tail_sessions: 2}\n");
  ASSERT_TRUE(configured.ok());
  auto catalog = Open();
  {
    TenantQuotaTable table(Defaults(), *configured, &clock);
    // Not attached yet: the config file and defaults apply, the API cannot change anything.
    EXPECT_EQ(table.Get("acme", QuotaKey::kMaxQueries), 4u);
    EXPECT_EQ(table.Set("acme", {{"max_queries", "1"}}, false, "root").code(),
              StatusCode::kUnavailable);
    ASSERT_TRUE(table.Attach(catalog.get()).ok());
    EXPECT_EQ(table.Get("acme", QuotaKey::kMaxQueries), 4u);
    EXPECT_EQ(table.Get("other", QuotaKey::kMaxQueries), 10u);
    ASSERT_TRUE(
        table.Set("acme", {{"max_queries", "1"}, {"scanned_bytes_per_hour", "5MiB"}}, false, "root")
            .ok());
    ASSERT_TRUE(table.Set("other", {{"ingest_lines_per_sec", "100"}}, false, "ops").ok());
    EXPECT_EQ(table.Get("acme", QuotaKey::kMaxQueries), 1u);                   // API
    EXPECT_EQ(table.Get("acme", QuotaKey::kMaxTailSessions), 2u);              // file
    EXPECT_EQ(table.Get("acme", QuotaKey::kScannedBytesPerHour), 5ull << 20);  // API
    EXPECT_EQ(table.Get("acme", QuotaKey::kIngestBurst), 10'000u);             // default
    EXPECT_EQ(table.Get("other", QuotaKey::kIngestLinesPerSec), 100u);
    // Bad keys and values change nothing and say what is wrong.
    Status bad = table.Set("acme", {{"max_queries", "2"}, {"scan", "1GiB"}}, false, "root");
    EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.message().find("unknown quota 'scan'"), std::string::npos);
    bad = table.Set("acme", {{"max_queries", "-2"}}, false, "root");
    EXPECT_NE(bad.message().find("max_queries"), std::string::npos) << bad.message();
    EXPECT_EQ(table.Get("acme", QuotaKey::kMaxQueries), 1u);
    // "default" removes one override: the config file's value is back.
    ASSERT_TRUE(table.Set("acme", {{"max_queries", "default"}}, false, "root").ok());
    EXPECT_EQ(table.Get("acme", QuotaKey::kMaxQueries), 4u);
    TenantQuotaTable::Entry e = table.Describe("acme");
    EXPECT_EQ(e.updated_by, "root");
    EXPECT_EQ(e.api.Encode(), "scanned_bytes_per_hour=5MiB");
    EXPECT_EQ(e.effective[QuotaKey::kMaxQueries], 4u);
    EXPECT_EQ(table.Tenants(), (std::vector<std::string>{"acme", "other"}));
  }
  // A restart reads the API's overrides back from the catalog.
  TenantQuotaTable table(Defaults(), *configured, &clock);
  ASSERT_TRUE(table.Attach(catalog.get()).ok());
  EXPECT_EQ(table.Get("acme", QuotaKey::kScannedBytesPerHour), 5ull << 20);
  EXPECT_EQ(table.Get("other", QuotaKey::kIngestLinesPerSec), 100u);
  // reset removes every API override of the tenant.
  ASSERT_TRUE(table.Set("other", {}, true, "ops").ok());
  EXPECT_EQ(table.Get("other", QuotaKey::kIngestLinesPerSec), 0u);
  EXPECT_EQ(table.Tenants(), (std::vector<std::string>{"acme"}));
}

}  // namespace
}  // namespace sawmill::http
