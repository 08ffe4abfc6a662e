// Test-only: random queries over a dataset's own vocabulary, for differential tests.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "index/tokenizer.h"
#include "sawmill/record.h"

namespace sawmill::query::testing {

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
      case 8:
        return "line_id" + One<std::string>({">", ">=", "<", "<="}) + std::to_string(Pick(2000));
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

}  // namespace sawmill::query::testing
