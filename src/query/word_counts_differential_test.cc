// Differential tests of `word | count` for words too frequent to post (issue 19): the word
// postings' rows of such a word in each block (format version 3 of the kind) make its count the
// sum over the blocks inside the query's time range, and only the blocks the range cuts are
// read. Every count must equal the record-by-record count (BruteForce) on every real dataset, the
// loghub mix and the benchmark corpus, with hot and warm segments, segments without the counts
// (format 2, word postings version 1) and a memtable mixed in, over all time and over ranges that
// cut blocks on ingest_ts and on ts. And the counts must really be used: over all time such a
// count reads no row and no block, and over a cut range it reads only the rows of cut blocks.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>

#include "corpus_generator.h"
#include "index/tokenizer.h"
#include "index/word_hash.h"
#include "query/corpus_records.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/test_dataset.h"
#include "query/time_range.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"

namespace sawmill::query {
namespace {

using testing::AllTime;
using testing::BuildSnapshot;
using testing::ForEachRealDataset;
using testing::TempDir;

struct Outcome {
  ExecResult planned, brute;
};

Outcome Count(std::shared_ptr<const storage::Snapshot> snap, const std::vector<Record>& records,
              const std::string& word, const ExecOptions& o) {
  const std::string text = "\"" + word + "\" | count";
  Result<Query> parsed = ParseQuery(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  if (!parsed.ok()) return {};
  auto query = std::make_shared<const Query>(std::move(*parsed));
  return Outcome{Execute(snap, query, o), BruteForce(records, *query, o)};
}

// The words of the records' messages by the number of records holding each, most first.
std::vector<std::pair<size_t, std::string>> WordsByRows(const std::vector<Record>& records) {
  std::map<std::string, size_t> rows;
  for (const Record& r : records) {
    std::vector<std::string> words = index::Tokenize(r.message);
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    for (const std::string& w : words) ++rows[w];
  }
  std::vector<std::pair<size_t, std::string>> out;
  for (const auto& [w, n] : rows) {
    if (!index::IsNumberWord(w)) out.emplace_back(n, w);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  return out;
}

// The most frequent words (counted per block in every segment that has the counts), and words
// in 20 to 200 rows (counted in some segments, posted in others), upper-cased half the time.
std::vector<std::string> DrawWords(const std::vector<Record>& records, std::mt19937* rng) {
  std::vector<std::pair<size_t, std::string>> by_rows = WordsByRows(records);
  std::vector<std::string> out, middle;
  for (size_t i = 0; i < by_rows.size() && i < 6; ++i) out.push_back(by_rows[i].second);
  for (const auto& [n, w] : by_rows) {
    if (n >= 20 && n <= 200) middle.push_back(w);
  }
  for (int i = 0; i < 4 && !middle.empty(); ++i) out.push_back(middle[(*rng)() % middle.size()]);
  for (size_t i = 1; i < out.size(); i += 2) {
    for (char& c : out[i]) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    }
  }
  return out;
}

// Time ranges over the records' span that cut blocks: random starts and lengths, on ingest_ts
// and on ts, and ranges whose ends fall on a record's time and 1 ns either side.
std::vector<ExecOptions> CuttingRanges(const std::vector<Record>& records, std::mt19937* rng) {
  std::vector<ExecOptions> out;
  for (bool on_ts : {false, true}) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const Record& r : records) {
      const int64_t t = on_ts ? r.ts : r.ingest_ts;
      lo = std::min(lo, t);
      hi = std::max(hi, t);
    }
    if (hi <= lo) continue;
    const uint64_t span = static_cast<uint64_t>(hi - lo);
    for (int i = 0; i < 3; ++i) {
      ExecOptions o;
      const int64_t from = lo + static_cast<int64_t>((*rng)() % span);
      o.range = {from, from + 1 + static_cast<int64_t>((*rng)() % (span / 2 + 1)), false};
      o.time_field_ts = on_ts;
      out.push_back(o);
    }
    const Record& a = records[records.size() / 5];
    const Record& b = records[records.size() * 3 / 5];
    for (int64_t d : {int64_t{-1}, int64_t{0}, int64_t{1}}) {
      ExecOptions o;
      const int64_t ta = on_ts ? a.ts : a.ingest_ts, tb = on_ts ? b.ts : b.ingest_ts;
      o.range = {std::min(ta, tb) + d, std::max(ta, tb) + d, false};
      o.time_field_ts = on_ts;
      out.push_back(o);
    }
  }
  return out;
}

// The rows of the blocks of "snap"'s segments that "o"'s range cuts (holds some of, not all):
// the most a count from block counts may read there.
uint64_t RowsOfCutBlocks(const storage::Snapshot& snap, const ExecOptions& o) {
  uint64_t rows = 0;
  for (const storage::SegmentHandle& h : snap.segments) {
    auto reader = h.open();
    if (!reader.ok()) continue;
    for (const segment::BlockInfo& b : (*reader)->blocks()) {
      const int64_t lo = o.time_field_ts ? b.min_ts : b.min_ingest_ts;
      const int64_t hi = o.time_field_ts ? b.max_ts : b.max_ingest_ts;
      const bool meets = hi >= o.range.from_ns && lo < o.range.to_ns;
      const bool within = lo >= o.range.from_ns && hi < o.range.to_ns;
      if (meets && !within) rows += b.rows;
    }
  }
  return rows;
}

// Segments of "records" in the warm tier's encoding (WarmWriterOptions, with "block_rows"-row
// blocks so that a segment has several, and the default zstd levels: no answer depends on them),
// with the counts per block as the warm tier writes them in segments of more than one of its
// blocks.
std::shared_ptr<storage::Snapshot> WarmSnapshot(const std::vector<Record>& records,
                                                const std::string& dir, size_t per_segment,
                                                uint32_t block_rows) {
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  segment::WriterOptions warm = segment::WarmWriterOptions();
  warm.block_rows = warm.time_slice_rows = block_rows;
  warm.text_zstd_level = warm.other_zstd_level = warm.metadata_zstd_level = 0;
  warm.word_postings.counts_above_rows = 0;
  // As the warm tier does relative to its blocks: words without a digit from one row on in
  // segments of more than one block.
  warm.word_postings.letter_words_above_rows = block_rows;
  uint64_t id = 1;
  for (size_t start = 0; start < records.size(); start += per_segment, ++id) {
    std::vector<Record> part(
        records.begin() + static_cast<long>(start),
        records.begin() + static_cast<long>(std::min(records.size(), start + per_segment)));
    segment::SegmentInfo info;
    info.id = id;
    info.tenant = "default";
    const std::string path = dir + "/warm" + std::to_string(id) + ".seg";
    auto h = testing::OpenedSegment(path, info, std::move(part), warm);
    if (h) snap->segments.push_back(std::move(*h));
  }
  return snap;
}

// What the checks saw: queries run, counts over all time answered from the block counts, and
// rows read for counts over cut ranges.
struct Totals {
  uint64_t queries = 0, from_block_counts = 0, cut_reads = 0;
};

// Every drawn word's count over all time and cutting ranges equals the brute force's, on a
// mixed snapshot (hot, warm, format 2, word postings version 1, a memtable); then, on snapshots
// of hot segments only and of warm segments only (all with the counts), a count over all time
// reads no row and no block, and one over a cut range reads no more than the cut blocks' rows.
void CheckRecords(const std::vector<Record>& records, const std::string& name, uint32_t seed,
                  Totals* totals) {
  std::mt19937 rng(seed);
  const std::vector<std::string> words = DrawWords(records, &rng);
  const std::vector<ExecOptions> ranges = CuttingRanges(records, &rng);
  const size_t per_segment = records.size() / 5 + 1;
  {
    TempDir dir("wordcounts_mixed_" + name);
    auto snap = BuildSnapshot(records, dir.path(), per_segment, records.size() / 20, 256, 3);
    for (const std::string& w : words) {
      for (size_t i = 0; i <= ranges.size(); ++i) {
        const ExecOptions o = i == 0 ? AllTime() : ranges[i - 1];
        SCOPED_TRACE(name + " mixed: " + w + " range " + std::to_string(i));
        Outcome run = Count(snap, records, w, o);
        EXPECT_FALSE(run.planned.partial);
        ASSERT_EQ(run.planned.rows, run.brute.rows);
        ++totals->queries;
      }
    }
  }
  TempDir dir("wordcounts_" + name);
  std::shared_ptr<storage::Snapshot> snaps[2] = {
      BuildSnapshot(records, dir.path(), per_segment, 0, 256, 0),
      WarmSnapshot(records, dir.path(), per_segment, 512)};
  for (int tier = 0; tier < 2; ++tier) {
    for (const std::string& w : words) {
      SCOPED_TRACE(name + (tier == 0 ? " hot: " : " warm: ") + w);
      Outcome all = Count(snaps[tier], records, w, AllTime());
      ASSERT_EQ(all.planned.rows, all.brute.rows);
      if (all.planned.plan.find("counts per block") != std::string::npos) {
        ++totals->from_block_counts;
        // Every segment posts the word or counts it: nothing is read.
        if (all.planned.stats.rows_scanned == 0) {
          EXPECT_EQ(all.planned.stats.blocks_read, 0u);
          EXPECT_EQ(all.planned.stats.bytes_read_compressed, 0u);
          EXPECT_EQ(all.planned.stats.rows_counted_from_index, all.brute.stats.rows_matched);
        }
      }
      for (const ExecOptions& o : ranges) {
        Outcome cut = Count(snaps[tier], records, w, o);
        ASSERT_EQ(cut.planned.rows, cut.brute.rows);
        ++totals->queries;
        if (all.planned.stats.rows_scanned == 0) {
          EXPECT_LE(cut.planned.stats.rows_scanned, RowsOfCutBlocks(*snaps[tier], o));
          totals->cut_reads += cut.planned.stats.rows_scanned;
        }
      }
    }
    // The most frequent word is counted per block somewhere and then reads no row at all.
    Outcome top = Count(snaps[tier], records, words[0], AllTime());
    EXPECT_NE(top.planned.plan.find("counts per block"), std::string::npos) << top.planned.plan;
    EXPECT_EQ(top.planned.stats.rows_scanned, 0u) << top.planned.plan;
    EXPECT_EQ(top.planned.stats.blocks_read, 0u);
  }
}

TEST(WordCountsDifferential, EveryRealDatasetAndTheLoghubMix) {
  Totals totals;
  uint32_t seed = 19;
  ForEachRealDataset(6000, [&](std::vector<Record>& records) {
    if (WordsByRows(records).size() < 10) return;  // JSON lines without a message
    CheckRecords(records, "real" + std::to_string(seed), seed, &totals);
    ++seed;
  });
  std::vector<Record> loghub = testing::LoadDataset();
  ASSERT_GT(loghub.size(), 5000u) << "dataset missing under " << testing::SharedDir();
  CheckRecords(loghub, "loghub", 7, &totals);
  EXPECT_GT(totals.queries, 1000u);
  EXPECT_GT(totals.from_block_counts, 20u);
  EXPECT_GT(totals.cut_reads, 0u);  // the cut ranges did cut blocks
}

// The benchmark corpus (bench/corpus_generator.h, as bench_query loads it): its common word
// (about 12 % of lines) and rare word, and the most frequent words.
TEST(WordCountsDifferential, GeneratedCorpus) {
  TempDir dir("wordcounts_corpus");
  bench::CorpusFacts facts;
  const std::vector<Record> records =
      testing::GeneratedCorpusRecords(30000, dir.path() + "/corpus.ndjson", &facts);
  ASSERT_EQ(records.size(), 30000u);
  Totals totals;
  CheckRecords(records, "corpus", 2026, &totals);
  TempDir one("wordcounts_corpus_one");
  auto snap = BuildSnapshot(records, one.path(), 10000, 500, 2048, 3);
  std::mt19937 rng(5);
  std::vector<ExecOptions> ranges = CuttingRanges(records, &rng);
  ranges.insert(ranges.begin(), AllTime());
  for (const std::string& w : {facts.common_word, facts.rare_word}) {
    for (const ExecOptions& o : ranges) {
      SCOPED_TRACE(w);
      Outcome run = Count(snap, records, w, o);
      ASSERT_EQ(run.planned.rows, run.brute.rows);
    }
  }
  Outcome common = Count(snap, records, facts.common_word, AllTime());
  EXPECT_GT(common.brute.stats.rows_matched, records.size() / 20);
  EXPECT_NE(common.planned.plan.find("counts per block"), std::string::npos);
  EXPECT_GT(totals.from_block_counts, 5u);
}

// A word in one or two rows of a large segment (the benchmark corpus's rare word is in 1 or 2
// rows of each compacted segment of hundreds of thousands at 10,000,000 lines): under the default
// rule a word without a digit is posted from one row on in any segment above 8,192 rows, so its
// count comes from postings (no row, no block read) and its newest hits read only its own rows,
// no block scanned whole. Words with a digit (ids, hex) stay below min_rows: the blooms and a
// read of their blocks answer them, as the brute force does. Under the rule before
// (letter_words_above_rows never) the same counts read every row of their blocks.
TEST(WordCountsDifferential, OneRowWordsOfALargeSegmentComeFromPostings) {
  TempDir dir("wordcounts_large");
  bench::CorpusFacts facts;
  const std::vector<Record> records =
      testing::GeneratedCorpusRecords(30000, dir.path() + "/corpus.ndjson", &facts);
  ASSERT_EQ(records.size(), 30000u);
  // Words of one or two rows, with and without a digit (numbers are never posted), the
  // corpus's rare word first.
  std::vector<std::pair<size_t, std::string>> by_rows = WordsByRows(records);
  std::vector<std::string> letters = {facts.rare_word}, digits;
  std::map<std::string, size_t> rows_of;
  for (const auto& [n, w] : by_rows) {
    rows_of[w] = n;
    if (n > 2) continue;
    (index::IsLetterWord(w) ? letters : digits).push_back(w);
  }
  ASSERT_LE(rows_of[facts.rare_word], 2u);
  ASSERT_GT(letters.size(), 20u);
  ASSERT_GT(digits.size(), 20u);
  std::mt19937 rng(1919);
  std::shuffle(letters.begin() + 1, letters.end(), rng);
  std::shuffle(digits.begin(), digits.end(), rng);
  letters.resize(20);
  digits.resize(10);
  index::WordPostingsRule before = segment::DefaultWordPostingsRule();
  before.letter_words_above_rows = UINT64_MAX;
  TempDir one("wordcounts_large_one"), old("wordcounts_large_before");
  // One segment of the 30,000 rows in default 8,192-row blocks (no memtable, no old layout).
  auto snap = BuildSnapshot(records, one.path(), records.size(), 0, 8192, 0);
  auto snap_before = BuildSnapshot(records, old.path(), records.size(), 0, 8192, 0, &before);
  ExecOptions newest = AllTime();
  newest.limit = 100;
  uint64_t read_before = 0;
  for (const std::string& w : letters) {
    SCOPED_TRACE("letter word " + w);
    Outcome count = Count(snap, records, w, AllTime());
    ASSERT_EQ(count.planned.rows, count.brute.rows);
    EXPECT_EQ(count.brute.stats.rows_matched, rows_of[w]);
    EXPECT_EQ(count.planned.stats.rows_scanned, 0u) << count.planned.plan;
    EXPECT_EQ(count.planned.stats.blocks_read, 0u);
    EXPECT_EQ(count.planned.stats.rows_counted_from_index, rows_of[w]);
    auto query = std::make_shared<const Query>(*ParseQuery("\"" + w + "\""));
    ExecResult page = Execute(snap, query, newest);
    ExecResult brute = BruteForce(records, *query, newest);
    ASSERT_EQ(page.hits.size(), brute.hits.size());
    for (size_t i = 0; i < page.hits.size(); ++i) EXPECT_EQ(page.hits[i].seq, brute.hits[i].seq);
    // Only the word's own rows are looked at: no block scanned whole.
    EXPECT_LE(page.stats.rows_scanned, rows_of[w]) << page.plan;
    EXPECT_LE(page.stats.blocks_read, rows_of[w]);
    read_before += Count(snap_before, records, w, AllTime()).planned.stats.rows_scanned;
  }
  // The rule before read the words' blocks whole (8,192 rows each, the last 5,424).
  EXPECT_GE(read_before, 20u * 5424u);
  // The warm tier's segments of more than one block follow the same rule.
  TempDir warm_dir("wordcounts_large_warm");
  auto warm = WarmSnapshot(records, warm_dir.path(), records.size(), 8192);
  for (const std::string& w : letters) {
    SCOPED_TRACE("warm, letter word " + w);
    Outcome count = Count(warm, records, w, AllTime());
    ASSERT_EQ(count.planned.rows, count.brute.rows);
    EXPECT_EQ(count.planned.stats.rows_scanned, 0u) << count.planned.plan;
    EXPECT_EQ(count.planned.stats.rows_counted_from_index, rows_of[w]);
  }
  for (const std::string& w : digits) {
    SCOPED_TRACE("word with a digit " + w);
    Outcome count = Count(snap, records, w, AllTime());
    ASSERT_EQ(count.planned.rows, count.brute.rows);
    auto query = std::make_shared<const Query>(*ParseQuery("\"" + w + "\""));
    ExecResult page = Execute(snap, query, newest);
    ExecResult brute = BruteForce(records, *query, newest);
    ASSERT_EQ(page.hits.size(), brute.hits.size());
    for (size_t i = 0; i < page.hits.size(); ++i) EXPECT_EQ(page.hits[i].seq, brute.hits[i].seq);
  }
  // A word without a digit that no row holds: the postings prove it, nothing is read.
  Outcome absent = Count(snap, records, "nosuchwordanywhere", AllTime());
  EXPECT_EQ(absent.planned.rows, absent.brute.rows);
  EXPECT_EQ(absent.planned.stats.blocks_read, 0u);
}

}  // namespace
}  // namespace sawmill::query
