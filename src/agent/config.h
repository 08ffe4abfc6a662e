// The agent's configuration file (YAML), validated against the option tables at start. The
// smallest useful one:
//
//   server: http://127.0.0.1:9640            # or a list: [http://a:9640, http://b:9640]
//   spool: { path: /var/lib/sawmill-agent, max_bytes: 10GiB }
//   inputs:
//     - type: file
//       paths: ["/var/log/app/*.log"]
//       service: payments
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/http_sender.h"
#include "agent/options.h"
#include "ingest/redact.h"
#include "sawmill/status.h"

namespace sawmill::agent {

struct AgentConfig {
  // Base URLs, e.g. http://127.0.0.1:9640: one, or several taking batches in turn, a failing one
  // retried with backoff while the others take its share ("server: [url, url]").
  std::vector<std::string> servers;
  std::string server;    // the servers joined with ", ", for messages and the status file
  std::string token;     // sent as "Authorization: Bearer <token>" when set
  SenderTls tls;         // checks of https:// servers; the agent's client certificate
  std::string agent_id;  // empty: generated once and kept in the spool directory
  std::string host;      // empty: the OS hostname
  std::vector<std::pair<std::string, std::string>> fields;  // static fields on every record

  std::string spool_path;
  uint64_t spool_max_bytes = 10ull << 30;
  uint64_t drain_lines_per_sec = 20000;

  uint64_t batch_max_lines = 1000;
  int64_t batch_max_wait_ns = 1'000'000'000;
  uint64_t batch_max_bytes = 4 << 20;
  int zstd_level = 3;

  uint64_t rate_lines_per_sec = 0;  // 0: unlimited (the default: every line is kept)
  uint64_t rate_burst = 5000;

  int64_t backoff_max_ns = 60'000'000'000;
  int64_t request_timeout_ns = 30'000'000'000;
  uint64_t failures_before_drop = 3;

  uint64_t memory_limit = 100 << 20;
  uint64_t max_line_bytes = 128 * 1024;

  std::string status_file;     // empty: <spool>/status.json
  std::string metrics_listen;  // empty: no /metrics endpoint

  ingest::RedactOptions redact;
  bool redact_enabled = true;

  // Each input's validated options, in file order (inputs[i]).
  std::vector<OptionValues> inputs;
};

const std::vector<OptionSpec>& TopLevelOptionTable();
// The tables of nested sections (spool, batch, ..., and input sections such as multiline).
const SectionTables& AgentSectionTables();
// The table of an input type, or nullptr.
const std::vector<OptionSpec>* InputOptionTable(std::string_view type);

// Errors: InvalidArgument with the key's path and what was expected; NotFound for a missing
// file.
Result<AgentConfig> ParseAgentConfig(std::string_view yaml);
Result<AgentConfig> LoadAgentConfig(const std::string& path);

// What `sawmill agent --check` prints: the effective configuration (defaults applied; the
// token is not shown) and, for each file input, the files its globs match now (excludes
// applied).
std::string DescribeEffectiveConfig(const AgentConfig& config);

// Every table as Markdown, for docs/agent.md and `sawmill agent --list-options`.
std::string DescribeAllOptions();

}  // namespace sawmill::agent
