#include "ingest/masking.h"

#include <gtest/gtest.h>

#include "common/metrics.h"

namespace sawmill::ingest {
namespace {

std::unique_ptr<TenantMasking> Make() {
  RedactOptions acme;
  acme.credit_cards = true;
  acme.us_ssn = false;
  acme.emails = true;
  acme.rules = {{"token", "tok_[a-z0-9]+", "tok_***"}};
  auto masking = TenantMasking::Create({{"acme", acme}});
  EXPECT_TRUE(masking.ok()) << masking.status().ToString();
  return std::move(masking).value();
}

Record Line(std::string message) {
  Record r;
  r.message = std::move(message);
  return r;
}

TEST(TenantMasking, MasksOnlyItsTenantsLinesAndFlagsThem) {
  auto masking = Make();
  ASSERT_TRUE(masking->enabled());
  EXPECT_EQ(masking->RuleNames("acme"), (std::vector<std::string>{"card", "email", "token"}));
  EXPECT_TRUE(masking->RuleNames("other").empty());
  std::vector<Record> records = {Line("paid 4111111111111111 by bob@example.com"),
                                 Line("nothing to hide"), Line("key tok_abc1")};
  records[1].fields = {{"sawmill.masked", "card"}};  // a client's claim is not kept
  std::vector<Record> other = records;
  const std::string acme = "acme", tenant2 = "other";
  ASSERT_TRUE(masking->Admit(BatchInfo{acme, "native"}, &records).ok());
  EXPECT_EQ(records[0].message, "paid [REDACTED] by [REDACTED]");
  EXPECT_EQ(records[0].fields,
            (std::vector<std::pair<std::string, std::string>>{{"sawmill.masked", "card,email"}}));
  EXPECT_TRUE(records[0].flags & kFlagRedacted);
  EXPECT_EQ(records[1].message, "nothing to hide");
  EXPECT_TRUE(records[1].fields.empty());
  EXPECT_EQ(records[1].flags, 0u);
  EXPECT_EQ(records[2].message, "key tok_***");
  EXPECT_EQ(*records[2].FindField("sawmill.masked"), "token");
  // Another tenant's lines are not touched at all.
  std::vector<Record> before = other;
  ASSERT_TRUE(masking->Admit(BatchInfo{tenant2, "native"}, &other).ok());
  EXPECT_EQ(other, before);
  const std::string metrics = SerializeMetrics();
  EXPECT_NE(metrics.find("sawmill_ingest_masked_total{rule=\"email\",tenant=\"acme\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sawmill_ingest_masked_lines_total{tenant=\"acme\"} 2"),
            std::string::npos);
}

TEST(TenantMasking, AFieldKeyIsMaskedLikeItsValue) {
  auto masking = Make();
  std::vector<Record> records = {Line("role granted")};
  records[0].fields = {{"bob@example.com", "admin"}, {"card", "4111111111111111"}};
  const std::string acme = "acme";
  ASSERT_TRUE(masking->Admit(BatchInfo{acme, "native"}, &records).ok());
  EXPECT_EQ(
      records[0].fields,
      (std::vector<std::pair<std::string, std::string>>{
          {"[REDACTED]", "admin"}, {"card", "[REDACTED]"}, {"sawmill.masked", "card,email"}}));
  EXPECT_TRUE(records[0].flags & kFlagRedacted);
}

TEST(TenantMasking, ABadRuleNamesItsTenant) {
  RedactOptions bad;
  bad.rules = {{"x", "(", "y"}};
  auto masking = TenantMasking::Create({{"acme", bad}});
  ASSERT_FALSE(masking.ok());
  EXPECT_NE(masking.status().message().find("masking.acme: rule 'x'"), std::string::npos)
      << masking.status().ToString();
}

}  // namespace
}  // namespace sawmill::ingest
