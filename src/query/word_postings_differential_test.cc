// Differential tests of the message's word postings (index kind word_postings, issue 19): bare
// words, phrases, NOT words and their counts, planned through the postings, must give exactly
// what the record-by-record evaluation (BruteForce, the no-index engine) gives, on every real
// dataset, for random words drawn from the data written in other cases, with punctuation around
// them, unicode words, and 25 KB lines; segments of format version 2 (no word postings) mixed
// in. And the postings must really be used: a posted word's `| count` reads no row, and its
// newest hits read only the rows the postings name.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "common/env.h"
#include "index/tokenizer.h"
#include "index/word_hash.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/test_dataset.h"
#include "segment/segment_file_reader.h"
#include "segment/testdata.h"

namespace sawmill::query {
namespace {

using testing::BuildSnapshot;
using testing::TempDir;

struct Outcome {
  ExecResult planned, brute;
};

Outcome RunQuery(std::shared_ptr<const storage::Snapshot> snap, const std::vector<Record>& records,
                 const std::string& text) {
  Result<Query> parsed = ParseQuery(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  if (!parsed.ok()) return {};
  auto query = std::make_shared<const Query>(std::move(*parsed));
  ExecOptions o = testing::AllTime();
  o.limit = 100;
  return Outcome{Execute(snap, query, o), BruteForce(records, *query, o)};
}

std::vector<uint64_t> Seqs(const std::vector<Record>& hits) {
  std::vector<uint64_t> out;
  for (const Record& r : hits) out.push_back(r.seq);
  return out;
}

void ExpectSame(const Outcome& run, const std::string& text) {
  SCOPED_TRACE(text);
  EXPECT_FALSE(run.planned.partial);
  EXPECT_EQ(run.planned.rows, run.brute.rows);
  EXPECT_EQ(Seqs(run.planned.hits), Seqs(run.brute.hits));
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return s;
}

std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 32);
  return s;
}

// Words of the records' messages with the number of records holding each.
std::map<std::string, size_t> WordRows(const std::vector<Record>& records) {
  std::map<std::string, size_t> rows;
  for (const Record& r : records) {
    std::vector<std::string> words = index::Tokenize(r.message);
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    for (const std::string& w : words) ++rows[w];
  }
  return rows;
}

// Words drawn from the data: rare, middling and common ones, unicode and number words.
std::vector<std::string> DrawWords(const std::map<std::string, size_t>& rows, size_t records,
                                   std::mt19937* rng) {
  std::vector<std::string> rare, middle, unicode, numbers;
  std::vector<std::pair<size_t, std::string>> by_count;
  for (const auto& [w, n] : rows) {
    by_count.emplace_back(n, w);
    if (n <= 3) rare.push_back(w);
    if (n * 1000 >= records && n * 20 <= records) middle.push_back(w);
    if (std::any_of(w.begin(), w.end(),
                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
      unicode.push_back(w);
    if (index::IsNumberWord(w)) numbers.push_back(w);
  }
  std::sort(by_count.rbegin(), by_count.rend());
  std::vector<std::string> out;
  auto pick = [&](const std::vector<std::string>& from, size_t n) {
    for (size_t i = 0; i < n && !from.empty(); ++i) out.push_back(from[(*rng)() % from.size()]);
  };
  pick(rare, 6);
  pick(middle, 4);
  pick(unicode, 2);
  pick(numbers, 2);
  for (size_t i = 0; i < 2 && i < by_count.size(); ++i) out.push_back(by_count[i].second);
  return out;
}

// Queries over the words of "records": each word as written in upper case, capitalised and with
// punctuation around it, negated, counted, combined; phrases of adjacent words from real
// messages (and the same words not adjacent), as found and with the message's own punctuation.
std::vector<std::string> WordQueries(const std::vector<Record>& records, uint32_t seed) {
  std::mt19937 rng(seed);
  std::map<std::string, size_t> rows = WordRows(records);
  std::vector<std::string> words = DrawWords(rows, records.size(), &rng);
  std::vector<std::string> out = {"\"nosuchwordanywhere\" | count", "\"nosuchwordanywhere\""};
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    const std::string& other = words[(i + 1) % words.size()];
    out.push_back("\"" + w + "\"");
    out.push_back("\"" + Upper(w) + "\" | count");
    out.push_back("\"" + Capitalized(w) + "\"");
    out.push_back("\"(" + w + "):\" | count");
    out.push_back("NOT \"" + w + "\" | count");
    out.push_back("NOT \"" + Upper(w) + "\"");
    out.push_back("\"" + w + "\" \"" + other + "\" | count");
    out.push_back("\"" + w + "\" OR \"" + other + "\" | count");
    out.push_back("\"" + w + "\" NOT \"" + other + "\"");
    out.push_back("level=ERROR \"" + w + "\" | count");
    out.push_back("\"" + w + "\" | count by level");
    if (w.size() >= 2 && w[0] >= 'a' && w[0] <= 'z') {
      out.push_back(w.substr(0, std::max<size_t>(2, w.size() / 2)) + "* | count");
    }
  }
  for (int i = 0; i < 12 && !records.empty(); ++i) {
    const std::string& message = records[rng() % records.size()].message;
    std::vector<std::string> tokens = index::Tokenize(message);
    if (tokens.size() < 3) continue;
    size_t at = rng() % (tokens.size() - 2);
    size_t len = 2 + rng() % 2;
    std::string phrase;
    for (size_t k = 0; k < len; ++k) phrase += (k ? " " : "") + tokens[at + k];
    out.push_back("\"" + phrase + "\"");
    out.push_back("\"" + Upper(phrase) + "\" | count");
    out.push_back("NOT \"" + phrase + "\" | count");
    out.push_back("\"" + tokens[at] + " " + tokens[at + 2] + "\" | count");
    // The message's own bytes from the first word of the phrase to the end of the last one.
    std::string lower = message;
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    size_t start = lower.find(tokens[at]);
    size_t end = lower.find(tokens[at + len - 1], start == std::string::npos ? 0 : start);
    if (start != std::string::npos && end != std::string::npos && end >= start) {
      std::string original = message.substr(start, end + tokens[at + len - 1].size() - start);
      if (original.find_first_of("\"\\") == std::string::npos && original.size() < 200) {
        out.push_back("\"" + original + "\" | count");
      }
    }
  }
  return out;
}

// 25 KB lines made of the data's own messages, some starting or ending with "word".
void AddLongLines(std::vector<Record>* records, const std::string& word) {
  std::mt19937 rng(25);
  const size_t n = records->size();
  for (int i = 0; i < 24; ++i) {
    Record r = (*records)[rng() % n];
    std::string text = i % 3 == 0 ? Upper(word) + ": " : "";
    while (text.size() < 25 * 1024) text += (*records)[rng() % n].message + " | ";
    if (i % 3 == 1) text += "(" + word + ")";
    r.message = std::move(text);
    r.seq = records->back().seq + 1;
    r.ingest_ts = records->back().ingest_ts + 1;
    r.ts = r.ingest_ts;
    records->push_back(std::move(r));
  }
}

// The differential check over one set of records: the default rule with old segments and a
// memtable mixed in; then every word posted, where posted words must read no row to count and
// only their own rows to list.
void CheckRecords(const std::vector<Record>& records, const std::string& name, uint32_t seed,
                  uint64_t* counted) {
  std::vector<std::string> queries = WordQueries(records, seed);
  {
    TempDir dir("words_" + name);
    auto snap = BuildSnapshot(records, dir.path(), records.size() / 5 + 1, 100, 512, 3);
    for (const std::string& text : queries) {
      Outcome run = RunQuery(snap, records, text);
      ExpectSame(run, text);
      *counted += run.planned.stats.rows_counted_from_index;
    }
  }
  if (records.size() > 8192) {
    // One segment of several blocks: the default rule leaves words of one or two rows with a
    // digit to the blooms, and posts those without a digit (letter_words_above_rows): their
    // counts read nothing and their hits only their own rows.
    TempDir dir("words_one_" + name);
    auto snap = BuildSnapshot(records, dir.path(), records.size(), 0, 1024, 0);
    for (const std::string& text : queries) ExpectSame(RunQuery(snap, records, text), text);
    size_t checked = 0;
    for (const auto& [w, n] : WordRows(records)) {
      if (n > 2 || !index::IsLetterWord(w) || checked++ % 7 != 0) continue;
      SCOPED_TRACE(name + " one segment: " + w);
      Outcome count = RunQuery(snap, records, "\"" + w + "\" | count");
      ExpectSame(count, w + " | count");
      EXPECT_EQ(count.planned.stats.rows_scanned, 0u);
      EXPECT_EQ(count.planned.stats.rows_counted_from_index, n);
      Outcome hits = RunQuery(snap, records, "\"" + Capitalized(w) + "\"");
      ExpectSame(hits, w);
      EXPECT_LE(hits.planned.stats.rows_scanned, n);
    }
    EXPECT_GT(checked, 7u);
  }
  TempDir dir("words_all_" + name);
  const index::WordPostingsRule every_word;  // the defaults post every word
  auto snap = BuildSnapshot(records, dir.path(), records.size() / 4 + 1, 0, 512, 0, &every_word);
  std::mt19937 rng(seed);
  std::map<std::string, size_t> rows = WordRows(records);
  for (const std::string& w : DrawWords(rows, records.size(), &rng)) {
    SCOPED_TRACE(name + ": " + w);
    Outcome count = RunQuery(snap, records, "\"" + Upper(w) + "\" | count");
    ExpectSame(count, w + " | count");
    EXPECT_EQ(count.planned.stats.rows_scanned, 0u);
    EXPECT_EQ(count.planned.stats.blocks_read, 0u);
    EXPECT_EQ(count.planned.stats.rows_counted_from_index, rows[w]);
    Outcome hits = RunQuery(snap, records, "\"" + w + "\"");
    ExpectSame(hits, w);
    // Only the rows the postings name are looked at (and not all of them when the newest 100
    // are found early).
    EXPECT_LE(hits.planned.stats.rows_scanned, rows[w]);
    EXPECT_EQ(hits.planned.stats.rows_matched, hits.planned.stats.rows_scanned);
    Outcome absent = RunQuery(snap, records, "\"nosuchwordanywhere\"");
    EXPECT_EQ(absent.planned.stats.blocks_read, 0u);
    EXPECT_EQ(absent.planned.stats.segments_after_index, 0u);
  }
}

TEST(WordPostingsDifferential, LoghubMixWithLongLines) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u) << "dataset missing under " << testing::SharedDir();
  std::map<std::string, size_t> rows = WordRows(records);
  std::string rare;
  for (const auto& [w, n] : rows) {
    if (n == 2 && !index::IsNumberWord(w)) rare = w;
  }
  ASSERT_FALSE(rare.empty());
  AddLongLines(&records, rare);
  uint64_t counted = 0;
  CheckRecords(records, "loghub", 19, &counted);
  EXPECT_GT(counted, 0u);
  // The long lines' word: found at the start and at the end of 25 KB messages.
  TempDir dir("words_long");
  auto snap = BuildSnapshot(records, dir.path(), 3000, 0, 256, 0);
  Outcome run = RunQuery(snap, records, "\"" + rare + "\" | count");
  ExpectSame(run, rare);
  EXPECT_EQ(run.planned.stats.rows_scanned, 0u);
  EXPECT_GE(run.brute.stats.rows_matched, 2u + 16u);
}

// Segments written before the word postings existed (format version 3 without the kind block,
// as an older build or indexed_fields without "message" write them) answer the same, by reading.
TEST(WordPostingsDifferential, SegmentsWithoutWordPostingsAnswerTheSame) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u);
  TempDir dir("words_none");
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  segment::WriterOptions wo;
  wo.block_rows = 512;
  wo.indexed_fields = {"trace_id", "user_id"};
  for (size_t start = 0, id = 1; start < records.size(); start += 3000, ++id) {
    std::vector<Record> part(
        records.begin() + static_cast<long>(start),
        records.begin() + static_cast<long>(std::min(records.size(), start + 3000)));
    segment::SegmentInfo info;
    info.id = id;
    info.tenant = "default";
    std::string path = dir.path() + "/" + std::to_string(id) + ".seg";
    storage::SegmentHandle h;
    ASSERT_TRUE(
        segment::WriteSegment(Env::Default(), path, info, std::move(part), wo, &h.info).ok());
    auto reader = segment::SegmentReader::Open(Env::Default(), path);
    ASSERT_TRUE(reader.ok());
    std::shared_ptr<segment::SegmentReader> shared = *reader;
    auto* file = dynamic_cast<const segment::SegmentFileReader*>(shared.get());
    ASSERT_NE(file, nullptr);
    for (const segment::KindIndexMeta& k : file->footer().kind_indexes) {
      EXPECT_NE(k.kind, "word_postings");
    }
    h.path = path;
    h.open = [shared]() -> Result<std::shared_ptr<segment::SegmentReader>> { return shared; };
    snap->segments.push_back(std::move(h));
  }
  uint64_t read = 0;
  for (const std::string& text : WordQueries(records, 7)) {
    Outcome run = RunQuery(snap, records, text);
    ExpectSame(run, text);
    EXPECT_EQ(run.planned.stats.rows_counted_from_index, 0u) << text;
    read += run.planned.stats.rows_scanned;
  }
  EXPECT_GT(read, 0u);
}

TEST(WordPostingsDifferential, EveryRealDataset) {
  uint64_t counted = 0;
  uint32_t seed = 1;
  testing::ForEachRealDataset(6000, [&](std::vector<Record>& records) {
    CheckRecords(records, "real" + std::to_string(seed), seed, &counted);
    ++seed;
  });
  EXPECT_GT(counted, 0u);
}

}  // namespace
}  // namespace sawmill::query

namespace sawmill::query {
namespace {

// One segment of "records" in the warm tier's encoding (WarmWriterOptions: the measured word
// postings rule, 65,536-row blocks) with the word postings in "layout" (1 or 2), the kind
// blocks at zstd 19 as in the warm tier, the columns at the default levels (the test stays
// fast; no answer depends on them).
std::shared_ptr<segment::SegmentFileReader> WriteWarm(const std::vector<Record>& records,
                                                      const std::string& path, uint64_t id,
                                                      uint32_t layout) {
  segment::WriterOptions warm = segment::WarmWriterOptions();
  warm.text_zstd_level = warm.other_zstd_level = 0;
  warm.word_postings_version = layout;
  segment::SegmentInfo info;
  info.id = id;
  info.tenant = "default";
  Status st = segment::WriteSegment(Env::Default(), path, info, records, warm, nullptr);
  EXPECT_TRUE(st.ok()) << st.ToString();
  auto reader = segment::SegmentFileReader::OpenFile(Env::Default(), path);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  return reader.ok() ? *reader : nullptr;
}

// The word_postings entry of a segment's footer, or null.
const segment::KindIndexMeta* WordPostingsMeta(const segment::SegmentFileReader& reader) {
  for (const segment::KindIndexMeta& k : reader.footer().kind_indexes) {
    if (k.kind == "word_postings") return &k;
  }
  return nullptr;
}

// Every real dataset in one warm segment with the word postings front-coded in columns (layout
// 2) and as before (layout 1): the footer names each layout; every word of the segment's own
// rows gets the same answer from both, and a posted word exactly the rows whose message the
// tokenizer gives it; and layout 2 is at least 10 % smaller over all datasets.
TEST(WordPostingsDifferential, FrontCodedPostingsRoundTripEveryRealDataset) {
  uint64_t bytes[3] = {0, 0, 0}, posted = 0;
  testing::ForEachRealDataset(20000, [&](std::vector<Record>& records) {
    TempDir dir("words_layouts");
    std::shared_ptr<segment::SegmentFileReader> reader[3];
    for (uint32_t layout : {1u, 2u}) {
      reader[layout] =
          WriteWarm(records, dir.path() + "/" + std::to_string(layout) + ".seg", layout, layout);
      ASSERT_NE(reader[layout], nullptr);
    }
    // The words of the rows as the segment numbers them (its own sorted order).
    std::map<std::string, std::vector<uint32_t>> expected;
    const auto& blocks = reader[2]->blocks();
    for (uint32_t b = 0; b < blocks.size(); ++b) {
      std::vector<Record> rows;
      ASSERT_TRUE(reader[2]->ReadBlock(b, segment::kColMessage, &rows, nullptr).ok());
      for (uint32_t i = 0; i < rows.size(); ++i) {
        std::vector<std::string> words = index::Tokenize(rows[i].message);
        std::sort(words.begin(), words.end());
        words.erase(std::unique(words.begin(), words.end()), words.end());
        for (const std::string& w : words) expected[w].push_back(blocks[b].first_row + i);
      }
    }
    expected["nosuchwordanywhere"];
    for (uint32_t layout : {1u, 2u}) {
      const segment::KindIndexMeta* meta = WordPostingsMeta(*reader[layout]);
      if (meta == nullptr) continue;  // no message words (JSON lines without a message)
      EXPECT_EQ(meta->version, layout);
      bytes[layout] += meta->ref.size;
    }
    for (const auto& [word, rows] : expected) {
      SCOPED_TRACE(word);
      index::FieldPredicate p;
      p.field = "message";
      p.builtin = true;
      p.op = index::FieldPredicate::Op::kWord;
      p.value = word;
      auto v1 = reader[1]->MatchingRows(p);
      auto v2 = reader[2]->MatchingRows(p);
      ASSERT_TRUE(v1.ok() && v2.ok());
      ASSERT_EQ(v1->has_value(), v2->has_value());
      if (!v2->has_value()) continue;
      std::vector<uint32_t> got((*v2)->begin(), (*v2)->end());
      EXPECT_EQ(got, rows);
      EXPECT_TRUE(**v1 == **v2);
      posted += rows.empty() ? 0 : 1;
    }
  });
  EXPECT_GT(posted, 1000u);
  std::printf("word postings blocks of the real datasets: layout 1 %llu bytes, layout 2 %llu\n",
              static_cast<unsigned long long>(bytes[1]), static_cast<unsigned long long>(bytes[2]));
  EXPECT_LT(static_cast<double>(bytes[2]), 0.9 * static_cast<double>(bytes[1]));
}

// Word queries over warm segments (two of every dataset, so the warm rule leaves out the rarest
// words in the first) with the postings in layout 2, then in layout 1: each
// answers as the brute force does, and both answer through their postings alike (the same rows
// counted from the index, the same rows and blocks read).
TEST(WordPostingsDifferential, WarmSegmentsInBothLayoutsEveryRealDataset) {
  uint64_t counted = 0;
  uint32_t seed = 31;
  testing::ForEachRealDataset(14000, [&](std::vector<Record>& records) {
    std::vector<std::string> queries = WordQueries(records, seed++);
    std::vector<QueryStats> stats[3];
    for (uint32_t layout : {2u, 1u}) {
      TempDir dir("words_warm" + std::to_string(layout));
      auto snap = std::make_shared<storage::Snapshot>();
      snap->tenant = "default";
      const size_t cut = std::min<size_t>(records.size(), 10000);
      for (uint64_t id = 1; id <= 2; ++id) {
        std::vector<Record> part(
            records.begin() + (id == 1 ? 0 : static_cast<long>(cut)),
            id == 1 ? records.begin() + static_cast<long>(cut) : records.end());
        if (part.empty()) continue;
        std::string path = dir.path() + "/" + std::to_string(id) + ".seg";
        std::shared_ptr<segment::SegmentReader> shared = WriteWarm(part, path, id, layout);
        ASSERT_NE(shared, nullptr);
        storage::SegmentHandle h;
        h.info = shared->info();
        h.path = path;
        h.open = [shared]() -> Result<std::shared_ptr<segment::SegmentReader>> { return shared; };
        snap->segments.push_back(std::move(h));
      }
      for (const std::string& text : queries) {
        Outcome run = RunQuery(snap, records, text);
        ExpectSame(run, text);
        stats[layout].push_back(run.planned.stats);
        if (layout == 2) counted += run.planned.stats.rows_counted_from_index;
      }
    }
    for (size_t i = 0; i < queries.size(); ++i) {
      SCOPED_TRACE(queries[i]);
      EXPECT_EQ(stats[1][i].rows_counted_from_index, stats[2][i].rows_counted_from_index);
      EXPECT_EQ(stats[1][i].rows_scanned, stats[2][i].rows_scanned);
      EXPECT_EQ(stats[1][i].blocks_read, stats[2][i].blocks_read);
    }
  });
  EXPECT_GT(counted, 0u);
}

}  // namespace
}  // namespace sawmill::query
