#include "segment/testdata.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace sawmill::segment::testdata {

namespace {

void Flatten(simdjson::dom::element el, const std::string& prefix, Record* r) {
  using simdjson::dom::element_type;
  switch (el.type()) {
    case element_type::OBJECT: {
      for (auto [key, value] : el.get_object()) {
        std::string name = prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
        Flatten(value, name, r);
      }
      return;
    }
    case element_type::STRING: {
      std::string v(el.get_string().value());
      if (prefix == "message" || prefix == "msg" || prefix == "log") {
        if (r->message.empty()) {
          r->message = v;
          return;
        }
      }
      if (prefix == "trace_id" || prefix == "traceId") {
        r->trace_id = v;
      } else if (prefix == "span_id" || prefix == "spanId") {
        r->span_id = v;
      } else if (prefix == "user_id" || prefix == "userId") {
        r->user_id = v;
      } else if ((prefix == "level" || prefix == "severity") && ParseLevel(v)) {
        r->level = *ParseLevel(v);
      } else {
        r->fields.emplace_back(prefix, v);
      }
      return;
    }
    default: r->fields.emplace_back(prefix, simdjson::to_string(el));
  }
}

// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
std::vector<std::string> SplitCsv(std::string_view line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

std::vector<std::string> ReadLines(const std::string& path, size_t max_lines) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (max_lines != 0 && lines.size() >= max_lines) break;
  }
  return lines;
}

Level SniffLevel(std::string_view line) {
  std::string_view head = line.substr(0, 160);
  if (head.find("ERROR") != std::string_view::npos || head.find("error") != std::string_view::npos)
    return Level::kError;
  if (head.find("WARN") != std::string_view::npos) return Level::kWarn;
  if (head.find("INFO") != std::string_view::npos) return Level::kInfo;
  if (head.find("DEBUG") != std::string_view::npos) return Level::kDebug;
  return Level::kUnknown;
}

}  // namespace

std::string SharedDir() {
  if (const char* env = std::getenv("SAWMILL_SHARED_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef SAWMILL_SHARED_DIR
  return SAWMILL_SHARED_DIR;
#else
  return "/work/shared";
#endif
}

std::vector<std::string> RealFiles() {
  return {
      "elastic_apache_access/apache_logs",
      "elastic_auth_log/auth.log",
      "elastic_nginxplus_json/nginxplus_json_logs",
      "loghub_2k/Android/Android_2k.log",
      "loghub_2k/HDFS/HDFS_2k.log",
      "loghub_2k/OpenStack/OpenStack_2k.log",
      "loghub_2k/Mac/Mac_2k.log",
      "mordor_windows_events/empire_shell_net_local_users_2020-09-21192606.json",
      "nezha_k8s_microservice_logs/2023-01-29/08_53_log.csv",
      "otrf_linux_aws/"
      "syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json",
      "pgbadger_postgres/rds.log",
      "cidiff_gha_build_logs/Quick_Checks_/run548/fail.log",
  };
}

std::vector<Dataset> RealDatasets() {
  namespace fs = std::filesystem;
  std::vector<Dataset> out;
  fs::path root = fs::path(SharedDir()) / "data" / "real";
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(root, ec)) {
    if (!dir.is_directory()) continue;
    Dataset d;
    d.name = dir.path().filename().string();
    for (const auto& f : fs::recursive_directory_iterator(dir.path(), ec)) {
      if (!f.is_regular_file()) continue;
      std::string name = f.path().filename().string();
      if (name == "LICENSE" || name.ends_with(".md") || name.ends_with("_structured.csv") ||
          name.ends_with("_templates.csv")) {
        continue;
      }
      d.files.push_back(f.path().string());
    }
    std::sort(d.files.begin(), d.files.end());
    if (!d.files.empty()) out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(),
            [](const Dataset& a, const Dataset& b) { return a.name < b.name; });
  return out;
}

std::string RawText(const std::string& path, size_t max_lines) {
  std::string out;
  for (const std::string& line : ReadLines(path, max_lines)) {
    out += line;
    out += '\n';
  }
  return out;
}

std::vector<Record> LoadDataset(const Dataset& d) {
  std::vector<Record> out;
  for (const std::string& file : d.files) {
    std::vector<Record> records = LoadRecords(file);
    out.insert(out.end(), std::make_move_iterator(records.begin()),
               std::make_move_iterator(records.end()));
  }
  return out;
}

std::vector<Record> LoadRecords(const std::string& path, size_t max_lines, std::string service,
                                std::string host) {
  std::vector<std::string> lines = ReadLines(path, max_lines);
  std::vector<Record> out;
  out.reserve(lines.size());
  bool csv = path.size() > 4 && path.substr(path.size() - 4) == ".csv";
  std::vector<std::string> header;
  size_t slash = path.find_last_of('/');
  if (service.empty()) service = path.substr(slash + 1);
  if (host.empty()) {
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    host = dir.substr(dir.find_last_of('/') + 1);
  }
  simdjson::dom::parser parser;
  int64_t base = 1'700'000'000'000'000'000;
  uint64_t state = 12345;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (csv && i == 0) {
      header = SplitCsv(line);
      continue;
    }
    Record r;
    r.seq = 1000 + i;
    r.ingest_ts = base + static_cast<int64_t>(i) * 1'000'000;
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    // Every 50th line goes back up to 2 ms: out-of-order source timestamps.
    r.ts = r.ingest_ts -
           ((state >> 33) % 50 == 0 ? static_cast<int64_t>((state >> 40) % 3) * 1'000'000 : 0);
    r.service = service;
    r.host = host;
    if (csv) {
      std::vector<std::string> cells = SplitCsv(line);
      for (size_t c = 0; c < cells.size(); ++c) {
        std::string name = c < header.size() ? header[c] : "col" + std::to_string(c);
        if (name == "TraceID") {
          r.trace_id = cells[c];
        } else if (name == "SpanID") {
          r.span_id = cells[c];
        } else if (name == "Log" || name == "log") {
          r.message = cells[c];
        } else {
          r.fields.emplace_back(name, cells[c]);
        }
      }
      r.level = SniffLevel(r.message);
    } else if (!line.empty() && line[0] == '{') {
      simdjson::dom::element doc;
      if (parser.parse(line).get(doc) == simdjson::SUCCESS) {
        Flatten(doc, "", &r);
      } else {
        r.message = line;
        r.flags |= kFlagParseFailed;
      }
    } else {
      r.message = line;
      r.level = SniffLevel(line);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sawmill::segment::testdata
