#include "http/server_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>

namespace sawmill::http {
namespace {

const ConfigOption& Find(const std::vector<ConfigOption>& options, const std::string& key) {
  for (const auto& option : options) {
    if (option.key == key) return option;
  }
  static ConfigOption none;
  ADD_FAILURE() << "no option " << key;
  return none;
}

// One file per test process: ctest runs the tests of this file at once, and other work trees'
// tests share the temporary directory.
std::string WriteFile(const std::string& text) {
  std::string path = ::testing::TempDir() + "/sawmill_server_config_test." +
                     std::to_string(::getpid()) + "." +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml";
  std::ofstream(path) << text;
  return path;
}

TEST(ServerConfig, SizesAndDurationsTakeUnits) {
  ServerConfig config;
  auto options = ServerOptions(&config);
  ASSERT_TRUE(SetOption(Find(options, "max_body"), "32MiB").ok());
  EXPECT_EQ(config.max_body_bytes, 32u << 20);
  ASSERT_TRUE(SetOption(Find(options, "max_line"), "1000").ok());
  EXPECT_EQ(config.max_line_bytes, 1000u);
  ASSERT_TRUE(SetOption(Find(options, "read_timeout"), "500ms").ok());
  EXPECT_EQ(config.read_timeout_ms, 500u);
  ASSERT_TRUE(SetOption(Find(options, "idle_timeout"), "2m").ok());
  EXPECT_EQ(config.idle_timeout_ms, 120'000u);
  ASSERT_TRUE(SetOption(Find(options, "heartbeat"), "5").ok());
  EXPECT_EQ(config.heartbeat_ms, 5000u);
}

TEST(ServerConfig, DefaultsPrintAsTheyAreWritten) {
  ServerConfig config;
  auto options = ServerOptions(&config);
  EXPECT_EQ(FormatOption(Find(options, "max_body")), "64MiB");
  EXPECT_EQ(FormatOption(Find(options, "max_line")), "256KiB");
  EXPECT_EQ(FormatOption(Find(options, "read_timeout")), "30s");
  EXPECT_EQ(FormatOption(Find(options, "idempotency_window")), "24h");  // not 86400s
  EXPECT_EQ(FormatOption(Find(options, "max_connections")), "4096");
  EXPECT_EQ(FormatOption(Find(options, "http")), "127.0.0.1:9640");
}

TEST(ServerConfig, NonsenseCombinationsAreRefused) {
  ServerConfig config;
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  config.worker_threads = 0;
  Status status = ValidateServerConfig(config);
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("workers"), std::string::npos);
  config = ServerConfig();
  config.heartbeat_ms = 0;
  EXPECT_FALSE(ValidateServerConfig(config).ok());
}

// A cluster node leaves compaction inputs to the orphan sweep, which a query on another node may
// still read, starting up to a view refresh after the swap: the grace must be at least
// query_timeout + segment_refresh_interval (docs/cluster.md).
TEST(ServerConfig, AClusterNodesOrphanGraceIsAtLeastTheQueryTimeoutAndARefresh) {
  ServerConfig config;
  config.catalog = "postgresql://sawmill@127.0.0.1:5432/sawmill";
  config.store = "s3://bucket/prefix";
  config.cluster_secret = "0123456789abcdefghij";
  ASSERT_TRUE(ValidateServerConfig(config).ok()) << ValidateServerConfig(config).ToString();
  config.node_timeout_ms = 5'000;
  config.segment_orphan_grace_ms = 20'000;
  config.query_timeout_ms = 30'000;
  Status status = ValidateServerConfig(config);
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find(
                "segment_orphan_grace: must be at least query_timeout + segment_refresh_interval"),
            std::string::npos)
      << status.ToString();
  // Equal to query_timeout is not enough: a view a refresh behind may start a query later.
  config.query_timeout_ms = 20'000;
  config.segment_refresh_interval_ms = 1'000;
  EXPECT_TRUE(ValidateServerConfig(config).IsInvalidArgument());
  config.query_timeout_ms = 19'000;
  EXPECT_TRUE(ValidateServerConfig(config).ok()) << ValidateServerConfig(config).ToString();
  config.segment_refresh_interval_ms = 1'001;
  EXPECT_TRUE(ValidateServerConfig(config).IsInvalidArgument());
}

TEST(ServerConfig, BadValueNamesTheOption) {
  ServerConfig config;
  auto options = ServerOptions(&config);
  Status status = SetOption(Find(options, "max_body"), "lots");
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("max_body"), std::string::npos) << status.message();
  EXPECT_FALSE(SetOption(Find(options, "max_connections"), "1.5").ok());
  EXPECT_FALSE(SetOption(Find(options, "read_timeout"), "3 weeks").ok());
}

TEST(ServerConfig, ValuesUseTheSharedSyntax) {
  ServerConfig config;
  auto options = ServerOptions(&config);
  ASSERT_TRUE(SetOption(Find(options, "read_timeout"), "1m30s").ok());
  EXPECT_EQ(config.read_timeout_ms, 90'000u);
  ASSERT_TRUE(SetOption(Find(options, "max_body"), "1.5MiB").ok());
  EXPECT_EQ(config.max_body_bytes, 3u << 19);
  ASSERT_TRUE(SetOption(Find(options, "memtable_cap"), "1 TiB").ok());
  EXPECT_EQ(config.memtable_cap_bytes, 1ull << 40);
  Status ambiguous = SetOption(Find(options, "max_body"), "64k");
  EXPECT_EQ(ambiguous.message(),
            "max_body: '64k' is ambiguous: write 64KiB for powers of 1024 or 64KB for powers of "
            "1000");
  Status huge = SetOption(Find(options, "max_request_lines"), "99999999999999999999");
  EXPECT_NE(huge.message().find("max_request_lines: '99999999999999999999' is too large"),
            std::string::npos)
      << huge.message();
}

TEST(ServerConfig, BadValueInTheFileSaysFileLineKeyAndWhatWasExpected) {
  ServerConfig config;
  std::string path = WriteFile("data: /x\n\nread_timeout: 3 weeks\n");
  Status status = LoadServerConfigFile(path, {}, &config);
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_EQ(status.message().substr(0, status.message().find(" such as")),
            "--config " + path + ": line 3: read_timeout: expected a duration")
      << status.message();
  EXPECT_NE(status.message().find("got '3 weeks'"), std::string::npos) << status.message();
}

TEST(ServerConfig, FileSetsEveryOptionFlagsWin) {
  ServerConfig config;
  config.http_address = "127.0.0.1:7000";  // as if set by --http
  std::string path = WriteFile(
      "data: /var/lib/sawmill\nhttp: 0.0.0.0:9999\nmax-body: 8MiB\n"
      "tail_max_sessions: 10\n");
  ASSERT_TRUE(LoadServerConfigFile(path, {"http"}, &config).ok());
  EXPECT_EQ(config.data_dir, "/var/lib/sawmill");
  EXPECT_EQ(config.http_address, "127.0.0.1:7000");
  EXPECT_EQ(config.max_body_bytes, 8u << 20);
  EXPECT_EQ(config.tail_max_sessions, 10u);
}

// A key of the file counts as given (a cluster node takes a cluster-wide setting from its catalog
// only where it was not; docs/cluster.md "Cluster-wide settings"); a key the flags won is
// skipped here, since the flag marked it; an option left at its default is not given.
TEST(ServerConfig, TheFileMarksItsKeysAsGiven) {
  ServerConfig config;
  std::string path = WriteFile("node-timeout: 20s\nhttp: 0.0.0.0:9999\n");
  ASSERT_TRUE(LoadServerConfigFile(path, {"http"}, &config).ok());
  EXPECT_EQ(config.given, std::set<std::string>({"node_timeout"}));
  EXPECT_EQ(config.node_timeout_ms, 20'000u);
  EXPECT_EQ(config.query_timeout_ms, 60'000u);
}

TEST(ServerConfig, BackgroundCompactionIsOnUnlessTurnedOff) {
  ServerConfig config;
  EXPECT_EQ(config.compaction, "on");
  std::string path = WriteFile("compaction: off\n");  // YAML would call this false; kept as text
  ASSERT_TRUE(LoadServerConfigFile(path, {}, &config).ok());
  EXPECT_EQ(config.compaction, "off");
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  config.compaction = "no";
  Status status = ValidateServerConfig(config);
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("compaction: 'no'"), std::string::npos) << status.message();
}

TEST(ServerConfig, CompactionTextLayoutsAreOnOrOff) {
  ServerConfig config;
  EXPECT_EQ(config.compaction_text_layouts, "off");
  std::string path = WriteFile("compaction_text_layouts: on\n");
  ASSERT_TRUE(LoadServerConfigFile(path, {}, &config).ok());
  EXPECT_EQ(config.compaction_text_layouts, "on");
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  config.compaction_text_layouts = "yes";
  Status status = ValidateServerConfig(config);
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("compaction_text_layouts: 'yes'"), std::string::npos)
      << status.message();
}

TEST(ServerConfig, UnknownKeyIsAnErrorWithItsLine) {
  ServerConfig config;
  std::string path = WriteFile("data: /x\nmax_bodyy: 1MiB\n");
  Status status = LoadServerConfigFile(path, {}, &config);
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("line 2"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("max_bodyy"), std::string::npos) << status.message();
}

TEST(ServerConfig, BrokenYamlSaysWhere) {
  ServerConfig config;
  std::string path = WriteFile("data: [unclosed\n");
  Status status = LoadServerConfigFile(path, {}, &config);
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("line"), std::string::npos) << status.message();
}

TEST(ServerConfig, MissingFileIsAnError) {
  ServerConfig config;
  EXPECT_TRUE(LoadServerConfigFile("/nonexistent/sawmill.yaml", {}, &config).IsInvalidArgument());
}

TEST(ServerConfig, ConnectionAndOriginListsAreCheckedAndTakeYamlLists) {
  ServerConfig config;
  EXPECT_EQ(SplitList(config.connection_cap_exempt),
            (std::vector<std::string>{"127.0.0.0/8", "::1"}));
  EXPECT_EQ(SplitList(" a , ,b,"), (std::vector<std::string>{"a", "b"}));
  std::string path = WriteFile(
      "allowed_hosts: [logs.example.com, \"proxy:8080\"]\n"
      "allowed_origins: https://ui.example.com\n"
      "connection_cap_exempt: 10.0.0.0/8, fd00::/8\n"
      "max_connections_per_address: 64\n");
  ASSERT_TRUE(LoadServerConfigFile(path, {}, &config).ok());
  EXPECT_EQ(config.allowed_hosts, "logs.example.com,proxy:8080");
  EXPECT_EQ(config.max_connections_per_address, 64u);
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  config.connection_cap_exempt = "10.0.0.0/8,not-a-network";
  Status status = ValidateServerConfig(config);
  EXPECT_NE(status.message().find("connection_cap_exempt"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("not-a-network"), std::string::npos) << status.ToString();
  config = ServerConfig();
  config.allowed_origins = "ui.example.com";
  EXPECT_NE(ValidateServerConfig(config).message().find("allowed_origins"), std::string::npos);
  config = ServerConfig();
  config.allowed_hosts = "http://logs.example.com/";
  EXPECT_NE(ValidateServerConfig(config).message().find("allowed_hosts"), std::string::npos);
}

TEST(ParseHostPort, CommonForms) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:9640", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9640);
  ASSERT_TRUE(ParseHostPort("[::1]:80", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  ASSERT_TRUE(ParseHostPort(":9640", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  ASSERT_TRUE(ParseHostPort("localhost:1", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_FALSE(ParseHostPort("9640", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("host:99999", &host, &port).ok());
}

TEST(ServerConfig, TimezonesByServiceAndTenantAreYamlMappings) {
  ServerConfig config;
  std::string path = WriteFile(
      "data: /x\ntimezone: Europe/Berlin\n"
      "timezone_by_service: {kafka: Europe/Berlin, zookeeper: '+05:30'}\n"
      "timezone_by_tenant:\n  acme: America/New_York\n");
  Status loaded = LoadServerConfigFile(path, {}, &config);
  ASSERT_TRUE(loaded.ok()) << loaded.ToString();
  EXPECT_EQ(config.timezone, "Europe/Berlin");
  EXPECT_EQ(config.timezone_by_service, "kafka=Europe/Berlin,zookeeper=+05:30");
  EXPECT_EQ(config.timezone_by_tenant, "acme=America/New_York");
  ASSERT_TRUE(ValidateServerConfig(config).ok());
  auto by_service = ParseZoneMap("timezone_by_service", config.timezone_by_service);
  ASSERT_TRUE(by_service.ok());
  ASSERT_EQ(by_service->size(), 2u);
  EXPECT_EQ(by_service->at("kafka")->name(), "Europe/Berlin");
  EXPECT_EQ(by_service->at("zookeeper")->OffsetAt(0), 5 * 3600 + 30 * 60);
  // The default stays UTC.
  EXPECT_EQ(ServerConfig{}.timezone, "UTC");
}

TEST(ServerConfig, AnUnknownTimezoneNamesTheOptionAndTheZone) {
  ServerConfig config;
  config.timezone = "Europe/Berln";
  Status status = ValidateServerConfig(config);
  EXPECT_EQ(status.message().substr(0, 34), "timezone: time zone 'Europe/Berln'");
  config.timezone = "UTC";
  config.timezone_by_service = "kafka=Europe/Berlin, zk=../etc/passwd";
  status = ValidateServerConfig(config);
  EXPECT_NE(status.message().find("timezone_by_service: zk: time zone '../etc/passwd'"),
            std::string::npos)
      << status.message();
  config.timezone_by_service = "kafka";
  EXPECT_NE(ValidateServerConfig(config).message().find("'kafka' is not name=zone"),
            std::string::npos);
}

}  // namespace
}  // namespace sawmill::http
