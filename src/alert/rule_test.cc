#include "alert/rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sawmill::alert {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kS = 1'000'000'000;

TEST(AlertRules, ParsesEveryKey) {
  auto rules = ParseRules(R"(rules:
  - name: payments-errors
    tenant: shop
    filter: service=payments level=ERROR
    condition: count > 50
    window: 5m
    group_by: [host]
    for: 1m
    cooldown: 30m
    labels: {severity: page}
    annotations:
      summary: "{{count}} errors on {{group}}"
  - name: checkout-silent
    filter: service=checkout
    condition: count == 0
    window: 10m
)",
                          "rules.yaml", RuleLimits{});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 2u);
  const Rule& r = (*rules)[0];
  EXPECT_EQ(r.name, "payments-errors");
  EXPECT_EQ(r.tenant, "shop");
  EXPECT_EQ(r.condition.ToString(), "count > 50");
  EXPECT_EQ(r.window_ns, 300 * kS);
  EXPECT_EQ(r.group_by, std::vector<std::string>{"host"});
  EXPECT_EQ(r.for_ns, 60 * kS);
  EXPECT_EQ(r.cooldown_ns, 1800 * kS);
  EXPECT_EQ(r.labels.at("severity"), "page");
  EXPECT_EQ(r.annotations.at("summary"), "{{count}} errors on {{group}}");
  EXPECT_EQ(r.line, 2);
  EXPECT_EQ((*rules)[1].tenant, "default");
  EXPECT_TRUE((*rules)[1].condition.HoldsWhenSilent());
  EXPECT_FALSE(r.condition.HoldsWhenSilent());
}

TEST(AlertRules, FilterErrorNamesFileLineColumnRuleAndQueryPosition) {
  auto rules = ParseRules(
      "rules:\n  - name: bad\n    filter: service=\n    condition: count > 1\n"
      "    window: 1m\n",
      "rules.yaml", RuleLimits{});
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("rules.yaml:3:13: rule 'bad': filter:"));
  EXPECT_THAT(rules.status().message(), HasSubstr("at 1:9"));
}

TEST(AlertRules, UnknownKeyIsRefusedWithItsPosition) {
  auto rules = ParseRules(
      "rules:\n  - name: x\n    filter: a\n    condition: count > 1\n"
      "    window: 1m\n    severity: page\n",
      "r.yaml", RuleLimits{});
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("r.yaml:6:5: rule 'x': unknown key 'severity'"));
}

TEST(AlertRules, NonsensicalWindowsAreRefused) {
  for (const char* window : {"0s", "500ms", "30d", "soon", "-5m"}) {
    auto rules = ParseRules(std::string("rules:\n  - name: x\n    filter: a\n    condition: count "
                                        "> 1\n    window: ") +
                                window + "\n",
                            "r.yaml", RuleLimits{});
    ASSERT_FALSE(rules.ok()) << window;
    EXPECT_THAT(rules.status().message(), HasSubstr("r.yaml:5:13: rule 'x': window:")) << window;
  }
}

TEST(AlertRules, GroupByAFieldUniquePerLineExceedsTheCap) {
  auto rules = ParseRules(
      "rules:\n  - name: x\n    filter: a\n    condition: count > 1\n"
      "    window: 1m\n    group_by: [service, trace_id]\n",
      "r.yaml", RuleLimits{});
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("r.yaml:6:25: rule 'x': group_by: 'trace_id'"));
  EXPECT_THAT(rules.status().message(), HasSubstr("alert_max_groups"));
}

TEST(AlertRules, MissingKeysAndDuplicateNames) {
  auto missing =
      ParseRules("rules:\n  - name: x\n    filter: a\n    window: 1m\n", "r.yaml", RuleLimits{});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("missing key 'condition'"));
  auto dup = ParseRules(
      "rules:\n  - {name: x, filter: a, condition: count > 1, window: 1m}\n"
      "  - {name: x, filter: b, condition: count > 1, window: 1m}\n",
      "r.yaml", RuleLimits{});
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("r.yaml:3:5: rule 'x': name:"));
  // The same name in two tenants is two rules.
  auto two = ParseRules(
      "rules:\n  - {name: x, filter: a, condition: count > 1, window: 1m}\n"
      "  - {name: x, tenant: b, filter: b, condition: count > 1, window: 1m}\n",
      "r.yaml", RuleLimits{});
  EXPECT_TRUE(two.ok()) << two.status().ToString();
}

TEST(AlertRules, YamlSyntaxErrorHasAPosition) {
  auto rules = ParseRules("rules:\n  - name: [x\n", "r.yaml", RuleLimits{});
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("r.yaml:"));
}

TEST(AlertRules, SingleRuleBodyForTheApi) {
  auto rules = ParseRules(R"({"name": "x", "filter": "level=ERROR", "condition": "rate > 2",
                              "window": "1m"})",
                          "request body", RuleLimits{}, true, "acme");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ((*rules)[0].tenant, "acme");
  EXPECT_FALSE((*rules)[0].definition.empty());
}

TEST(AlertConditions, ParseAndEvaluate) {
  auto c = ParseCondition("rate > 2");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->measure, Measure::kRate);
  EXPECT_DOUBLE_EQ(c->Value(180, 60 * kS), 3.0);
  EXPECT_TRUE(c->Holds(3.0));
  EXPECT_FALSE(c->Holds(2.0));
  EXPECT_TRUE(ParseCondition("count>=5")->Holds(5));
  EXPECT_TRUE(ParseCondition(" count != 3 ")->Holds(4));
  for (const char* bad :
       {"count", "count > ", "lines > 5", "count => 5", "count > -1", "count > 5 lines"}) {
    auto parsed = ParseCondition(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("at column")) << bad;
  }
}

}  // namespace
}  // namespace sawmill::alert
