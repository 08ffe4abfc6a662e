// Runs every tests/queries/NNNN_name.q against the fixed dataset (test_dataset.h) with a fixed
// clock and compares the answer with NNNN_name.expected. The folder is read at run time, so a
// new case needs no recompiling. SAWMILL_UPDATE_GOLDEN=1 rewrites the .expected files.
//
// A .q file: optional "# key=value" lines (since, from, to, all_time, limit, time_field, explain),
// then the query (the rest of the file, surrounding whitespace trimmed).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json_string.h"
#include "query/fake_segment_test_util.h"
#include "query/query_engine.h"
#include "query/test_dataset.h"
#include "query/time_range.h"

namespace sawmill::query {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string Render(const Result<SearchResponse>& result) {
  if (!result.ok()) return "error: " + result.status().message() + "\n";
  const SearchResponse& r = *result;
  std::string out;
  if (!r.plan.empty()) {
    out += r.plan;
  } else if (r.is_pipe) {
    for (const Row& row : r.rows) {
      out += "{";
      for (size_t i = 0; i < row.size(); ++i) {
        if (i) out += ",";
        out += JsonString(row[i].first) + ":";
        if (const int64_t* n = std::get_if<int64_t>(&row[i].second)) {
          out += std::to_string(*n);
        } else {
          out += JsonString(std::get<std::string>(row[i].second));
        }
      }
      out += "}\n";
    }
  } else {
    for (const Record& h : r.hits) {
      out += std::to_string(h.seq) + " " + FormatRfc3339(h.ingest_ts) + " " + h.service + " " +
             h.host + " " + std::string(LevelName(h.level)) + " " + h.message + "\n";
    }
  }
  if (r.partial) out += "partial: true\n";
  for (const std::string& w : r.warnings) out += "warning: " + w + "\n";
  if (out.empty()) out = "(no results)\n";
  return out;
}

TEST(GoldenQueries, EveryCaseMatchesItsExpectedOutput) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u) << "dataset missing under " << testing::SharedDir();
  testing::FakeEngine engine(testing::MakeSnapshot("default", records, 4, 3, 500, 256));
  ManualClock clock(testing::kDatasetNow);
  QueryOptions options;
  options.clock = &clock;
  options.worker_threads = 2;
  options.partitions = 4;
  std::unique_ptr<QueryEngine> qe = QueryEngine::Create(&engine, options);

  fs::path dir = fs::path(SAWMILL_SOURCE_DIR) / "tests" / "queries";
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".q") cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  ASSERT_GE(cases.size(), 10u) << "no golden cases in " << dir;
  bool update = std::getenv("SAWMILL_UPDATE_GOLDEN") != nullptr;
  for (const fs::path& qpath : cases) {
    SearchRequest req;
    req.use_cache = false;
    std::istringstream in(ReadFile(qpath));
    std::string line, query;
    while (std::getline(in, line)) {
      if (query.empty() && line.rfind("# ", 0) == 0 && line.find('=') != std::string::npos) {
        std::string kv = line.substr(2);
        std::string key = kv.substr(0, kv.find('=')), value = kv.substr(kv.find('=') + 1);
        if (key == "since")
          req.since = value;
        else if (key == "from")
          req.from = value;
        else if (key == "to")
          req.to = value;
        else if (key == "all_time")
          req.all_time = value == "1";
        else if (key == "limit")
          req.limit = std::stoul(value);
        else if (key == "time_field")
          req.time_field_ts = value == "ts";
        else if (key == "explain")
          req.explain = value == "1";
        else
          ADD_FAILURE() << qpath << ": unknown option " << key;
        continue;
      }
      query += line + "\n";
    }
    req.q = Trim(query);
    std::string actual = Render(qe->Search(req));
    fs::path expected_path = qpath;
    expected_path.replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << actual;
      continue;
    }
    ASSERT_TRUE(fs::exists(expected_path)) << expected_path << " is missing";
    EXPECT_EQ(actual, ReadFile(expected_path)) << "golden case " << qpath.filename();
  }
}

}  // namespace
}  // namespace sawmill::query
