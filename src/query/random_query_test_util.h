// Test-only: random queries over a dataset's own vocabulary, for differential tests.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "index/tokenizer.h"
#include "query/executor.h"
#include "query/parser.h"
#include "sawmill/record.h"
#include "storage/engine.h"

namespace sawmill::query::testing {

// One query's answers by the column path, the record path (ExecOptions::columnar off) and the
// record-by-record scan (BruteForce), for differential tests of the column-only aggregations.
struct Runs {
  ExecResult columns, records, brute;
};

inline Runs RunAll(std::shared_ptr<const storage::Snapshot> snap,
                   const std::vector<Record>& records, const std::string& text, ExecOptions o) {
  Result<Query> parsed = ParseQuery(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  auto query = std::make_shared<const Query>(std::move(*parsed));
  Runs out;
  o.columnar = true;
  out.columns = Execute(snap, query, o);
  o.columnar = false;
  out.records = Execute(snap, query, o);
  out.brute = BruteForce(records, *query, o);
  return out;
}

class RandomQueries {
 public:
  RandomQueries(const std::vector<Record>& records, uint32_t seed) : rng_(seed) {
    for (size_t i = 0; i < records.size(); i += 1 + records.size() / 400) {
      const Record& r = records[i];
      services_.push_back(r.service);
      hosts_.push_back(r.host);
      messages_.push_back(r.message);
      if (!r.trace_id.empty()) traces_.push_back(r.trace_id);
    }
    traces_.push_back("0000000000000000");
  }

  std::string Filter(int depth = 0) {
    int kind = Pick(depth > 2 ? 10 : 14);
    switch (kind) {
      case 0: return "service=" + One(services_);
      case 1: return "host=" + One(hosts_);
      case 2:
        return std::string("level") + One<std::string>({"=", ">=", "<", "!="}) +
               One<std::string>({"ERROR", "WARN", "INFO", "FATAL", "DEBUG", "UNKNOWN"});
      case 3: return Word();
      case 4: {
        auto words = index::Tokenize(One(messages_));
        if (words.size() < 2) return Word();
        size_t at = static_cast<size_t>(Pick(static_cast<int>(words.size() - 1)));
        return "\"" + words[at] + " " + words[at + 1] + "\"";
      }
      case 5:
        return "message~\"" +
               One<std::string>({"(?i)error", "^[A-Z]", "[0-9]{4}", "block.*blk", "fail(ed|ure)"}) +
               "\"";
      case 6: return "trace_id=" + One(traces_);
      case 7:
        return One<std::string>({"service=h*",      "service=zoo*",
                                 "trace_id=*",      "user_id=*",
                                 "user_id=user-1",  "component=*",
                                 "nosuch=x",        "nosuch!=x",
                                 "message:*conn*",  "pid=*",
                                 "level=*",         "level!=*",
                                 "user_id!=user-1", "span_id=*",
                                 "host!=hdfs-1",    "service=\"apache\"",
                                 "event_id=E5",     "component~\"^dfs\"",
                                 "pid>=3000",       "user_id=user*",
                                 "level=WARN*",     "host:*-2"});
      case 8: {
        // Numeric comparisons on dynamic fields, which the numeric range index prunes blocks
        // with ("status" and "duration_ms" exist where a test adds them).
        std::string field =
            One<std::string>({"line_id", "line_id", "pid", "status", "duration_ms"});
        std::string op = One<std::string>({">", ">=", "<", "<=", "="});
        std::string value = std::to_string(Pick(2000));
        if (field == "pid") value = std::to_string(Pick(30000));
        if (field == "status") value = One<std::string>({"200", "404", "500", "499.5", "abc"});
        if (field == "duration_ms") {
          value = One<std::string>({value, value + ".5", "-5", "1e3", "2.5e2", "n/a"});
        }
        return field + op + value;
      }
      case 9: return Word() + "*";
      case 10: return "NOT " + Filter(depth + 1);
      case 11: return "(" + Filter(depth + 1) + " OR " + Filter(depth + 1) + ")";
      case 12: return Filter(depth + 1) + " " + Filter(depth + 1);
      default:
        return Filter(depth + 1) + " AND (" + Filter(depth + 1) + " OR NOT " + Filter(depth + 1) +
               ")";
    }
  }

  std::string Pipe() {
    switch (Pick(9)) {
      case 0: return " | count";
      case 1: return " | count by service, level";
      case 2: return " | count by bucket(5m)";
      case 3: return " | count by bucket(10m), level";
      case 4: return " | top 3 host";
      case 5: return " | uniq level";
      case 6: return " | fields seq, service, message";
      case 7: return " | head 7";
      default: return "";
    }
  }

  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }

 private:
  std::string Word() {
    auto words = index::Tokenize(One(messages_));
    if (words.empty()) return "error";
    return words[static_cast<size_t>(Pick(static_cast<int>(words.size())))];
  }
  template <typename T>
  T One(const std::vector<T>& v) {
    return v[static_cast<size_t>(Pick(static_cast<int>(v.size())))];
  }

  std::mt19937 rng_;
  std::vector<std::string> services_, hosts_, messages_, traces_;
};

// The seqs of the hits and the number of pipe rows, for failure messages.
inline std::string Describe(const ExecResult& r) {
  std::string out;
  for (const Record& h : r.hits) out += std::to_string(h.seq) + " ";
  return out + "| rows " + std::to_string(r.rows.size());
}

// Other nodes' parts of a query (cluster fan-out): given the options and the query the local
// part runs with.
using RemoteForTest = std::function<PartAnswer(const ExecOptions&, std::shared_ptr<const Query>)>;

// Runs "iterations" random queries on "snapshot" and compares with a scan of "records". With
// "remote", each query also merges the parts it returns (ExecOptions::remote).
inline void ExpectAgreement(std::shared_ptr<const storage::Snapshot> snapshot,
                            const std::vector<Record>& records, uint32_t partitions, uint32_t seed,
                            int iterations, int64_t start, int64_t span_s,
                            const RemoteForTest& remote = nullptr) {
  WorkerPool pool(2);
  RandomQueries gen(records, seed);
  int nonempty = 0;
  for (int iter = 0; iter < iterations; ++iter) {
    std::string text = gen.Filter() + gen.Pipe();
    Result<Query> parsed = ParseQuery(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
    auto query = std::make_shared<const Query>(std::move(*parsed));
    ExecOptions o;
    int shape = gen.Pick(4);
    o.all_time = shape == 0;
    if (o.all_time) {
      o.range = {INT64_MIN, INT64_MAX, false};
    } else {
      int64_t from =
          start + gen.Pick(static_cast<int>(span_s)) * kNanosPerSecond - 300 * kNanosPerSecond;
      o.range = {from, from + (1 + gen.Pick(60)) * 60 * kNanosPerSecond, false};
    }
    o.time_field_ts = shape == 3;
    o.limit = 1 + static_cast<size_t>(gen.Pick(50));
    o.partitions = partitions;
    o.pool = &pool;
    ExecResult brute = BruteForce(records, *query, o);
    if (remote) o.remote = [&remote, o, query] { return remote(o, query); };
    ExecResult planned = Execute(snapshot, query, o);
    ASSERT_FALSE(planned.partial) << text << ": "
                                  << (planned.warnings.empty() ? "" : planned.warnings[0]);
    ASSERT_EQ(planned.hits.size(), brute.hits.size())
        << text << "\nplanned: " << Describe(planned) << "\nbrute: " << Describe(brute);
    for (size_t i = 0; i < brute.hits.size(); ++i) {
      ASSERT_EQ(planned.hits[i], brute.hits[i]) << text << " hit " << i;
    }
    ASSERT_EQ(planned.rows, brute.rows) << text;
    ASSERT_EQ(planned.is_pipe, brute.is_pipe) << text;
    nonempty += !brute.hits.empty() || !brute.rows.empty();
  }
  EXPECT_GT(nonempty, iterations / 3);
}

}  // namespace sawmill::query::testing
