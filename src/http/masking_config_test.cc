#include "http/masking_config.h"

#include <gtest/gtest.h>

#include "http/server_config.h"

namespace sawmill::http {
namespace {

TEST(MaskingConfig, EmptyMasksNothing) {
  auto config = ParseMaskingConfig("");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->empty());
  ServerConfig server;
  EXPECT_TRUE(server.masking.empty());  // the default: no masking
}

TEST(MaskingConfig, DetectorsAndRulesPerTenant) {
  auto config = ParseMaskingConfig(R"(
acme:
  detectors: [card, email, ipv6]
  replacement: "***"
  rules:
    - {name: api_key, pattern: 'api_key=\w+', replacement: 'api_key=?'}
beta:
  rules:
    - {name: order, pattern: 'ord-[0-9]+'}
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->size(), 2u);
  const ingest::RedactOptions& acme = config->at("acme");
  EXPECT_TRUE(acme.credit_cards && acme.emails && acme.ipv6);
  EXPECT_FALSE(acme.us_ssn || acme.uk_nino || acme.ipv4);
  EXPECT_EQ(acme.replacement, "***");
  ASSERT_EQ(acme.rules.size(), 1u);
  EXPECT_EQ(acme.rules[0].replacement, "api_key=?");
  const ingest::RedactOptions& beta = config->at("beta");
  EXPECT_FALSE(beta.credit_cards || beta.us_ssn);  // only what is named
  EXPECT_EQ(beta.rules[0].replacement, "[REDACTED]");
}

TEST(MaskingConfig, MistakesNameTheirKey) {
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"acme: {detectors: [cards]}", "masking.acme.detectors: unknown detector 'cards'"},
      {"acme: {detector: [card]}", "masking.acme: unknown key 'detector'"},
      {"acme: {rules: [{name: k, pattern: '(x'}]}", "masking.acme: rule 'k' pattern '(x'"},
      {"acme: {rules: [{name: k, pattern: 'x', replacement: '\\1'}]}",
       "masking.acme: rule 'k' pattern 'x': replacement"},
      {"acme: {rules: [{pattern: 'x'}]}", "masking.acme.rules[0]: needs a name and a pattern"},
      {"acme: {}", "masking.acme: no detectors and no rules"},
      {"acme: {detectors: [card]}\nacme: {detectors: [email]}",
       "masking.acme: the tenant is named twice"},
      {"acme corp: {detectors: [card]}", "masking.acme corp: not a tenant name"},
      {"[a, b]", "masking: expected a mapping of tenant: rule set"},
      {"acme: {detectors: [card]", "masking: line 1"},
  };
  for (const Case& c : cases) {
    auto config = ParseMaskingConfig(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.error), std::string::npos)
        << c.yaml << ": " << config.status().ToString();
  }
  // And the server refuses to start with it.
  ServerConfig server;
  server.masking = "acme: {detectors: [cards]}";
  EXPECT_NE(ValidateServerConfig(server).message().find("unknown detector 'cards'"),
            std::string::npos);
}

}  // namespace
}  // namespace sawmill::http
