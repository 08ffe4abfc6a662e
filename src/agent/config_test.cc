#include "agent/config.h"

#include <gtest/gtest.h>

#include "agent/input.h"
#include "common/timezone.h"

namespace sawmill::agent {
namespace {

TEST(AgentConfig, TheSmallestConfigurationWorksAsWritten) {
  auto config = ParseAgentConfig(R"(
server: http://127.0.0.1:9640
spool: { path: /var/lib/sawmill-agent, max_bytes: 10GiB }
inputs:
  - type: file
    paths: ["/var/log/app/*.log"]
    service: payments
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "http://127.0.0.1:9640");
  EXPECT_EQ(config->spool_max_bytes, 10ull << 30);
  EXPECT_EQ(config->batch_max_lines, 1000u);
  EXPECT_EQ(config->batch_max_wait_ns, 1'000'000'000);
  // Every line is kept: no rate limit unless one is configured.
  EXPECT_EQ(config->rate_lines_per_sec, 0u);
  // Card numbers and SSNs are masked; e-mail addresses are not (docs/agent.md "Redaction").
  EXPECT_TRUE(config->redact_enabled);
  EXPECT_TRUE(config->redact.credit_cards);
  EXPECT_TRUE(config->redact.us_ssn);
  EXPECT_FALSE(config->redact.emails);
  EXPECT_EQ(config->memory_limit, 100u << 20);
  EXPECT_EQ(config->status_file, "/var/lib/sawmill-agent/status.json");
  ASSERT_EQ(config->inputs.size(), 1u);
  EXPECT_EQ(config->inputs[0].String("service"), "payments");
  EXPECT_EQ(config->inputs[0].String("start_at"), "beginning");
  EXPECT_EQ(config->inputs[0].List("paths").at(0), "/var/log/app/*.log");
}

std::string ErrorOf(const std::string& yaml) {
  auto config = ParseAgentConfig(yaml);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : config.status().message();
}

constexpr const char* kHead = "server: http://127.0.0.1:9640\nspool: {path: /tmp/s}\n";

TEST(AgentConfig, UnknownKeysAreRejectedWithTheirPath) {
  EXPECT_EQ(
      ErrorOf(std::string(kHead) + "inputs: [{type: file, paths: [a], pathz: [b]}]").substr(0, 26),
      "inputs[0].pathz: unknown k");
  EXPECT_NE(ErrorOf(std::string(kHead) + "colour: blue\ninputs: [{type: stdin}]")
                .find("colour: unknown key; expected one of: server"),
            std::string::npos);
  EXPECT_NE(ErrorOf("server: http://x\nspool: {path: /s, maxbytes: 1}\ninputs: [{type: stdin}]")
                .find("spool.maxbytes: unknown key"),
            std::string::npos);
}

TEST(AgentConfig, BadValuesSayWhatWasExpected) {
  EXPECT_EQ(ErrorOf(std::string(kHead) + "inputs: [{type: file, paths: [a], start_at: middle}]"),
            "inputs[0].start_at: expected one of end|beginning, got 'middle' (line 3)");
  EXPECT_NE(ErrorOf("server: http://x\nspool: {path: /s, max_bytes: huge}\ninputs: [{type: stdin}]")
                .find("spool.max_bytes: expected a size"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(std::string(kHead) + "batch:\n  zstd_level: 3\n  max_wait: 1 fortnight\n" +
              "inputs: [{type: stdin}]")
          .find("batch.max_wait: expected a duration such as 500ms, 10s, 5m, 1h, 1h30m or 3d"),
      std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kHead) + "batch:\n  zstd_level: 3\n  max_wait: 1 fortnight\n" +
                    "inputs: [{type: stdin}]")
                .find("got '1 fortnight' (line 5)"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kHead) + "inputs: [{type: kafka}]")
                .find("inputs[0].type: expected one of"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(std::string(kHead) + "inputs: [{type: file}]").find("inputs[0].paths: required"),
      std::string::npos);
  EXPECT_NE(ErrorOf("spool: {path: /s}\ninputs: [{type: stdin}]").find("server: required"),
            std::string::npos);
  EXPECT_NE(ErrorOf("server: ftp://x\nspool: {path: /s}\ninputs: [{type: stdin}]")
                .find("server: expected an http"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kHead) + "inputs: [{type: file, paths: [a], parser: regex}]")
                .find("inputs[0].pattern: required"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kHead) + "batch: {max_wait: soon}\ninputs: [{type: stdin}]")
                .find("batch.max_wait: expected a duration"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kHead) +
                    "inputs: [{type: file, paths: [a], parser: regex, pattern: '(?P<x>'}]")
                .find("inputs[0].parser.pattern"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kHead) + "inputs: [{type: stdin, multiline: {start_pattern: '['}}]")
                .find("inputs[0].multiline.start_pattern"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kHead) + "inputs: []").find("inputs: expected a list"),
            std::string::npos);
}

TEST(AgentConfig, SeveralServersAreAListAndEachMustBeAUrlOnce) {
  auto config = ParseAgentConfig(R"(
server: [http://a:9640/, "https://b:9640"]
spool: { path: /s }
inputs: [{type: stdin}]
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->servers, (std::vector<std::string>{"http://a:9640", "https://b:9640"}));
  EXPECT_EQ(config->server, "http://a:9640, https://b:9640");
  EXPECT_EQ(ErrorOf("server: [http://a:1, ftp://b]\nspool: {path: /s}\ninputs: [{type: stdin}]\n"),
            "server: expected an http:// or https:// URL, got 'ftp://b'");
  EXPECT_EQ(ErrorOf("server: [http://a:1, http://a:1/]\nspool: {path: /s}\n"
                    "inputs: [{type: stdin}]\n"),
            "server: 'http://a:1' is listed twice");
  EXPECT_EQ(ErrorOf("server: []\nspool: {path: /s}\ninputs: [{type: stdin}]\n"),
            "server: expected an http:// or https:// URL, or a list of them");
}

TEST(AgentConfig, TimezoneOfAnInputIsAZoneOfTheSystemDatabase) {
  auto config = ParseAgentConfig(std::string(kHead) +
                                 "inputs:\n"
                                 "  - {type: file, paths: [a], service: kafka, timezone: "
                                 "Europe/Berlin}\n"
                                 "  - {type: stdin, timezone: '+05:30'}\n"
                                 "  - {type: stdin}\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto berlin = MakeInputContext(config->inputs[0], config->max_line_bytes);
  ASSERT_TRUE(berlin.ok());
  ASSERT_NE((*berlin)->zone, nullptr);
  EXPECT_EQ((*berlin)->zone->name(), "Europe/Berlin");
  auto fixed = MakeInputContext(config->inputs[1], config->max_line_bytes);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ((*fixed)->zone->OffsetAt(0), 5 * 3600 + 30 * 60);
  // The default: UTC, as before the option existed.
  auto plain = MakeInputContext(config->inputs[2], config->max_line_bytes);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(config->inputs[2].String("timezone"), "UTC");
  EXPECT_EQ((*plain)->zone->OffsetAt(1'800'000'000), 0);
}

TEST(AgentConfig, AnUnknownTimezoneNamesTheKeyAndTheValue) {
  EXPECT_EQ(ErrorOf(std::string(kHead) +
                    "inputs: [{type: stdin}, {type: file, paths: [a], timezone: Europe/Berln}]")
                .substr(0, 52),
            "inputs[1].timezone: time zone 'Europe/Berln': no suc");
  EXPECT_NE(
      ErrorOf(std::string(kHead) + "inputs: [{type: file, paths: [a], timezone: ../../etc/passwd}]")
          .find("inputs[0].timezone: time zone '../../etc/passwd': a '.' or '..' path"),
      std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kHead) + "inputs: [{type: stdin, timezone: '+1:00'}]")
                .find("inputs[0].timezone: time zone '+1:00': expected an offset"),
            std::string::npos);
}

}  // namespace
}  // namespace sawmill::agent
