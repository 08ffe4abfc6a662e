#include "agent/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/input.h"
#include "agent/inputs/file/file_input.h"
#include "agent/inputs/stdin/stdin_input.h"
#include "agent/inputs/syslog/syslog_input.h"

namespace sawmill::agent {

namespace {

const std::vector<OptionSpec>& SpoolTable() {
  static const std::vector<OptionSpec> kTable = {
      {"path", OptionType::kString, "required",
       "directory of the disk spool, the checkpoint and the status file"},
      {"max_bytes", OptionType::kBytes, "10GiB", "bound of the spool on disk"},
      {"drain_rate", OptionType::kInt, "20000",
       "lines per second sent from the backlog when the server is back (new data is not limited)"},
  };
  return kTable;
}

const std::vector<OptionSpec>& BatchTable() {
  static const std::vector<OptionSpec> kTable = {
      {"max_lines", OptionType::kInt, "1000", "a batch is sealed at this many lines"},
      {"max_wait", OptionType::kDuration, "1s", "... or when its first line is this old"},
      {"max_bytes", OptionType::kBytes, "4MiB", "... or at this many uncompressed bytes"},
      {"zstd_level", OptionType::kInt, "3", "compression level of batches"},
  };
  return kTable;
}

const std::vector<OptionSpec>& RateLimitTable() {
  static const std::vector<OptionSpec> kTable = {
      {"lines_per_sec", OptionType::kInt, "0",
       "per-host rate limit (0: off, every line is kept); above it DEBUG then INFO are shed, "
       "WARN+ never"},
      {"burst", OptionType::kInt, "5000", "lines allowed above the rate in a burst"},
  };
  return kTable;
}

const std::vector<OptionSpec>& RetryTable() {
  static const std::vector<OptionSpec> kTable = {
      {"max_backoff", OptionType::kDuration, "60s",
       "cap of the jittered backoff (1-5 s, then 5-15 s, then 15-60 s)"},
      {"request_timeout", OptionType::kDuration, "30s", "timeout of one request"},
      {"failures_before_drop", OptionType::kInt, "3",
       "consecutive failures before the drop level rises (only while the spool is over 90%)"},
  };
  return kTable;
}

const std::vector<OptionSpec>& RedactTable() {
  static const std::vector<OptionSpec> kTable = {
      {"enabled", OptionType::kBool, "true", "redact secrets before lines leave the host"},
      {"credit_cards", OptionType::kBool, "true",
       "card numbers: a standalone token with an issuer's prefix and length, passing Luhn"},
      {"emails", OptionType::kBool, "false", "e-mail addresses (personal data, not a secret)"},
      {"us_ssn", OptionType::kBool, "true", "US social security numbers (123-45-6789)"},
      {"patterns", OptionType::kStringList, "", "extra RE2 patterns to replace"},
  };
  return kTable;
}

const std::vector<OptionSpec>& TlsTable() {
  static const std::vector<OptionSpec> kTable = {
      {"ca_file", OptionType::kString, "",
       "PEM CA certificate(s) that signed an https:// server's certificate (default: the "
       "system's CAs)"},
      {"cert_file", OptionType::kString, "",
       "PEM client certificate, for a server that asks for one (tls_client_auth)"},
      {"key_file", OptionType::kString, "", "PEM private key of cert_file"},
      {"insecure_skip_verify", OptionType::kBool, "false",
       "do not check the server's certificate (unsafe: a warning is logged)"},
  };
  return kTable;
}

const std::vector<OptionSpec>& StatusTable() {
  static const std::vector<OptionSpec> kTable = {
      {"file", OptionType::kString, "",
       "status file, rewritten every second "
       "(default <spool.path>/status.json)"},
      {"metrics_listen", OptionType::kString, "",
       "address:port of the local /metrics endpoint, e.g. 127.0.0.1:9641 (empty: off)"},
  };
  return kTable;
}

}  // namespace

const std::vector<OptionSpec>& TopLevelOptionTable() {
  static const std::vector<OptionSpec> kTable = {
      {"server", OptionType::kStringList, "required",
       "base URL of the Sawmill server, or a list of them taking batches in turn (a failing one is "
       "retried with backoff while the others take its share)"},
      {"token", OptionType::kString, "", "API token sent as a Bearer token"},
      {"tls", OptionType::kSection, "", "checks of https:// servers, client certificate"},
      {"agent_id", OptionType::kString, "",
       "identity in Idempotency-Keys (default: generated once, kept in the spool)"},
      {"host", OptionType::kString, "", "host name on every record (default: the OS hostname)"},
      {"fields", OptionType::kMap, "", "static fields on every record (region, az, pod, ...)"},
      {"max_line_bytes", OptionType::kBytes, "128KiB", "longer lines are cut and flagged"},
      {"memory_limit", OptionType::kBytes, "100MiB",
       "resident memory above which the agent stops reading until it falls"},
      {"spool", OptionType::kSection, "", "the disk spool"},
      {"batch", OptionType::kSection, "", "batching"},
      {"rate_limit", OptionType::kSection, "", "per-host rate limit"},
      {"retry", OptionType::kSection, "", "retries and backoff"},
      {"redact", OptionType::kSection, "", "redaction of secrets"},
      {"status", OptionType::kSection, "", "health reporting"},
      {"inputs", OptionType::kSection, "", "list of inputs (see the input tables)"},
  };
  return kTable;
}

const SectionTables& AgentSectionTables() {
  static const SectionTables kTables = {
      {"spool", &SpoolTable()},
      {"batch", &BatchTable()},
      {"rate_limit", &RateLimitTable()},
      {"retry", &RetryTable()},
      {"redact", &RedactTable()},
      {"status", &StatusTable()},
      {"tls", &TlsTable()},
      {"multiline", &MultilineOptionTable()},
  };
  return kTables;
}

const std::vector<OptionSpec>* InputOptionTable(std::string_view type) {
  if (type == "file") return &FileInputOptionTable();
  if (type == "stdin") return &StdinInputOptionTable();
  if (type == "syslog") return &SyslogInputOptionTable();
  return nullptr;
}

namespace {
Result<AgentConfig> ParseAgentConfigNode(const YAML::Node& root);
}  // namespace

Result<AgentConfig> ParseAgentConfig(std::string_view yaml) {
  try {
    return ParseAgentConfigNode(YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("configuration is not valid YAML: ") + e.what());
  }
}

namespace {

Result<AgentConfig> ParseAgentConfigNode(const YAML::Node& root) {
  if (!root.IsMap()) {
    return Status::InvalidArgument("configuration: expected a mapping with server, spool, inputs");
  }
  // "inputs" is a list, validated item by item below; hide it from the section validator.
  const YAML::Node inputs_node = root["inputs"];
  // The other keys' values are the nodes of "root" (a clone would lose their lines).
  YAML::Node top(YAML::NodeType::Map);
  for (const auto& kv : root) {
    if (kv.first.Scalar() != "inputs") top[kv.first.Scalar()] = kv.second;
  }
  std::vector<OptionSpec> top_table;
  for (const auto& spec : TopLevelOptionTable()) {
    if (spec.name != "inputs") top_table.push_back(spec);
  }
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    if (key == "inputs") continue;
    bool known = false;
    for (const auto& spec : TopLevelOptionTable()) known |= spec.name == key;
    if (!known) {
      std::string names;
      for (const auto& spec : TopLevelOptionTable()) {
        names += (names.empty() ? "" : ", ") + std::string(spec.name);
      }
      return AtLine(Status::InvalidArgument(key + ": unknown key; expected one of: " + names),
                    kv.first);
    }
  }
  ASSIGN_OR_RETURN(OptionValues values, ValidateSection(top, top_table, "", AgentSectionTables()));
  AgentConfig config;
  for (std::string server : values.List("server")) {
    if (!server.starts_with("http://") && !server.starts_with("https://")) {
      return Status::InvalidArgument("server: expected an http:// or https:// URL, got '" + server +
                                     "'");
    }
    while (server.ends_with("/")) server.pop_back();
    if (std::find(config.servers.begin(), config.servers.end(), server) != config.servers.end()) {
      return Status::InvalidArgument("server: '" + server + "' is listed twice");
    }
    config.servers.push_back(server);
    config.server += (config.server.empty() ? "" : ", ") + server;
  }
  if (config.servers.empty()) {
    return Status::InvalidArgument(
        "server: expected an http:// or https:// URL, or a list of them");
  }
  config.token = values.String("token");
  config.agent_id = values.String("agent_id");
  config.host = values.String("host");
  config.fields = values.Map("fields");
  config.max_line_bytes = values.Bytes("max_line_bytes");
  if (config.max_line_bytes < 256 || config.max_line_bytes > (200 << 10)) {
    return Status::InvalidArgument(
        "max_line_bytes: expected 256B to 200KiB (the server cuts longer lines), got " +
        std::to_string(config.max_line_bytes));
  }
  config.memory_limit = values.Bytes("memory_limit");
  if (config.memory_limit < (16 << 20)) {
    return Status::InvalidArgument("memory_limit: expected at least 16MiB");
  }
  const OptionValues& spool = values.Section("spool");
  if (!values.Has("spool") || spool.String("path").empty()) {
    return Status::InvalidArgument("spool.path: required key is missing (directory of the spool)");
  }
  config.spool_path = spool.String("path");
  config.spool_max_bytes = spool.Bytes("max_bytes");
  if (config.spool_max_bytes < (64 << 10)) {
    return Status::InvalidArgument("spool.max_bytes: expected at least 64KiB, got " +
                                   std::to_string(config.spool_max_bytes));
  }
  config.drain_lines_per_sec = static_cast<uint64_t>(spool.Int("drain_rate"));
  const OptionValues& batch = values.Section("batch");
  config.batch_max_lines = static_cast<uint64_t>(batch.Int("max_lines"));
  config.batch_max_wait_ns = batch.DurationNs("max_wait");
  config.batch_max_bytes = batch.Bytes("max_bytes");
  config.zstd_level = static_cast<int>(batch.Int("zstd_level"));
  if (config.batch_max_lines == 0) {
    return Status::InvalidArgument("batch.max_lines: expected at least 1");
  }
  if (config.batch_max_bytes < config.max_line_bytes * 2 || config.batch_max_bytes > (64 << 20)) {
    return Status::InvalidArgument(
        "batch.max_bytes: expected between twice max_line_bytes and 64MiB");
  }
  if (config.zstd_level < 1 || config.zstd_level > 19) {
    return Status::InvalidArgument("batch.zstd_level: expected 1 to 19");
  }
  const OptionValues& rate = values.Section("rate_limit");
  config.rate_lines_per_sec = static_cast<uint64_t>(rate.Int("lines_per_sec"));
  config.rate_burst = static_cast<uint64_t>(rate.Int("burst"));
  const OptionValues& retry = values.Section("retry");
  config.backoff_max_ns = retry.DurationNs("max_backoff");
  config.request_timeout_ns = retry.DurationNs("request_timeout");
  config.failures_before_drop = static_cast<uint64_t>(retry.Int("failures_before_drop"));
  if (config.backoff_max_ns < 100'000'000) {
    return Status::InvalidArgument("retry.max_backoff: expected at least 100ms");
  }
  if (config.request_timeout_ns < 100'000'000) {
    return Status::InvalidArgument("retry.request_timeout: expected at least 100ms");
  }
  const OptionValues& redact = values.Section("redact");
  config.redact_enabled = redact.Bool("enabled");
  config.redact.credit_cards = redact.Bool("credit_cards");
  config.redact.emails = redact.Bool("emails");
  config.redact.us_ssn = redact.Bool("us_ssn");
  config.redact.patterns = redact.List("patterns");
  auto redactor = ingest::Redactor::Create(config.redact);
  if (!redactor.ok()) return redactor.status();
  const OptionValues& status = values.Section("status");
  config.status_file = status.String("file");
  if (config.status_file.empty()) config.status_file = config.spool_path + "/status.json";
  config.metrics_listen = status.String("metrics_listen");
  const OptionValues& tls = values.Section("tls");
  config.tls.ca_file = tls.String("ca_file");
  config.tls.cert_file = tls.String("cert_file");
  config.tls.key_file = tls.String("key_file");
  config.tls.insecure_skip_verify = tls.Bool("insecure_skip_verify");
  if (config.tls.cert_file.empty() != config.tls.key_file.empty()) {
    return Status::InvalidArgument("tls.cert_file and tls.key_file go together");
  }
  for (const auto& [key, file] :
       {std::pair<const char*, const std::string&>{"tls.ca_file", config.tls.ca_file},
        {"tls.cert_file", config.tls.cert_file},
        {"tls.key_file", config.tls.key_file}}) {
    if (!file.empty() && !std::ifstream(file)) {
      return Status::InvalidArgument(std::string(key) + ": cannot read " + file + ": " +
                                     std::strerror(errno));
    }
  }

  if (!inputs_node.IsDefined() || !inputs_node.IsSequence() || inputs_node.size() == 0) {
    return Status::InvalidArgument("inputs: expected a list of at least one input");
  }
  for (size_t i = 0; i < inputs_node.size(); ++i) {
    std::string path = "inputs[" + std::to_string(i) + "]";
    const YAML::Node& item = inputs_node[i];
    if (!item.IsMap()) return Status::InvalidArgument(path + ": expected a mapping");
    if (!item["type"].IsDefined() || !item["type"].IsScalar()) {
      return Status::InvalidArgument(path + ".type: required key is missing (file|stdin|syslog)");
    }
    std::string type = item["type"].Scalar();
    const std::vector<OptionSpec>* table = InputOptionTable(type);
    if (table == nullptr) {
      return Status::InvalidArgument(path + ".type: expected one of file|stdin|syslog, got '" +
                                     type + "'");
    }
    ASSIGN_OR_RETURN(OptionValues input, ValidateSection(item, *table, path, AgentSectionTables()));
    if (input.String("parser") == "regex" && input.String("pattern").empty()) {
      return Status::InvalidArgument(path + ".pattern: required when parser is regex");
    }
    // Compile the input's patterns now, so that --check catches a bad regex too.
    auto context = MakeInputContext(input, config.max_line_bytes);
    if (!context.ok()) return context.status();
    config.inputs.push_back(std::move(input));
  }
  return config;
}

}  // namespace

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read configuration file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto config = ParseAgentConfig(text.str());
  if (!config.ok()) return config.status().WithContext(path);
  return config;
}

std::string DescribeAllOptions() {
  std::string out = "### Top level\n\n" + DescribeOptions(TopLevelOptionTable());
  for (const auto& [name, table] : AgentSectionTables()) {
    out += "\n### `" + name + "`\n\n" + DescribeOptions(*table);
  }
  for (std::string_view type : {"file", "stdin", "syslog"}) {
    out += "\n### input `type: " + std::string(type) + "`\n\n" +
           DescribeOptions(*InputOptionTable(type));
  }
  return out;
}

namespace {

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

// One input's values in table order, as YAML.
void DescribeValues(const OptionValues& values, const std::vector<OptionSpec>& table,
                    const std::string& indent, std::string* out) {
  for (const OptionSpec& spec : table) {
    if (!values.Has(spec.name)) continue;
    *out += indent + std::string(spec.name) + ":";
    switch (spec.type) {
      case OptionType::kString:
      case OptionType::kEnum: *out += " " + Quote(values.String(spec.name)) + "\n"; break;
      case OptionType::kBool: *out += values.Bool(spec.name) ? " true\n" : " false\n"; break;
      case OptionType::kInt:
      case OptionType::kBytes: *out += " " + std::to_string(values.Int(spec.name)) + "\n"; break;
      case OptionType::kDuration:
        *out += " " + std::to_string(values.DurationNs(spec.name) / 1'000'000) + "ms\n";
        break;
      case OptionType::kStringList: {
        *out += " [";
        const auto& list = values.List(spec.name);
        for (size_t i = 0; i < list.size(); ++i) *out += (i ? ", " : "") + Quote(list[i]);
        *out += "]\n";
        break;
      }
      case OptionType::kMap: {
        *out += " {";
        const auto& map = values.Map(spec.name);
        for (size_t i = 0; i < map.size(); ++i) {
          *out += (i ? ", " : "") + Quote(map[i].first) + ": " + Quote(map[i].second);
        }
        *out += "}\n";
        break;
      }
      case OptionType::kSection: {
        *out += "\n";
        auto tables = AgentSectionTables();
        auto it = tables.find(spec.name);
        if (it != tables.end())
          DescribeValues(values.Section(spec.name), *it->second, indent + "  ", out);
        break;
      }
    }
  }
}

}  // namespace

std::string DescribeEffectiveConfig(const AgentConfig& config) {
  std::string out = "# effective configuration (defaults applied)\n";
  out += "server: [";
  for (size_t i = 0; i < config.servers.size(); ++i) {
    out += (i ? ", " : "") + Quote(config.servers[i]);
  }
  out += "]\n";
  out += std::string("token: ") + (config.token.empty() ? "(none)" : "(set, not shown)") + "\n";
  out +=
      "tls: {ca_file: " + Quote(config.tls.ca_file.empty() ? "(system CAs)" : config.tls.ca_file) +
      ", cert_file: " + Quote(config.tls.cert_file) +
      ", insecure_skip_verify: " + (config.tls.insecure_skip_verify ? "true" : "false") + "}\n";
  out += "spool: {path: " + Quote(config.spool_path) +
         ", max_bytes: " + std::to_string(config.spool_max_bytes) + "}\n";
  out += "batch: {max_lines: " + std::to_string(config.batch_max_lines) +
         ", max_bytes: " + std::to_string(config.batch_max_bytes) +
         ", max_wait: " + std::to_string(config.batch_max_wait_ns / 1'000'000) + "ms}\n";
  out += "rate_limit: {lines_per_sec: " + std::to_string(config.rate_lines_per_sec) +
         (config.rate_lines_per_sec == 0 ? " (unlimited)" : "") + "}\n";
  out += std::string("redact: ") + (config.redact_enabled ? "on" : "off") + "\n";
  out += "inputs:\n";
  for (const OptionValues& input : config.inputs) {
    const std::string& type = input.String("type");
    out += "  - # " + input.path() + "\n";
    const std::vector<OptionSpec>* table = InputOptionTable(type);
    if (table != nullptr) DescribeValues(input, *table, "    ", &out);
    if (type != "file") continue;
    std::vector<std::string> files = MatchingFiles(input.List("paths"), input.List("exclude"));
    out += "    # files matched now: " + std::to_string(files.size()) + "\n";
    for (const std::string& file : files) out += "    #   " + file + "\n";
  }
  return out;
}

}  // namespace sawmill::agent
