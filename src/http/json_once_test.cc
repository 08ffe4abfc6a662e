// JSON lines stored once (issue 19, "Disk"; segment/json_shape.h): every JSON line of every real
// dataset, normalised by the real normaliser, written to segments and read back by a search, a
// block read of the message alone and of every column, comes back byte for byte; the answers of
// word, phrase, regex and field queries are those of the same lines stored as text (the
// line-stored-twice path, json_shapes = false) and of the record-by-record evaluation; fuzzed
// JSON shapes (whitespace, escapes, unicode, nesting, numbers, duplicate keys) round-trip too;
// segments of the previous format version (3) still read and answer alike.
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "common/env.h"
#include "index/tokenizer.h"
#include "ingest/normalize.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/test_dataset.h"
#include "segment/column_encoding.h"
#include "segment/json_shape.h"
#include "segment/segment_file_reader.h"
#include "segment/testdata.h"

namespace sawmill::query {
namespace {

using testing::TempDir;

constexpr int64_t kBase = 1'700'000'000'000'000'000;

// The lines of "body" as an ingest door splits it: on LF, a CR before the LF dropped, a last
// line without a newline counted.
std::vector<std::string> SplitBody(const std::string& body) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < body.size()) {
    size_t nl = body.find('\n', start);
    size_t end = nl == std::string::npos ? body.size() : nl;
    std::string line = body.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

bool IsJsonLine(std::string_view line) {
  size_t i = line.find_first_not_of(" \t");
  return i != std::string_view::npos && line[i] == '{';
}

// Records of the JSON lines of "lines" as the normaliser makes them, in ingest order, with the
// storage engine's ingest time, seq and ts-of-0 rule. "lines_as_message" counts the records
// whose message is their whole line (no message key).
std::vector<Record> Normalize(const std::vector<std::string>& lines, const std::string& service,
                              size_t* lines_as_message) {
  std::vector<Record> out;
  ingest::Defaults defaults;
  defaults.service = service;
  defaults.host = "host-1";
  ingest::NormalizeOptions options;
  ingest::IngestCounts counts;
  for (const std::string& line : lines) {
    if (!IsJsonLine(line)) continue;
    Record r;
    if (!ingest::NormalizeLine(line, defaults, options, kBase, &r, &counts)) continue;
    r.tenant = "default";
    r.seq = out.size() + 1;
    r.ingest_ts = kBase + static_cast<int64_t>(out.size()) * 1'000'000;
    if (r.ts == 0) r.ts = r.ingest_ts;
    if (r.message == line) ++*lines_as_message;
    out.push_back(std::move(r));
  }
  return out;
}

// CPU seconds of the calling thread (the machine is shared: wall time would measure the others).
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Written {
  std::shared_ptr<storage::Snapshot> snap;
  std::vector<std::shared_ptr<const segment::SegmentFileReader>> readers;
  uint64_t bytes = 0;
};

// Segments of "per_segment" records, blocks of "block_rows"; every "v3_every"-th segment (0:
// none) in format version 3.
Written Write(const std::vector<Record>& records, const std::string& dir, bool shapes,
              size_t per_segment = 4096, uint32_t block_rows = 1024, size_t v3_every = 0) {
  Written w;
  w.snap = std::make_shared<storage::Snapshot>();
  w.snap->tenant = "default";
  Env* env = Env::Default();
  uint64_t id = 1;
  for (size_t start = 0; start < records.size(); start += per_segment, ++id) {
    std::vector<Record> part(
        records.begin() + static_cast<long>(start),
        records.begin() + static_cast<long>(std::min(records.size(), start + per_segment)));
    segment::WriterOptions wo;
    wo.block_rows = block_rows;
    wo.json_shapes = shapes;
    if (v3_every != 0 && id % v3_every == 0) wo.format_version = 3;
    segment::SegmentInfo info;
    info.id = id;
    info.tenant = "default";
    const std::string path = dir + "/" + std::to_string(id) + ".seg";
    storage::SegmentHandle h;
    Status s = segment::WriteSegment(env, path, info, std::move(part), wo, &h.info);
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto reader = segment::SegmentFileReader::OpenFile(env, path);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) continue;
    std::shared_ptr<segment::SegmentReader> shared = *reader;
    w.readers.push_back(*reader);
    w.bytes += h.info.file_bytes;
    h.path = path;
    h.open = [shared]() -> Result<std::shared_ptr<segment::SegmentReader>> { return shared; };
    w.snap->segments.push_back(std::move(h));
  }
  return w;
}

// CPU seconds to read every block's messages (with seq), as a word scan does.
double ReadMessagesSeconds(const Written& w) {
  const double start = ThreadCpuSeconds();
  for (const auto& reader : w.readers) {
    for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
      std::vector<Record> rows;
      EXPECT_TRUE(
          reader->ReadBlock(b, segment::kColMessage | segment::kColSeq, &rows, nullptr).ok());
    }
  }
  return ThreadCpuSeconds() - start;
}

// Rows of "w" whose message is stored as a shape.
uint64_t ShapedRows(const Written& w) {
  uint64_t shaped = 0;
  for (const auto& reader : w.readers) {
    const segment::Footer& f = reader->footer();
    if (f.version < 4) continue;
    const auto& column = f.columns[static_cast<size_t>(segment::ColumnId::kMessageShape)];
    for (size_t b = 0; b < f.blocks.size(); ++b) {
      std::string raw, arena;
      std::vector<std::string_view> shapes;
      EXPECT_TRUE(reader->ReadPhysical(column.blocks[b], "shape", &raw, nullptr).ok());
      if (raw.empty()) continue;
      EXPECT_TRUE(segment::DecodeStringColumn(raw, f.blocks[b].rows, &shapes, &arena).ok());
      for (std::string_view s : shapes) shaped += !s.empty();
    }
  }
  return shaped;
}

ExecResult Run(std::shared_ptr<const storage::Snapshot> snap, const std::string& text, size_t limit,
               const std::vector<Record>* brute = nullptr) {
  Result<Query> parsed = ParseQuery(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  if (!parsed.ok()) return {};
  auto query = std::make_shared<const Query>(std::move(*parsed));
  ExecOptions o = testing::AllTime();
  o.limit = limit;
  if (brute != nullptr) return BruteForce(*brute, *query, o);
  return Execute(snap, query, o);
}

// Every record of "records" comes back from "w" with its message byte for byte: by a search of
// everything, and by block reads of the message alone (what a word scan reads) and of all
// columns (what a search's hits read). Returns the number of rows compared.
size_t ExpectEveryMessageBack(const Written& w, const std::vector<Record>& records) {
  std::map<uint64_t, const Record*> by_seq;
  for (const Record& r : records) by_seq[r.seq] = &r;
  size_t compared = 0, wrong = 0;
  ExecResult all = Run(w.snap, "*", records.size() + 1);
  EXPECT_EQ(all.hits.size(), records.size());
  for (const Record& hit : all.hits) {
    auto it = by_seq.find(hit.seq);
    if (it == by_seq.end()) {
      ADD_FAILURE() << "seq " << hit.seq;
      continue;
    }
    ++compared;
    if (hit.message != it->second->message || hit.fields != it->second->fields) {
      if (++wrong <= 3) {
        ADD_FAILURE() << "search, seq " << hit.seq << "\n got:  " << hit.message.substr(0, 400)
                      << "\n want: " << it->second->message.substr(0, 400);
      }
    }
  }
  for (const auto& reader : w.readers) {
    for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
      for (uint32_t mask : {static_cast<uint32_t>(segment::kColMessage | segment::kColSeq),
                            static_cast<uint32_t>(segment::kColAll)}) {
        std::vector<Record> rows;
        Status s = reader->ReadBlock(b, mask, &rows, nullptr);
        EXPECT_TRUE(s.ok()) << s.ToString();
        for (const Record& r : rows) {
          const Record* want = by_seq.at(r.seq);
          ++compared;
          if (r.message != want->message && ++wrong <= 6) {
            ADD_FAILURE() << "ReadBlock mask " << mask << " seq " << r.seq
                          << "\n got:  " << r.message.substr(0, 400)
                          << "\n want: " << want->message.substr(0, 400);
          }
          if (mask != segment::kColAll) {
            // Columns decoded only to render a shape are not handed out.
            EXPECT_TRUE(r.fields.empty());
            EXPECT_TRUE(r.service.empty());
            EXPECT_EQ(r.ts, 0);
          } else {
            EXPECT_EQ(r.fields, want->fields);
            EXPECT_EQ(r.ts, want->ts);
            EXPECT_EQ(r.service, want->service);
          }
        }
      }
    }
  }
  EXPECT_EQ(wrong, 0u);
  return compared;
}

std::string QuoteForQuery(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string RegexEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Words, phrases, regexes of the messages' own text (keys, quotes and escapes included) and
// field filters drawn from "records".
std::vector<std::string> Queries(const std::vector<Record>& records, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out = {"* | count", "* | count by level", "\"nosuchwordanywhere\""};
  for (int i = 0; i < 10 && !records.empty(); ++i) {
    const Record& r = records[rng() % records.size()];
    std::vector<std::string> words;
    for (std::string& w : index::Tokenize(r.message)) {
      if (w.size() <= 64) words.push_back(std::move(w));
    }
    if (!words.empty()) {
      const std::string& w = words[rng() % words.size()];
      out.push_back(QuoteForQuery(w));
      out.push_back(QuoteForQuery(w) + " | count");
      out.push_back("NOT " + QuoteForQuery(w) + " | count");
    }
    if (words.size() >= 3) {
      size_t at = rng() % (words.size() - 2);
      out.push_back(QuoteForQuery(words[at] + " " + words[at + 1] + " " + words[at + 2]) +
                    " | count");
    }
    // A regex over the raw text: a stretch of the line with its punctuation, quotes and
    // backslashes (what only the exact bytes match).
    if (r.message.size() > 12) {
      size_t len = 6 + rng() % 20;
      size_t at = rng() % (r.message.size() - std::min(len, r.message.size() - 1));
      std::string piece = r.message.substr(at, len);
      // Stay on UTF-8 character boundaries.
      while (!piece.empty() && (static_cast<unsigned char>(piece[0]) & 0xC0) == 0x80) {
        piece.erase(0, 1);
      }
      while (!piece.empty() && static_cast<unsigned char>(piece.back()) >= 0x80) piece.pop_back();
      if (!piece.empty()) {
        out.push_back("message~" + QuoteForQuery(RegexEscape(piece)) + " | count");
        out.push_back("message~" + QuoteForQuery(RegexEscape(piece)));
      }
    }
    out.push_back("message~\"^\\\\{\\\"\" | count");
    for (const auto& [key, value] : r.fields) {
      if (rng() % 4 != 0 || value.empty() || value.size() > 100) continue;
      bool plain = std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
      });
      if (!plain || !std::isalpha(static_cast<unsigned char>(key[0]))) continue;
      out.push_back(key + "=" + QuoteForQuery(value) + " | count");
      break;
    }
  }
  return out;
}

std::vector<uint64_t> Seqs(const ExecResult& r) {
  std::vector<uint64_t> out;
  for (const Record& h : r.hits) out.push_back(h.seq);
  return out;
}

// The same answers from the shaped segments, the text-stored ones and brute force; hits with
// the same messages.
void ExpectSameAnswers(const Written& shaped, const Written& text,
                       const std::vector<Record>& records, uint32_t seed) {
  for (const std::string& q : Queries(records, seed)) {
    SCOPED_TRACE(q);
    ExecResult a = Run(shaped.snap, q, 50);
    ExecResult b = Run(text.snap, q, 50);
    ExecResult c = Run(nullptr, q, 50, &records);
    EXPECT_FALSE(a.partial);
    EXPECT_EQ(a.rows, b.rows);
    EXPECT_EQ(a.rows, c.rows);
    EXPECT_EQ(Seqs(a), Seqs(b));
    EXPECT_EQ(Seqs(a), Seqs(c));
    for (size_t i = 0; i < a.hits.size() && i < b.hits.size(); ++i) {
      EXPECT_EQ(a.hits[i].message, b.hits[i].message);
    }
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The datasets of shared/data/real that hold JSON lines (JsonOnce.EveryDatasetWithJsonIsCovered
// checks that no other one does).
const char* const kJsonDatasets[] = {"elastic_nginxplus_json", "mordor_windows_events",
                                     "otrf_linux_aws", "pgbadger_postgres"};

// The records of the JSON lines of dataset "name" ("whole": those kept whole as the message).
std::vector<Record> DatasetRecords(const segment::testdata::Dataset& d, size_t* whole) {
  std::vector<Record> records;
  for (const std::string& file : d.files) {
    std::vector<Record> part =
        Normalize(SplitBody(ReadFile(file)), file.substr(file.find_last_of('/') + 1), whole);
    for (Record& r : part) {
      r.seq = records.size() + 1;
      r.ingest_ts = kBase + static_cast<int64_t>(records.size()) * 1'000'000;
      records.push_back(std::move(r));
    }
  }
  return records;
}

TEST(JsonOnce, EveryDatasetWithJsonIsCovered) {
  size_t datasets = 0;
  for (const segment::testdata::Dataset& d : segment::testdata::RealDatasets()) {
    ++datasets;
    bool json = false;
    for (const std::string& file : d.files) {
      for (const std::string& line : SplitBody(ReadFile(file))) json = json || IsJsonLine(line);
    }
    bool listed = std::find(std::begin(kJsonDatasets), std::end(kJsonDatasets), d.name) !=
                  std::end(kJsonDatasets);
    EXPECT_EQ(json, listed) << d.name;
  }
  EXPECT_GE(datasets, 9u) << "datasets missing under " << segment::testdata::SharedDir();
}

class JsonOnceDataset : public ::testing::TestWithParam<const char*> {};

// Every JSON line of the dataset, normalised, written to segments and read back by a search, a
// block read of the message alone and of every column; the answers of word, phrase, regex and
// field queries equal those of the lines stored as text and of brute force. Prints the bytes (as
// the test writes them, and as one segment of default blocks, as flush and compaction do) and
// the writer's and a message scan's CPU seconds, stored as text and once.
TEST_P(JsonOnceDataset, EveryJsonLineComesBackByteForByte) {
  std::vector<segment::testdata::Dataset> sets = segment::testdata::RealDatasets();
  if (const char* extra = std::getenv("SAWMILL_JSON_ONCE_EXTRA"); extra != nullptr && *extra) {
    sets.push_back({"extra", {extra}});
  }
  const segment::testdata::Dataset* d = nullptr;
  for (const auto& set : sets) {
    if (set.name == GetParam()) d = &set;
  }
  ASSERT_NE(d, nullptr) << GetParam() << " missing under " << segment::testdata::SharedDir();
  size_t whole = 0;
  std::vector<Record> records = DatasetRecords(*d, &whole);
  const bool real = d->name != "extra";  // the corpus has a message key on every line
  ASSERT_GT(records.size(), 200u);
  if (real) {
    ASSERT_GT(whole, 200u);
  }
  TempDir dir_a("json_once_a_" + d->name), dir_b("json_once_b_" + d->name);
  double t0 = ThreadCpuSeconds();
  Written shaped = Write(records, dir_a.path(), true);
  double t1 = ThreadCpuSeconds();
  Written text = Write(records, dir_b.path(), false);
  double t2 = ThreadCpuSeconds();
  // As a flush and compaction store them: one segment, the default blocks.
  uint64_t one_text = 0, one_once = 0;
  {
    TempDir dir_c("json_once_c_" + d->name), dir_d("json_once_d_" + d->name);
    one_text = Write(records, dir_c.path(), false, records.size(), 8192).bytes;
    one_once = Write(records, dir_d.path(), true, records.size(), 8192).bytes;
  }
  const uint64_t rows = ShapedRows(shaped);
  const double read_text = ReadMessagesSeconds(text);
  const double read_once = ReadMessagesSeconds(shaped);
  std::printf("%-24s %7s %7s %7s %10s %10s %10s %10s %8s %8s %8s %8s\n", "dataset", "json", "whole",
              "shaped", "text B", "once B", "1seg text", "1seg once", "write s", "once s", "read s",
              "once s");
  std::printf("%-24s %7zu %7zu %7llu %10llu %10llu %10llu %10llu %8.3f %8.3f %8.3f %8.3f\n",
              d->name.c_str(), records.size(), whole, static_cast<unsigned long long>(rows),
              static_cast<unsigned long long>(text.bytes),
              static_cast<unsigned long long>(shaped.bytes),
              static_cast<unsigned long long>(one_text), static_cast<unsigned long long>(one_once),
              t2 - t1, t1 - t0, read_text, read_once);
  const size_t compared = ExpectEveryMessageBack(shaped, records);
  EXPECT_EQ(compared, 3 * records.size());
  ExpectSameAnswers(shaped, text, records, static_cast<uint32_t>(records.size()));
  // Nearly every line kept whole is stored once (the rest: lines a column cannot give back).
  EXPECT_LE(rows, whole);
  EXPECT_GE(rows * 100, whole * 95);
  // Stored once costs less than stored twice.
  if (real) {
    EXPECT_LT(shaped.bytes, text.bytes);
    EXPECT_LT(one_once, one_text);
  }
}

// The JSON datasets, and "extra" when SAWMILL_JSON_ONCE_EXTRA names another NDJSON file to
// measure (the bench corpus: bench_gen_corpus --lines N --out FILE).
std::vector<const char*> JsonDatasetNames() {
  std::vector<const char*> out(std::begin(kJsonDatasets), std::end(kJsonDatasets));
  if (const char* extra = std::getenv("SAWMILL_JSON_ONCE_EXTRA"); extra != nullptr && *extra) {
    out.push_back("extra");
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(RealData, JsonOnceDataset, ::testing::ValuesIn(JsonDatasetNames()),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// Random JSON lines: whitespace, escapes of every kind, unicode, nesting, arrays, numbers in
// every spelling, duplicate keys, mapped keys (ts, level, service, ids), some with a message.
std::string RandomString(std::mt19937* rng) {
  static const char* kPieces[] = {
      "abc",     "GET /api/v1", "\\\"",    "\\\\",          "\\/",     "\\n", "\\r\\n",
      "\\t",     "\\u00e9",     "\\u00E9", "\\u001b",       "é",       "😀",   "\\ud83d\\ude00",
      "\\b",     "\\f",         "\\u003c", "<tag>&",        "x y",     "123", "C:\\\\win",
      "\\u2028", "日本",        "",        "{\\\"a\\\":1}", "\\u0041", " ",   "%s"};
  std::string s = "\"";
  int n = (*rng)() % 5;
  for (int i = 0; i < n; ++i) s += kPieces[(*rng)() % std::size(kPieces)];
  return s + "\"";
}

std::string RandomNumber(std::mt19937* rng) {
  static const char* kNumbers[] = {"0",
                                   "-1",
                                   "42",
                                   "3.14",
                                   "1.0e3",
                                   "1E5",
                                   "-0",
                                   "1e-7",
                                   "2.50",
                                   "-12.75",
                                   "1e400",
                                   "10.0",
                                   "9007199254740993",
                                   "0.1",
                                   "12345678901234567890123",
                                   "-9223372036854775808",
                                   "18446744073709551615",
                                   "1700000000123"};
  return kNumbers[(*rng)() % std::size(kNumbers)];
}

std::string Ws(std::mt19937* rng) {
  static const char* kWs[] = {"", "", "", " ", "  ", "\t", " \t "};
  return kWs[(*rng)() % std::size(kWs)];
}

std::string RandomValue(std::mt19937* rng, int depth);

std::string RandomObject(std::mt19937* rng, int depth, bool top) {
  static const char* kKeys[] = {"a",        "b",       "level",     "service",       "host",
                                "trace_id", "user_id", "ts",        "time",          "@timestamp",
                                "http",     "status",  "k\\u0065y", "k\\\"q",        "é",
                                "span_id",  "n",       "arr",       "sawmill.flags", "msg"};
  std::string s = "{" + Ws(rng);
  int n = (*rng)() % (top ? 9 : 4);
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += Ws(rng) + "," + Ws(rng);
    std::string key = kKeys[(*rng)() % std::size(kKeys)];
    if (key == "msg" && (*rng)() % 4 != 0) key = "m";
    s += "\"" + key + "\"" + Ws(rng) + ":" + Ws(rng);
    if (key == "level") {
      static const char* kLevels[] = {"\"info\"", "\"ERROR\"", "\"Warn\"",
                                      "30",       "\"loud\"",  "\"debug\""};
      s += kLevels[(*rng)() % std::size(kLevels)];
    } else if (key == "ts" || key == "time" || key == "@timestamp") {
      static const char* kTimes[] = {"\"2024-01-15T10:00:00.123Z\"",
                                     "\"2024-01-15T10:00:00Z\"",
                                     "1700000000123",
                                     "1700000000",
                                     "\"2024-01-15 10:00:00,5\"",
                                     "1700000000.25",
                                     "\"2024-01-15T10:00:00.123456789Z\"",
                                     "\"not a time\""};
      s += kTimes[(*rng)() % std::size(kTimes)];
    } else {
      s += RandomValue(rng, depth + 1);
    }
  }
  return s + Ws(rng) + "}";
}

std::string RandomValue(std::mt19937* rng, int depth) {
  switch ((*rng)() % (depth > 3 ? 5 : 8)) {
    case 0:
    case 1: return RandomString(rng);
    case 2: return RandomNumber(rng);
    case 3: return (*rng)() % 2 ? "true" : "false";
    case 4: return "null";
    case 5:
    case 6: return RandomObject(rng, depth, false);
    default: {
      std::string a = "[" + Ws(rng);
      int n = (*rng)() % 3;
      for (int i = 0; i < n; ++i) a += (i ? "," + Ws(rng) : "") + RandomValue(rng, depth + 1);
      return a + "]";
    }
  }
}

TEST(JsonOnce, FuzzedShapesRoundTrip) {
  std::mt19937 rng(19);
  std::vector<std::string> lines;
  for (int i = 0; i < 6000; ++i) {
    std::string line = Ws(&rng) + RandomObject(&rng, 0, true) + Ws(&rng);
    if (i % 50 == 0) line = "{\"a\":1,\"a\":2,\"a\":\"x\",\"b\":{\"c\":[1, 2]}}";  // duplicates
    if (i % 97 == 0) line = "{\"a\":\"\\u0022quoted\\u0022\",\"b\":\"x\"}";        // odd escapes
    if (i % 101 == 0) line = "{\"a\":1.0e3,\"service\":\"svc\"}";
    if (i % 103 == 0) line = "{\"a\":\"" + std::string(40000, 'x') + "\",\"n\":1}";  // huge
    if (i % 107 == 0) line = "{\"a\":\"b\"} trailing";                               // not JSON
    if (i % 109 == 0) line = "{\"bad\":\"\xff\xfe latin-1 \xe9t\xe9\",\"n\":12345678901234}";
    lines.push_back(std::move(line));
  }
  size_t whole = 0;
  std::vector<Record> records = Normalize(lines, "fuzz", &whole);
  ASSERT_GT(records.size(), 5500u);
  TempDir dir_a("json_once_fuzz_a"), dir_b("json_once_fuzz_b");
  Written shaped = Write(records, dir_a.path(), true, 2000, 256, 3);  // every third: version 3
  Written text = Write(records, dir_b.path(), false, 2000, 256);
  const uint64_t rows = ShapedRows(shaped);
  std::printf("fuzz: %zu lines, %zu whole, %llu shaped, %llu -> %llu bytes\n", records.size(),
              whole, static_cast<unsigned long long>(rows),
              static_cast<unsigned long long>(text.bytes),
              static_cast<unsigned long long>(shaped.bytes));
  EXPECT_GT(rows, whole / 4);
  ExpectEveryMessageBack(shaped, records);
  ExpectSameAnswers(shaped, text, records, 7);
}

// Lines a column cannot give back keep their text; the shape is never used for them.
TEST(JsonOnce, LinesThatCannotBeRebuiltKeepTheirText) {
  const char* kLines[] = {
      "{\"a\":\"\\u0041\\u0042\",\"b\":\"\\u0043\"}",  // escapes no encoder writes
      "{\"n\":1.0e3,\"m\":2.50E+1}",                   // numbers stored as 1000, 25
      "{\"x\":[1, 2, 3],\"y\":[ \"a\" ]}",             // arrays stored minified
      "{\"a\":\"b\"} {\"c\":1}",                       // not one object: parse_failed
  };
  for (const char* line : kLines) {
    SCOPED_TRACE(line);
    ingest::Defaults defaults;
    defaults.service = "s";
    ingest::IngestCounts counts;
    Record r;
    ASSERT_TRUE(ingest::NormalizeLine(line, defaults, {}, kBase, &r, &counts));
    std::string shape, extra;
    segment::ShapeScratch scratch;
    if (segment::BuildJsonShape(r, &shape, &extra, &scratch)) {
      // A shape is only ever built when it renders the line exactly.
      std::string back;
      ASSERT_TRUE(segment::RenderJsonShape(shape, extra, r, &back).ok());
      EXPECT_EQ(back, r.message);
    }
  }
  // A typical line: shaped, and its shape holds none of its values.
  Record r;
  ingest::IngestCounts counts;
  ingest::Defaults defaults;
  const std::string line =
      "{\"@timestamp\":\"2020-08-06T15:56:07.158Z\",\"level\":\"info\",\"host\":\"web-7\","
      "\"PipeName\":\"\\\\lsass\",\"Message\":\"Pipe Connected:\\r\\nRuleName: -\",\"port\":60122,"
      "\"tags\":[\"mordorDataset\"],\"http\":{\"status\":503}}";
  ASSERT_TRUE(ingest::NormalizeLine(line, defaults, {}, kBase, &r, &counts));
  ASSERT_EQ(r.message, line);
  std::string shape, extra;
  segment::ShapeScratch scratch;
  ASSERT_TRUE(segment::BuildJsonShape(r, &shape, &extra, &scratch));
  for (const char* value :
       {"2020-08-06", "web-7", "lsass", "Pipe Connected", "60122", "mordor", "503"}) {
    EXPECT_EQ(shape.find(value), std::string::npos) << value;
    EXPECT_EQ(extra.find(value), std::string::npos) << value;
  }
  std::string back;
  ASSERT_TRUE(segment::RenderJsonShape(shape, extra, r, &back).ok());
  EXPECT_EQ(back, line);
  // A cut shape is never a crash: it is DataLoss, or (cut between whole pieces of literal text
  // and holes) it renders less than the line. The shape cannot tell such a cut from a shorter
  // line; the block's checksum is what catches a shape cut on disk.
  for (size_t cut = 1; cut < shape.size(); ++cut) {
    std::string out;
    Status s = segment::RenderJsonShape(shape.substr(0, cut), extra, r, &out);
    if (s.ok()) {
      EXPECT_LT(out.size(), line.size()) << "cut at " << cut;
    } else {
      EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
    }
  }
  std::string out;
  Record other = r;
  other.fields.clear();
  EXPECT_TRUE(segment::RenderJsonShape(shape, extra, other, &out).IsDataLoss());
  // The reader decodes only the columns a shape's first byte lists; a shape whose holes refer to
  // others would render their empty values (a wrong line), so it is an error even with them.
  std::string unlisted = shape;
  unlisted[0] = '\0';
  out.clear();
  EXPECT_TRUE(segment::RenderJsonShape(unlisted, extra, r, &out).IsDataLoss()) << out;
  // A damaged shape repeating one hole cannot render more than any shaped line (unbounded
  // memory for one row otherwise).
  Record big;
  big.fields.emplace_back("k", std::string(1000, 'v'));
  std::string repeated(1, '\x01');                                              // needs: the fields
  for (int i = 0; i < 300; ++i) repeated.append(std::string("\0\x01\0\0", 4));  // field 0, raw
  out.clear();
  EXPECT_TRUE(segment::RenderJsonShape(repeated, "", big, &out).IsDataLoss());
  EXPECT_LE(out.size(), segment::kMaxShapedMessageBytes + 1000);
}

}  // namespace
}  // namespace sawmill::query
