// Differential test of searches over messages whose times a segment stores as numbers
// (kTimeText, format version 13): the words and phrases of a search are tested on the text
// without its times where they cannot touch them (SegmentReader::KeepRowsWithMessage, the
// executor's NarrowByText), and only the other rows have their times rendered first. Every
// answer must be the record-by-record evaluation's (BruteForce) on the raw lines, for the words
// of the times themselves (numbers, month and weekday names), words right before and after
// them, and phrases across them, on every real dataset.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "index/tokenizer.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/test_dataset.h"

namespace sawmill::query {
namespace {

using testing::BuildSnapshot;
using testing::TempDir;

std::vector<uint64_t> Seqs(const std::vector<Record>& hits) {
  std::vector<uint64_t> out;
  for (const Record& r : hits) out.push_back(r.seq);
  return out;
}

// The queries: from lines spread over the records, each of their first nine words, a prefix of
// it, the pairs and triples of adjacent words, and pairs of words two to seven apart as phrases
// (across a time of up to six words: as stored without it they are adjacent); two words and a
// phrase and a word together; and the times' own words.
std::vector<std::string> Queries(const std::vector<Record>& records, uint32_t seed) {
  std::set<std::string> out = {"mar",     "dec", "may",   "sun",        "ma*",          "de*",
                               "2015",    "13",  "0000",  "\"mar 27\"", "\"may 2015\"", "\"10 05\"",
                               "NOT mar", "x",   "alice", "\"x ip\""};
  std::mt19937 rng(seed);
  // Lines chosen at random, and the first lines given a word before their time (AddWords).
  std::vector<size_t> lines;
  for (int i = 0; i < 14; ++i) lines.push_back(rng() % records.size());
  for (size_t i : {7, 47, 87, 23, 63, 103}) lines.push_back(i % records.size());
  for (size_t line : lines) {
    std::vector<std::string> w = index::Tokenize(records[line].message);
    w.resize(std::min<size_t>(w.size(), 9));
    for (size_t a = 0; a < w.size(); ++a) {
      out.insert(w[a]);
      if (w[a].size() > 2) out.insert(w[a].substr(0, 2) + "*");
      if (a + 1 < w.size()) out.insert("\"" + w[a] + " " + w[a + 1] + "\"");
      if (a + 2 < w.size()) out.insert("\"" + w[a] + " " + w[a + 1] + " " + w[a + 2] + "\"");
      for (size_t d = 2; d <= 7 && a + d < w.size(); ++d) {
        out.insert("\"" + w[a] + " " + w[a + d] + "\"");
      }
      if (a + 4 < w.size()) {
        out.insert(w[a] + " " + w[a + 4]);
        out.insert("\"" + w[a + 1] + " " + w[a + 2] + "\" " + w[a + 4]);
      }
    }
  }
  return std::vector<std::string>(out.begin(), out.end());
}

// Words right before the lines' times (most lines of the stamped datasets begin with theirs):
// "alice " before every 40th line (from the 8th), and "x" glued to it before every 40th from the
// 24th. As stored without the time, "alice" and the line's first word after the time are
// adjacent, and "x" a word of its own.
void AddWords(std::vector<Record>* records) {
  for (size_t i = 0; i < records->size(); ++i) {
    if (i % 40 == 7) (*records)[i].message.insert(0, "alice ");
    if (i % 40 == 23) (*records)[i].message.insert(0, "x");
  }
}

TEST(TimeTextSearch, WordsAndPhrasesAroundTimesAnswerAsTheRawLinesOnEveryRealDataset) {
  uint32_t seed = 1;
  uint64_t narrowed = 0, queries = 0;
  testing::ForEachRealDataset(6000, [&](std::vector<Record>& records) {
    AddWords(&records);
    TempDir dir("timetext" + std::to_string(seed));
    // Two segments of 2,048-row blocks, every one of the current format (version 13).
    auto snap = BuildSnapshot(records, dir.path(), records.size() / 2 + 1, 0, 2048, 0);
    for (const std::string& base : Queries(records, seed)) {
      for (const std::string& text : {base, base + " | count"}) {
        SCOPED_TRACE(text);
        Result<Query> parsed = ParseQuery(text);
        ASSERT_TRUE(parsed.ok()) << parsed.status().message();
        auto query = std::make_shared<const Query>(std::move(*parsed));
        ExecOptions o = testing::AllTime();
        o.limit = 100;
        ExecResult planned = Execute(snap, query, o);
        ExecResult brute = BruteForce(records, *query, o);
        EXPECT_FALSE(planned.partial);
        EXPECT_EQ(planned.rows, brute.rows);
        EXPECT_EQ(Seqs(planned.hits), Seqs(brute.hits));
        narrowed += planned.stats.rows_from_columns;
        ++queries;
      }
    }
    ++seed;
  });
  EXPECT_GT(queries, 1000u);
  // The words were tested on the messages alone: rows were ruled out before becoming records.
  EXPECT_GT(narrowed, 0u);
}

}  // namespace
}  // namespace sawmill::query
