// The filter index must answer exactly what query::Evaluate answers for every filter on every
// line: differential tests over the real datasets, with rules of the four shapes the alerting
// docs name (service+level, a word, a phrase, a regex), random filters of the whole language,
// and the corners of the prefilters (case folding, non-ASCII words and literals).
#include "alert/filter_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "alert/alert_engine.h"
#include "index/tokenizer.h"
#include "query/evaluator.h"
#include "query/parser.h"
#include "query/random_query_test_util.h"
#include "query/test_dataset.h"

namespace sawmill::alert {
namespace {

// loghub's structured samples plus the first lines of every raw .log file of the real
// datasets, as records of a few services, hosts and levels.
std::vector<Record> RealLines() {
  std::vector<Record> out = query::testing::LoadDataset();
  const std::filesystem::path real = query::testing::SharedDir() + "/data/real";
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(real, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".log") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  const char* kServices[] = {"payments", "checkout", "api", "db"};
  for (size_t f = 0; f < files.size(); ++f) {
    std::ifstream in(files[f]);
    std::string line;
    for (int n = 0; n < 100 && std::getline(in, line); ++n) {
      Record r;
      r.tenant = "default";
      r.service = kServices[(f + n) % 4];
      r.host = "node-" + std::to_string(n % 5);
      r.level = static_cast<Level>(n % kLevelCount);
      r.message = line;
      r.ingest_ts =
          query::testing::kDatasetStart + static_cast<int64_t>(out.size()) * kNanosPerMilli;
      r.ts = r.ingest_ts;
      out.push_back(std::move(r));
    }
  }
  // Corners: letters that fold beyond ASCII, non-ASCII words, an empty message.
  const char* kCorners[] = {
      "Temperature above 5 \xE2\x84\xAA"
      "elvin (sensor KELVIN-3)",  // the Kelvin sign
      "\xC5\xBF"
      "ession expired for user 7",  // the long s
      "Gr\xC3\xB6\xC3\x9F"
      "e \xC3\xBC"
      "berschritten: Speicher voll",
      "GR\xC3\x96\xC3\x9F"
      "E \xC3\x9C"
      "BERSCHRITTEN",
      "connection timed out after 30s; retrying (timeout3)",
      "time out3 connectionout3",
      "",
  };
  for (const char* message : kCorners) {
    for (Level level : {Level::kError, Level::kInfo, Level::kUnknown}) {
      Record r;
      r.tenant = "default";
      r.service = "payments";
      r.host = "node-1";
      r.level = level;
      r.message = message;
      out.push_back(std::move(r));
    }
  }
  return out;
}

// Rules of the four shapes, drawn from the lines' own services, words and text.
std::vector<std::string> ShapedFilters(const std::vector<Record>& records, uint32_t seed, int n) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t size) { return static_cast<size_t>(rng() % size); };
  const char* kLevels[] = {"ERROR", "WARN", "INFO", "DEBUG", "FATAL"};
  std::vector<std::string> out;
  while (static_cast<int>(out.size()) < n) {
    const Record& r = records[pick(records.size())];
    const std::vector<std::string> words = index::Tokenize(r.message);
    if (words.size() < 3) continue;
    const std::string& w = words[pick(words.size())];
    const size_t at = pick(words.size() - 1);
    const std::string service = r.service.empty() ? "api" : r.service;
    switch (out.size() % 4) {
      case 0:
        out.push_back("service=" + service + " level" + (rng() % 3 == 0 ? ">=" : "=") +
                      kLevels[pick(5)]);
        break;
      case 1: out.push_back(rng() % 2 ? w : "service=" + service + " " + w); break;
      case 2:
        out.push_back("\"" + words[at] + " " + words[at + 1] + "\"" +
                      (rng() % 3 == 0 ? " level=ERROR" : ""));
        break;
      default: {
        std::string upper = w;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        const std::string kRegexes[] = {
            "(" + words[at] + "|" + w + ") ?" + words[at + 1],
            w + "[0-9]+",
            "(?i)" + upper,
            "^" + words[0],
            words[at] + ".*" + words[at + 1],
            "(?i:" + w + ")s?",
            w.substr(0, 2),  // too short for a literal: not prefiltered
        };
        std::string filter = "message~\"" + kRegexes[pick(7)] + "\"";
        if (rng() % 2) filter = "service=" + service + " " + filter;
        out.push_back(filter);
      }
    }
  }
  return out;
}

std::vector<query::NodePtr> Parse(const std::vector<std::string>& texts) {
  std::vector<query::NodePtr> nodes;
  for (const std::string& text : texts) {
    auto q = query::ParseQuery(text);
    EXPECT_TRUE(q.ok()) << text << ": " << q.status().ToString();
    nodes.push_back(q.ok() ? q->filter : nullptr);
  }
  return nodes;
}

// Every filter on every line, with Evaluate and with the index; returns the matches counted.
size_t ExpectSameAnswers(const std::vector<std::string>& texts,
                         const std::vector<Record>& records) {
  std::vector<query::NodePtr> nodes = Parse(texts);
  FilterIndex index(nodes);
  FilterIndex::Scratch scratch;
  std::vector<uint32_t> got, want;
  size_t matches = 0;
  int failures = 0;
  for (const Record& r : records) {
    want.clear();
    for (uint32_t id = 0; id < nodes.size(); ++id) {
      if (query::Evaluate(*nodes[id], r)) want.push_back(id);
    }
    got.clear();
    index.Match(r, &scratch, &got);
    std::sort(got.begin(), got.end());
    matches += want.size();
    if (got != want && ++failures <= 5) {
      for (uint32_t id : want) {
        if (!std::binary_search(got.begin(), got.end(), id)) {
          ADD_FAILURE() << "missed: " << texts[id] << " on [" << r.service << "] " << r.message;
        }
      }
      for (uint32_t id : got) {
        if (!std::binary_search(want.begin(), want.end(), id)) {
          ADD_FAILURE() << "wrongly matched (or twice): " << texts[id] << " on " << r.message;
        }
      }
    }
  }
  EXPECT_EQ(failures, 0);
  return matches;
}

TEST(FilterIndex, AnswersWhatEvaluateAnswersForRulesOfTheFourShapesOnRealData) {
  const std::vector<Record> records = RealLines();
  ASSERT_GT(records.size(), 10'000u) << "the real datasets are missing";
  const std::vector<std::string> texts = ShapedFilters(records, 16, 800);
  const size_t matches = ExpectSameAnswers(texts, records);
  // The index did something: most filters are filed under a word or a service, regexes are
  // prefiltered by their literals, and lines matched.
  FilterIndex index(Parse(texts));
  EXPECT_GT(index.stats().by_word, 200u);
  EXPECT_GT(index.stats().by_service, 100u);
  EXPECT_GT(index.stats().regex_prefiltered, 50u);
  EXPECT_GT(index.stats().atom_states, 0u);  // the literals found by the automaton
  EXPECT_GT(matches, 10'000u);
}

TEST(FilterIndex, AnswersWhatEvaluateAnswersForRandomFiltersOfTheWholeLanguage) {
  const std::vector<Record> records = RealLines();
  ASSERT_GT(records.size(), 10'000u) << "the real datasets are missing";
  query::testing::RandomQueries gen(records, 7);
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back(gen.Filter());
  EXPECT_GT(ExpectSameAnswers(texts, records), 10'000u);
}

TEST(FilterIndex, CaseFoldingBeyondAsciiAndNonAsciiWordsAreNotSkipped) {
  const std::vector<Record> records = RealLines();
  const std::vector<std::string> texts = {
      "message~\"(?i)kelvin\"",
      "message~\"(?i)session expired\"",
      "message~\"(?i:KELVIN)-3\"",
      "\"gr\xC3\xB6\xC3\x9F"
      "e\"",
      "Gr\xC3\xB6\xC3\x9F"
      "e",
      "message~\"\xC3\xBC"
      "berschritten\"",
      "message~\"(?i)\xC3\xBC"
      "BERSCHRITTEN\"",
      "message~\"(time|connection) ?out3\"",
      "message~\"timeout3\" level=ERROR",
      "service=payments message~\"^$\"",
      "NOT timeout",
      "timeout OR kelvin",
      "time*",
  };
  ExpectSameAnswers(texts, records);
  // The lines themselves: Evaluate says yes, so must the index.
  FilterIndex index(Parse(texts));
  FilterIndex::Scratch scratch;
  std::vector<uint32_t> got;
  Record kelvin;
  kelvin.service = "payments";
  kelvin.message =
      "Temperature above 5 \xE2\x84\xAA"
      "elvin";
  ASSERT_TRUE(query::Evaluate(*Parse({texts[0]})[0], kelvin)) << "RE2 folds the Kelvin sign";
  index.Match(kelvin, &scratch, &got);
  EXPECT_NE(std::find(got.begin(), got.end(), 0u), got.end()) << "(?i)kelvin on the Kelvin sign";
}

TEST(FilterIndex, LiteralsPastTheAutomatonsSizeAreSoughtOneByOne) {
  const std::vector<Record> records = RealLines();
  ASSERT_GT(records.size(), 10'000u) << "the real datasets are missing";
  // More literal bytes than the automaton's states: every literal is searched for on its own.
  std::vector<std::string> texts;
  for (size_t i = 0; texts.size() < 500 && i < records.size(); i += 31) {
    const std::vector<std::string> words = index::Tokenize(records[i].message);
    if (words.size() < 3) continue;
    // Or a long literal no line holds, distinct per regex: its states fill the automaton.
    texts.push_back("message~\"" + words[0] + ".{1,3}" + words[1] + ".{1,3}" + words[2] +
                    "|padding" + std::to_string(texts.size()) + "literalnolineholdsatall\"");
  }
  FilterIndex index(Parse(texts));
  EXPECT_EQ(index.stats().atom_states, 0u);
  EXPECT_GT(index.stats().regex_prefiltered, 100u);
  EXPECT_GT(ExpectSameAnswers(texts, records), 1'000u);
}

// The engine's counts are the filters run on every line: one rule per filter, half of them
// grouped by host, through OnBatch in batches of 1,000 as the ingest pipeline delivers them.
TEST(FilterIndex, EngineCountsEqualEveryRuleFilterRunOnEveryLine) {
  std::vector<Record> records = RealLines();
  ASSERT_GT(records.size(), 10'000u) << "the real datasets are missing";
  const int64_t now = query::testing::kDatasetStart;
  for (Record& r : records) r.ingest_ts = r.ts = now;
  std::vector<std::string> texts = ShapedFilters(records, 99, 200);
  ManualClock clock(now);
  AlertOptions options;
  options.prime_from_storage = false;
  AlertEngine engine(options, &clock, nullptr, nullptr, nullptr);
  std::vector<Rule> rules;
  for (size_t i = 0; i < texts.size(); ++i) {
    Rule rule;
    rule.name = "r" + std::to_string(i);
    rule.tenant = "default";
    rule.filter = texts[i];
    rule.condition.op = CompareOp::kGt;
    rule.condition.threshold = 1e12;
    rule.window_ns = 3600 * kNanosPerSecond;
    if (i % 2 == 1) rule.group_by = {"host"};
    rules.push_back(rule);
  }
  clock.Advance(-kNanosPerSecond);  // loaded before the lines arrive
  engine.SetRules(rules);
  clock.Advance(kNanosPerSecond);
  for (size_t start = 0; start < records.size(); start += 1000) {
    std::vector<Record> batch(
        records.begin() + static_cast<long>(start),
        records.begin() + static_cast<long>(std::min(records.size(), start + 1000)));
    engine.OnBatch("default", batch);
  }
  engine.OnBatch("other", records);  // another tenant's lines count nowhere
  engine.Evaluate();
  std::vector<query::NodePtr> nodes = Parse(texts);
  uint64_t total = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::map<std::string, uint64_t> want;
    for (const Record& r : records) {
      if (query::Evaluate(*nodes[i], r)) ++want[i % 2 == 1 ? "host=" + r.host : ""];
    }
    std::map<std::string, uint64_t> got;
    for (const RuleStatus& status : engine.Rules("default", "r" + std::to_string(i))) {
      for (const GroupStatus& g : status.groups) {
        if (g.count > 0) got[g.group] = g.count;
      }
    }
    EXPECT_EQ(got, want) << texts[i];
    for (const auto& [group, n] : want) total += n;
  }
  EXPECT_GT(total, 5'000u);
}

}  // namespace
}  // namespace sawmill::alert
