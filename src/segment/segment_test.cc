#include "segment/segment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "common/env.h"
#include "common/fault_env.h"
#include "index/flat_id_table.h"
#include "index/tokenizer.h"
#include "objstore/local_directory_store.h"
#include "segment/column_encoding.h"
#include "segment/format.h"
#include "segment/json_shape.h"
#include "segment/segment_file_reader.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

SegmentInfo TestInfo() {
  SegmentInfo info;
  info.id = 42;
  info.tenant = "acme";
  info.partition = 3;
  return info;
}

// What the reader should give back: the records in the writer's row order.
std::vector<Record> Expected(std::vector<Record> records, bool sorted) {
  if (sorted) {
    std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
      return std::tie(a.service, a.host, a.ts, a.seq) < std::tie(b.service, b.host, b.ts, b.seq);
    });
  }
  for (Record& r : records) r.tenant = "acme";
  return records;
}

std::vector<Record> ReadAll(const SegmentReader& reader, uint32_t mask = kColAll) {
  std::vector<Record> out;
  for (uint32_t b = 0; b < reader.blocks().size(); ++b) {
    Status s = reader.ReadBlock(b, mask, &out, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

Record MakeRecord(uint64_t seq, std::string service, std::string host, std::string message) {
  Record r;
  r.seq = seq;
  r.ts = 1'000'000'000 + static_cast<int64_t>(seq) * 1000;
  r.ingest_ts = r.ts + 5;
  r.service = std::move(service);
  r.host = std::move(host);
  r.message = std::move(message);
  r.level = static_cast<Level>(seq % kLevelCount);
  return r;
}

TEST(Segment, SmallBatchRoundTripsEveryColumn) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/seg").ok());
  std::vector<Record> records;
  for (uint64_t i = 0; i < 50; ++i) {
    Record r = MakeRecord(i, i % 2 ? "api" : "db", "h" + std::to_string(i % 3),
                          "hello " + std::to_string(i));
    r.trace_id = "t" + std::to_string(i % 5);
    r.span_id = "s" + std::to_string(i);
    r.user_id = i % 4 == 0 ? "" : "u" + std::to_string(i % 4);
    r.flags = i % 3 == 0 ? uint32_t{kFlagTruncated} : 0u;
    if (i % 2) r.fields = {{"status", std::to_string(200 + i % 3)}, {"path", "/x"}};
    if (i == 7) r.fields = {{"dup", "1"}, {"dup", "2"}, {"status", ""}};
    records.push_back(r);
  }
  WriterOptions options;
  options.block_rows = 16;
  SegmentInfo out;
  ASSERT_TRUE(WriteSegment(&env, "/seg/a.seg", TestInfo(), records, options, &out).ok());
  EXPECT_EQ(out.rows, 50u);
  EXPECT_EQ(out.id, 42u);
  EXPECT_EQ(out.tenant, "acme");
  EXPECT_EQ(out.partition, 3u);
  EXPECT_EQ(out.min_seq, 0u);
  EXPECT_EQ(out.max_seq, 49u);
  EXPECT_FALSE(env.FileExists("/seg/a.seg.tmp"));

  auto reader = SegmentReader::Open(&env, "/seg/a.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->info().rows, 50u);
  EXPECT_EQ((*reader)->info().file_bytes, out.file_bytes);
  ASSERT_EQ((*reader)->blocks().size(), 4u);
  EXPECT_EQ((*reader)->blocks()[3].first_row, 48u);
  EXPECT_EQ(ReadAll(**reader), Expected(records, true));
  std::vector<std::string> names = (*reader)->field_names();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"dup", "path", "status"}));
}

TEST(Segment, OpensFromAnObjectStoreAndANameLikeFromItsPath) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 40; ++i) {
    records.push_back(MakeRecord(i, "api", "h" + std::to_string(i % 2), "m " + std::to_string(i)));
  }
  WriterOptions options;
  options.block_rows = 8;
  ASSERT_TRUE(env.CreateDirs("/data/segments/hot/acme/3").ok());
  ASSERT_TRUE(
      WriteSegment(&env, "/data/segments/hot/acme/3/42.seg", TestInfo(), records, options, nullptr)
          .ok());
  auto store = std::make_shared<objstore::LocalDirectoryStore>(&env, "/data");
  auto from_store = SegmentReader::Open(store, "segments/hot/acme/3/42.seg");
  ASSERT_TRUE(from_store.ok()) << from_store.status().ToString();
  auto from_path = SegmentReader::Open(&env, "/data/segments/hot/acme/3/42.seg");
  ASSERT_TRUE(from_path.ok());
  EXPECT_EQ(ReadAll(**from_store), Expected(records, true));
  EXPECT_EQ(ReadAll(**from_store), ReadAll(**from_path));
  // The reader keeps the store alive and the object open: a deleted segment stays readable by
  // the queries that hold it.
  store.reset();
  ASSERT_TRUE(env.RemoveFile("/data/segments/hot/acme/3/42.seg").ok());
  EXPECT_EQ(ReadAll(**from_store), Expected(records, true));

  store = std::make_shared<objstore::LocalDirectoryStore>(&env, "/data");
  auto missing = SegmentReader::Open(store, "segments/hot/acme/3/42.seg");
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  EXPECT_EQ(missing.status().message(), "segment /data/segments/hot/acme/3/42.seg does not exist");
  EXPECT_TRUE(SegmentReader::Open(store, "../42.seg").status().IsInvalidArgument());
}

TEST(Segment, UnsortedWriteKeepsArrivalOrder) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 10; ++i) records.push_back(MakeRecord(i, i % 2 ? "b" : "a", "h", "m"));
  WriterOptions options;
  options.sort_rows = false;
  ASSERT_TRUE(WriteSegment(&env, "/u.seg", TestInfo(), records, options, nullptr).ok());
  auto reader = SegmentReader::Open(&env, "/u.seg");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(ReadAll(**reader), Expected(records, false));
}

// Issue 19, "blocks in time order": with time slices every block holds one stretch of time
// (sorted by service, host and ts inside), so a newest-first search can stop after the newest
// blocks; sorted over the whole segment (time_slice_rows 0) a block spans nearly all of it.
TEST(Segment, TimeSlicesGiveEachBlockANarrowStretchOfTime) {
  FaultInjectionEnv env;
  constexpr uint64_t kRows = 32768;
  std::vector<Record> records;
  for (uint64_t i = 0; i < kRows; ++i) {
    records.push_back(MakeRecord(i, "s" + std::to_string(i * 7919 % 40),
                                 "h" + std::to_string(i % 5), "line " + std::to_string(i)));
  }
  // Arrival order is not time order.
  std::vector<Record> shuffled = records;
  std::mt19937_64 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const int64_t span = records.back().ts - records.front().ts;

  WriterOptions options;
  options.block_rows = 1024;
  options.time_slice_rows = 1024;
  ASSERT_TRUE(WriteSegment(&env, "/t.seg", TestInfo(), shuffled, options, nullptr).ok());
  auto reader = SegmentReader::Open(&env, "/t.seg");
  ASSERT_TRUE(reader.ok());
  ASSERT_EQ((*reader)->blocks().size(), kRows / 1024);
  for (const BlockInfo& b : (*reader)->blocks()) {
    EXPECT_LE(b.max_ts - b.min_ts, 1023 * 1000) << "block at row " << b.first_row;
  }
  // The rows: time slices of 1024 in time order, each sorted by (service, host, ts).
  std::vector<Record> expected = Expected(records, false);
  for (size_t start = 0; start < expected.size(); start += 1024) {
    std::sort(expected.begin() + static_cast<long>(start),
              expected.begin() + static_cast<long>(start + 1024),
              [](const Record& a, const Record& b) {
                return std::tie(a.service, a.host, a.ts, a.seq) <
                       std::tie(b.service, b.host, b.ts, b.seq);
              });
  }
  EXPECT_EQ(ReadAll(**reader), expected);

  // The whole-segment order of earlier builds: some block spans most of the segment.
  options.time_slice_rows = 0;
  ASSERT_TRUE(WriteSegment(&env, "/w.seg", TestInfo(), shuffled, options, nullptr).ok());
  auto whole = SegmentReader::Open(&env, "/w.seg");
  ASSERT_TRUE(whole.ok());
  int64_t widest = 0;
  for (const BlockInfo& b : (*whole)->blocks()) widest = std::max(widest, b.max_ts - b.min_ts);
  EXPECT_GT(widest, span / 2);
  EXPECT_EQ(ReadAll(**whole), Expected(records, true));
}

TEST(Segment, FailedWriteLeavesNoFileBehind) {
  std::vector<Record> records;
  for (uint64_t i = 0; i < 100; ++i) records.push_back(MakeRecord(i, "s", "h", "m"));
  {
    FaultInjectionEnv env;
    env.InjectSyncFailure(1);
    Status s = WriteSegment(&env, "/f.seg", TestInfo(), records, WriterOptions(), nullptr);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("/f.seg"), std::string::npos) << s.ToString();
    EXPECT_FALSE(env.FileExists("/f.seg"));
    EXPECT_FALSE(env.FileExists("/f.seg.tmp"));
  }
  {
    FaultInjectionEnv env;
    env.SetNoSpace(true);
    Status s = WriteSegment(&env, "/f.seg", TestInfo(), records, WriterOptions(), nullptr);
    EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
    EXPECT_FALSE(env.FileExists("/f.seg"));
  }
}

// A crash at any point of WriteSegment leaves either no segment or a complete, readable one.
TEST(Segment, CrashAtAnyPointNeverLeavesATornSegment) {
  std::vector<Record> records;
  for (uint64_t i = 0; i < 300; ++i) {
    records.push_back(MakeRecord(i, "s", "h", "line " + std::to_string(i)));
  }
  WriterOptions options;
  options.block_rows = 100;
  int64_t total_ops;
  {
    FaultInjectionEnv env;
    ASSERT_TRUE(env.CreateDirs("/d").ok());
    int64_t before = env.mutating_ops();
    ASSERT_TRUE(WriteSegment(&env, "/d/x.seg", TestInfo(), records, options, nullptr).ok());
    total_ops = env.mutating_ops() - before;
  }
  for (int64_t crash_at = 0; crash_at <= total_ops; ++crash_at) {
    FaultInjectionEnv env;
    ASSERT_TRUE(env.CreateDirs("/d").ok());
    env.CrashAfterOps(crash_at);
    // The write fails at the crash point (or succeeds when it comes after the last step).
    WriteSegment(&env, "/d/x.seg", TestInfo(), records, options, nullptr).IgnoreError();
    env.SimulateCrash();
    if (!env.FileExists("/d/x.seg")) continue;
    auto reader = SegmentReader::Open(&env, "/d/x.seg");
    ASSERT_TRUE(reader.ok()) << "crash after " << crash_at << ": " << reader.status().ToString();
    EXPECT_EQ(ReadAll(**reader).size(), 300u);
  }
}

TEST(Segment, EmptyBatchIsInvalidArgument) {
  FaultInjectionEnv env;
  Status s = WriteSegment(&env, "/e.seg", TestInfo(), {}, WriterOptions(), nullptr);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
}

TEST(Segment, ReadsOnlyTheColumnsAskedFor) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 100; ++i)
    records.push_back(MakeRecord(i, "svc", "h", "message " + std::to_string(i)));
  ASSERT_TRUE(WriteSegment(&env, "/c.seg", TestInfo(), records, WriterOptions(), nullptr).ok());
  auto reader = SegmentReader::Open(&env, "/c.seg");
  ASSERT_TRUE(reader.ok());
  std::vector<Record> out;
  ReadStats stats;
  ASSERT_TRUE((*reader)->ReadBlock(0, kColTs, &out, &stats).ok());
  ASSERT_EQ(out.size(), 100u);
  EXPECT_EQ(out[5].ts, records[5].ts);
  EXPECT_TRUE(out[5].message.empty());
  EXPECT_EQ(stats.blocks_read, 1u);
  ReadStats all;
  out.clear();
  ASSERT_TRUE((*reader)->ReadBlock(0, kColAll, &out, &all).ok());
  EXPECT_GT(all.bytes_read_compressed, stats.bytes_read_compressed);
  EXPECT_TRUE((*reader)->ReadBlock(1, kColAll, &out, nullptr).IsInvalidArgument());
}

// ReadRows builds the listed rows only (a newest-first search reads every column of the few rows
// it returns): each equals the row ReadBlock gives, for any subset and any column mask, on every
// real dataset (JSON lines with message shapes among them) in the hot and warm encodings.
TEST(Segment, ReadRowsGivesTheListedRowsOfReadBlock) {
  FaultInjectionEnv env;
  std::mt19937 rng(19);
  const uint32_t masks[] = {kColAll,          kColMessage,          kColFields,
                            kColTs | kColSeq, kColMessage | kColTs, kColAll & ~(kColTs | kColSeq)};
  std::vector<std::pair<std::string, std::vector<Record>>> sets;
  for (const std::string& rel : testdata::RealFiles()) {
    sets.emplace_back(rel,
                      testdata::LoadRecords(testdata::SharedDir() + "/data/real/" + rel, 3000));
    if (sets.back().second.empty()) sets.pop_back();
  }
  EXPECT_GE(sets.size(), testdata::RealFiles().size() - 1);
  // JSON lines stored as shapes: the message is rendered from the trace id, span id and host
  // columns of the listed rows only.
  std::vector<Record> json;
  for (uint64_t i = 0; i < 2000; ++i) {
    Record r = MakeRecord(i, "ts-travel", "node-" + std::to_string(i % 3), "");
    char id[40];
    std::snprintf(id, sizeof(id), "%032llx", static_cast<unsigned long long>(i * 7919 + 13));
    r.trace_id = id;
    r.span_id = i % 5 == 0 ? "" : r.trace_id.substr(16);
    r.fields.emplace_back("status", std::to_string(200 + i % 4));
    r.message = "{\"host\":\"" + r.host + "\",\"trace\":\"" + r.trace_id + "\",\"span\":\"" +
                r.span_id + "\",\"status\":\"" + r.fields[0].second +
                "\",\"n\":" + std::to_string(i) + "}";
    if (i % 9 == 0) r.message = "plain text line " + std::to_string(i);
    json.push_back(std::move(r));
  }
  sets.emplace_back("json shapes", std::move(json));
  for (const auto& [name, records] : sets) {
    SCOPED_TRACE(name);
    for (bool warm : {false, true}) {
      SCOPED_TRACE(warm ? "warm" : "hot");
      WriterOptions options = warm ? WarmWriterOptions() : WriterOptions();
      options.block_rows = options.time_slice_rows = 700;
      ASSERT_TRUE(WriteSegment(&env, "/rows.seg", TestInfo(), records, options, nullptr).ok());
      auto reader = SegmentReader::Open(&env, "/rows.seg");
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      if (name == "json shapes") {
        auto file = SegmentFileReader::OpenFile(&env, "/rows.seg");
        ASSERT_TRUE(file.ok());
        const auto& shapes =
            (*file)->footer().columns[static_cast<size_t>(ColumnId::kMessageShape)];
        EXPECT_TRUE(std::any_of(shapes.blocks.begin(), shapes.blocks.end(),
                                [](const BlockRef& ref) { return ref.present(); }))
            << "the JSON lines are stored as shapes";
      }
      for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
        const uint32_t rows = (*reader)->blocks()[b].rows;
        for (uint32_t mask : masks) {
          std::vector<Record> block;
          ASSERT_TRUE((*reader)->ReadBlock(b, mask, &block, nullptr).ok());
          ASSERT_EQ(block.size(), rows);
          // A random subset (every row, one row, or about one in eight), ascending.
          std::vector<uint32_t> wanted;
          const uint32_t shape = rng() % 3;
          for (uint32_t r = 0; r < rows; ++r) {
            if (shape == 0 || (shape == 2 && rng() % 8 == 0)) wanted.push_back(r);
          }
          if (shape == 1) wanted.push_back(rng() % rows);
          std::vector<Record> got(1);  // appended after what is there
          Status s = (*reader)->ReadRows(b, mask, wanted, &got, nullptr);
          ASSERT_TRUE(s.ok()) << s.ToString();
          ASSERT_EQ(got.size(), wanted.size() + 1);
          EXPECT_EQ(got[0], Record());
          for (size_t i = 0; i < wanted.size(); ++i) {
            ASSERT_EQ(got[i + 1], block[wanted[i]]) << "block " << b << " row " << wanted[i];
          }
        }
      }
    }
  }

  auto reader = SegmentReader::Open(&env, "/rows.seg");
  ASSERT_TRUE(reader.ok());
  const uint32_t rows = (*reader)->blocks()[0].rows;
  std::vector<Record> out;
  EXPECT_TRUE((*reader)->ReadRows(0, kColAll, {}, &out, nullptr).ok());
  EXPECT_TRUE(out.empty());
  Status unordered = (*reader)->ReadRows(0, kColAll, {3, 2}, &out, nullptr);
  EXPECT_TRUE(unordered.IsInvalidArgument()) << unordered.ToString();
  EXPECT_NE(unordered.message().find("row 2 at position 1"), std::string::npos)
      << unordered.ToString();
  EXPECT_TRUE((*reader)->ReadRows(0, kColAll, {1, 1}, &out, nullptr).IsInvalidArgument());
  EXPECT_TRUE((*reader)->ReadRows(0, kColAll, {rows}, &out, nullptr).IsInvalidArgument());
  EXPECT_TRUE(
      (*reader)
          ->ReadRows(static_cast<uint32_t>((*reader)->blocks().size()), kColAll, {0}, &out, nullptr)
          .IsInvalidArgument());
  EXPECT_TRUE(out.empty());
}

TEST(Segment, PostingsAndValuesOfIndexedFields) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 300; ++i) {
    Record r = MakeRecord(i, "svc" + std::to_string(i % 3), "h" + std::to_string(i % 2), "m");
    r.trace_id = i % 10 == 0 ? "" : "trace" + std::to_string(i % 7);
    if (i % 4 == 0) r.fields.emplace_back("region", i % 8 == 0 ? "eu" : "us");
    records.push_back(r);
  }
  WriterOptions options;
  options.block_rows = 64;
  options.indexed_fields = {"trace_id", "user_id", "region"};
  // Rows postings and blooms of every field: from version 16 a field with a bloom (trace_id
  // here) is inverted index version 2 without blooms (BlockLists.* tests in
  // query/near_unique_differential_test.cc).
  options.format_version = 15;
  ASSERT_TRUE(WriteSegment(&env, "/p.seg", TestInfo(), records, options, nullptr).ok());
  auto reader = SegmentReader::Open(&env, "/p.seg");
  ASSERT_TRUE(reader.ok());
  std::vector<Record> rows = ReadAll(**reader);
  auto brute = [&](auto pred) {
    roaring::Roaring want;
    for (uint32_t row = 0; row < rows.size(); ++row) {
      if (pred(rows[row])) want.add(row);
    }
    return want;
  };
  for (std::string svc : {"svc0", "svc1", "svc2", "nope"}) {
    auto got = (*reader)->Postings("service", svc);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ(**got, brute([&](const Record& r) { return r.service == svc; })) << svc;
  }
  for (int l = 0; l < kLevelCount; ++l) {
    std::string name(LevelName(static_cast<Level>(l)));
    auto got = (*reader)->Postings("level", name);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ(**got, brute([&](const Record& r) { return r.level == static_cast<Level>(l); }));
  }
  auto t3 = (*reader)->Postings("trace_id", "trace3");
  ASSERT_TRUE(t3.ok() && t3->has_value());
  EXPECT_EQ(**t3, brute([](const Record& r) { return r.trace_id == "trace3"; }));
  auto eu = (*reader)->Postings("region", "eu");
  ASSERT_TRUE(eu.ok() && eu->has_value());
  EXPECT_EQ(**eu, brute([](const Record& r) {
    const std::string* v = r.FindField("region");
    return v != nullptr && *v == "eu";
  }));
  auto none = (*reader)->Postings("message", "m");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto hosts = (*reader)->IndexedValues("host");
  ASSERT_TRUE(hosts.ok() && hosts->has_value());
  EXPECT_EQ(**hosts, (std::vector<std::string>{"h0", "h1"}));
  auto unindexed = (*reader)->IndexedValues("span_id");
  ASSERT_TRUE(unindexed.ok());
  EXPECT_FALSE(unindexed->has_value());
}

// The exact-value indexes' tables choose slots with a seed drawn per process (index/
// flat_id_table.h): the segment written is the same file whatever the seed.
TEST(Segment, TheFileDoesNotDependOnTheIndexTablesSlotSeed) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 5000; ++i) {
    Record r = MakeRecord(i, "svc" + std::to_string(i % 3), "h" + std::to_string(i % 2), "m");
    r.trace_id = "trace" + std::to_string((i * 7919) % 1777);
    r.user_id = "u" + std::to_string(i % 41);
    r.fields.emplace_back("region", i % 8 == 0 ? "eu" : "us");
    records.push_back(r);
  }
  WriterOptions options;
  options.block_rows = 1000;
  options.indexed_fields = {"trace_id", "user_id", "region"};
  std::string files[2];
  const uint64_t process_seed = index::FlatIdTable::SlotSeed().load();
  for (int s = 0; s < 2; ++s) {
    index::FlatIdTable::SlotSeed().store(s == 0 ? 1 : 0x9e3779b97f4a7c15ULL);
    const std::string path = "/seed" + std::to_string(s) + ".seg";
    ASSERT_TRUE(WriteSegment(&env, path, TestInfo(), records, options, nullptr).ok());
    ASSERT_TRUE(ReadFileToString(&env, path, &files[s]).ok());
  }
  index::FlatIdTable::SlotSeed().store(process_seed);
  EXPECT_GT(files[0].size(), 0u);
  EXPECT_TRUE(files[0] == files[1]) << "the segment's bytes depend on the slot seed";
}

TEST(Segment, RealDatasetsRoundTrip) {
  FaultInjectionEnv env;
  for (const std::string& rel : testdata::RealFiles()) {
    std::string path = testdata::SharedDir() + "/data/real/" + rel;
    std::vector<Record> records = testdata::LoadRecords(path, 20000);
    ASSERT_FALSE(records.empty()) << path;
    WriterOptions options;
    options.block_rows = 1000;
    SegmentInfo out;
    Status s = WriteSegment(&env, "/real.seg", TestInfo(), records, options, &out);
    ASSERT_TRUE(s.ok()) << rel << ": " << s.ToString();
    auto reader = SegmentReader::Open(&env, "/real.seg");
    ASSERT_TRUE(reader.ok()) << rel << ": " << reader.status().ToString();
    EXPECT_TRUE(ReadAll(**reader) == Expected(records, true)) << rel;
  }
}

// The warm tier's encoding (format version 8: text layouts with the prefix split, scaled times,
// hex ids, shared frames, no segment-wide blooms, zstd 19 metadata) gives every real record
// back, and so does the same written as format version 7 (no shared frame), 6 (no scaled or hex
// block either), 5 (no kPrefixSplit block either) and 3 (no text layouts), as older builds wrote
// them, which this build still reads.
TEST(Segment, WarmEncodingRoundTripsRealDataInFormatVersions13To3) {
  FaultInjectionEnv env;
  size_t layouts = 0, prefix_splits = 0, scaled = 0, packed = 0, split = 0, int_dicts = 0;
  for (const std::string& rel : testdata::RealFiles()) {
    std::string path = testdata::SharedDir() + "/data/real/" + rel;
    std::vector<Record> records = testdata::LoadRecords(path, 6000);
    ASSERT_FALSE(records.empty()) << path;
    for (uint32_t version : {kFormatVersion, 12u, 11u, 10u, 9u, 8u, 7u, 6u, 5u, 3u}) {
      WriterOptions options = WarmWriterOptions();
      options.block_rows = options.time_slice_rows = 1000;
      // Version 9's sub-blocks wherever a text block is over 3 KiB (none before 9).
      options.subblock_bytes = 2048;
      options.subblock_always = true;
      // (A block packed whole is never split: the shared frames test covers those.)
      if (version == kFormatVersion) options.pack_blocks_below = 0;
      options.text_zstd_level = options.other_zstd_level = 3;  // levels change no byte read back
      options.format_version = version;
      ASSERT_TRUE(WriteSegment(&env, "/warm.seg", TestInfo(), records, options, nullptr).ok());
      auto reader = SegmentFileReader::OpenFile(&env, "/warm.seg");
      ASSERT_TRUE(reader.ok()) << rel << ": " << reader.status().ToString();
      EXPECT_EQ((*reader)->format_version(), version);
      EXPECT_TRUE(ReadAll(**reader) == Expected(records, true)) << rel << " v" << version;
      // Blooms without a segment-wide filter still find every word of every row.
      std::vector<Record> rows = ReadAll(**reader, kColMessage);
      for (size_t i = 0; i < rows.size(); i += 97) {
        for (const std::string& w : index::Tokenize(rows[i].message)) {
          ASSERT_TRUE((*reader)->SegmentMayContain("message", w).value_or(false))
              << rel << " " << w;
        }
      }
      for (const BloomMeta& b : (*reader)->footer().blooms) {
        EXPECT_FALSE(b.segment_filter.present()) << rel << " " << b.field;
      }
      // Which layouts the message blocks got: version 3 never has the text layouts.
      for (const BlockRef& ref : (*reader)->footer().columns[9].blocks) {
        if (!ref.present()) continue;
        std::string raw;
        ASSERT_TRUE((*reader)->ReadPhysical(ref, "message", &raw, nullptr).ok());
        const auto enc = static_cast<Encoding>(raw[0]);
        const bool layout = enc == Encoding::kLines || enc == Encoding::kDigitSplit ||
                            enc == Encoding::kPrefixSplit;
        if (version < 5) {
          EXPECT_FALSE(layout) << rel;
        }
        if (version < 6) {
          EXPECT_NE(enc, Encoding::kPrefixSplit) << rel;
        }
        layouts += layout;
        prefix_splits += enc == Encoding::kPrefixSplit;
      }
      // Version 8's shared frames and version 7's encodings (scaled times, hex ids) in no older
      // version's file.
      if (version < 8) {
        EXPECT_TRUE((*reader)->footer().frames.empty()) << rel << " v" << version;
      }
      if (version < 9) {
        EXPECT_TRUE((*reader)->footer().splits.empty()) << rel << " v" << version;
      } else {
        split += (*reader)->footer().splits.size();
      }
      for (const ColumnMeta& column : (*reader)->footer().columns) {
        for (const BlockRef& ref : column.blocks) {
          if (!ref.present()) continue;
          if (version < 8) {
            EXPECT_FALSE(ref.packed) << rel << " " << column.name;
          }
          packed += ref.packed;
          std::string raw;
          ASSERT_TRUE((*reader)->ReadPhysical(ref, column.name, &raw, nullptr).ok());
          const auto enc = static_cast<Encoding>(raw[0]);
          if (version < 7) {
            EXPECT_NE(enc, Encoding::kScaled) << rel << " " << column.name;
            EXPECT_NE(enc, Encoding::kHex) << rel << " " << column.name;
          }
          if (version < 10) {
            EXPECT_NE(enc, Encoding::kIntDict) << rel << " " << column.name;
          }
          if (version < 11) {
            EXPECT_NE(enc, Encoding::kPrefixedNumber) << rel << " " << column.name;
          }
          if (version < 12) {
            EXPECT_NE(enc, Encoding::kMarkedLines) << rel << " " << column.name;
          }
          scaled += enc == Encoding::kScaled;
          int_dicts += enc == Encoding::kIntDict;
        }
      }
    }
  }
  EXPECT_GT(layouts, 0u);
  EXPECT_GT(prefix_splits, 0u);
  EXPECT_GT(scaled, 0u);
  EXPECT_GT(packed, 0u);
  EXPECT_GT(split, 0u);
  EXPECT_GT(int_dicts, 0u);
}

// Format version 8: the small column blocks of a row block share one frame, or a small block
// is packed whole. Every real dataset, written so in blocks of 1,000 rows (frames of several
// blocks), both ways, reads back record for record (JSON lines rendered from their shapes byte
// for byte), each packed block is byte for byte the physical block it replaced, and each column
// read alone gives what it gives without frames.
TEST(Segment, SharedFramesRoundTripEveryRealDataset) {
  FaultInjectionEnv env;
  uint64_t packed_bytes = 0, unpacked_bytes = 0;
  size_t datasets = 0, whole_frames = 0, small_frames = 0;
  for (const std::string& rel : testdata::RealFiles()) {
    SCOPED_TRACE(rel);
    std::string path = testdata::SharedDir() + "/data/real/" + rel;
    std::vector<Record> records = testdata::LoadRecords(path, 6000);
    ASSERT_FALSE(records.empty()) << path;
    WriterOptions unpacked = WarmWriterOptions();
    unpacked.block_rows = unpacked.time_slice_rows = 1000;
    unpacked.text_zstd_level = unpacked.other_zstd_level = unpacked.metadata_zstd_level = 3;
    ASSERT_GT(unpacked.pack_columns_below, 0u);
    ASSERT_GT(unpacked.pack_blocks_below, 0u);
    unpacked.pack_columns_below = unpacked.pack_blocks_below = unpacked.pack_fields_below = 0;
    SegmentInfo out;
    ASSERT_TRUE(WriteSegment(&env, "/unpacked.seg", TestInfo(), records, unpacked, &out).ok());
    auto plain = SegmentFileReader::OpenFile(&env, "/unpacked.seg");
    ASSERT_TRUE(plain.ok()) << plain.status().ToString();
    const Footer& g = (*plain)->footer();
    EXPECT_TRUE(std::none_of(g.frames.begin(), g.frames.end(),
                             [](const BlockRef& r) { return r.present(); }));
    // The warm rule (small columns, and blocks of up to 1 MiB whole), then small columns only.
    for (const bool whole : {true, false}) {
      SCOPED_TRACE(whole ? "small blocks whole" : "small columns only");
      WriterOptions options = WarmWriterOptions();
      options.block_rows = options.time_slice_rows = 1000;
      options.text_zstd_level = options.other_zstd_level = options.metadata_zstd_level = 3;
      if (!whole) options.pack_blocks_below = 0;
      SegmentInfo packed_out;
      ASSERT_TRUE(
          WriteSegment(&env, "/packed.seg", TestInfo(), records, options, &packed_out).ok());
      if (whole) {
        packed_bytes += packed_out.file_bytes;
        unpacked_bytes += out.file_bytes;
      }
      auto packed = SegmentFileReader::OpenFile(&env, "/packed.seg");
      ASSERT_TRUE(packed.ok()) << packed.status().ToString();
      EXPECT_TRUE(ReadAll(**packed) == Expected(records, true));
      // Block by block, column by column: the slice is the block it replaced.
      const Footer& f = (*packed)->footer();
      ASSERT_EQ(f.columns.size(), g.columns.size());
      ASSERT_EQ(f.frames.size(), f.blocks.size());
      for (size_t b = 0; b < f.blocks.size(); ++b) {
        size_t present = 0, packed_here = 0, large = 0;
        for (size_t c = 0; c < f.columns.size(); ++c) {
          ASSERT_EQ(f.columns[c].name, g.columns[c].name);
          const BlockRef& ref = f.columns[c].blocks[b];
          ASSERT_EQ(ref.present(), g.columns[c].blocks[b].present()) << f.columns[c].name;
          if (!ref.present()) continue;
          std::string got, want;
          ASSERT_TRUE((*packed)->ReadPhysical(ref, "packed", &got, nullptr).ok());
          ASSERT_TRUE((*plain)->ReadPhysical(g.columns[c].blocks[b], "own", &want, nullptr).ok());
          EXPECT_EQ(got, want) << f.columns[c].name << " block " << b;
          ++present;
          if (!ref.packed) continue;
          ++packed_here;
          EXPECT_EQ(ref.offset, f.frames[b].offset);
          large += ref.raw_size >= options.pack_columns_below;
        }
        if (!f.frames[b].present()) continue;
        // A column of pack_columns_below bytes or more is in the frame only when the whole
        // block is, and that block is no larger than pack_blocks_below.
        if (large > 0) {
          EXPECT_TRUE(whole);
          EXPECT_EQ(packed_here, present) << "block " << b;
          EXPECT_LE(f.frames[b].raw_size, options.pack_blocks_below);
        }
        ++(packed_here == present ? whole_frames : small_frames);
      }
      // One column alone, as a query reads it: records and values.
      for (uint32_t mask : std::initializer_list<uint32_t>{
               kColTs, kColSeq, kColService, kColHost, kColLevel, kColTraceId, kColMessage,
               kColFields, kColFlags, kColLevel | kColFields}) {
        EXPECT_TRUE(ReadAll(**packed, mask) == ReadAll(**plain, mask)) << "mask " << mask;
      }
      for (uint32_t b = 0; b < f.blocks.size(); ++b) {
        BlockColumns x, y;
        const uint32_t mask = kColTs | kColLevel | kColService | kColSeq;
        ASSERT_TRUE((*packed)->ReadColumnValues(b, mask, &x, nullptr).ok());
        ASSERT_TRUE((*plain)->ReadColumnValues(b, mask, &y, nullptr).ok());
        EXPECT_EQ(x.rows, y.rows);
        EXPECT_EQ(x.ints, y.ints);
        EXPECT_EQ(x.text, y.text);
      }
    }
    ++datasets;
  }
  EXPECT_GE(datasets, 8u);
  EXPECT_GT(whole_frames, 0u);
  EXPECT_GT(small_frames, 0u);
  // Smaller over all datasets (each dataset's figures: docs/storage.md).
  EXPECT_LT(packed_bytes, unpacked_bytes);
}

// Hot segments (session 17): the small blocks of dynamic fields (below pack_fields_below) share
// their row block's frame; the built-in columns keep blocks of their own. Every real dataset,
// written as the server writes it and with pack_fields_below 0 (as before), reads back the
// same, record for record, column by column and a few rows at a time; the many-field JSON
// sources are smaller (otrf_linux_aws's ~100 field columns of 565 lines: by at least 1,500
// bytes) and none is larger; a damaged frame fails its fields with a DataLoss naming it, while
// the built-in columns of its block still read.
TEST(Segment, HotSegmentsShareAFrameForTheirSmallFieldColumns) {
  FaultInjectionEnv env;
  size_t datasets = 0, smaller = 0;
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    SCOPED_TRACE(d.name);
    std::vector<Record> records = testdata::LoadDataset(d);
    ASSERT_FALSE(records.empty());
    for (size_t i = 0; i < records.size(); ++i) records[i].seq = i + 1;  // one per line
    WriterOptions own;
    ASSERT_GT(own.pack_fields_below, 0u);
    own.pack_fields_below = 0;
    SegmentInfo own_out, hot_out;
    ASSERT_TRUE(WriteSegment(&env, "/own.seg", TestInfo(), records, own, &own_out).ok());
    ASSERT_TRUE(
        WriteSegment(&env, "/hot.seg", TestInfo(), records, WriterOptions(), &hot_out).ok());
    auto plain = SegmentFileReader::OpenFile(&env, "/own.seg");
    auto hot = SegmentFileReader::OpenFile(&env, "/hot.seg");
    ASSERT_TRUE(plain.ok() && hot.ok());
    EXPECT_LE(hot_out.file_bytes, own_out.file_bytes);
    if (d.name == "otrf_linux_aws") {
      EXPECT_LE(hot_out.file_bytes + 1500, own_out.file_bytes);
    }
    smaller += hot_out.file_bytes < own_out.file_bytes;
    // Every record as written (rows are sorted within time slices: compared in seq order).
    std::vector<Record> all = ReadAll(**hot);
    EXPECT_TRUE(all == ReadAll(**plain));
    const auto by_seq = [](const Record& a, const Record& b) { return a.seq < b.seq; };
    std::sort(all.begin(), all.end(), by_seq);
    std::vector<Record> want = Expected(records, false);
    std::sort(want.begin(), want.end(), by_seq);
    EXPECT_TRUE(all == want);
    for (uint32_t mask : std::initializer_list<uint32_t>{kColLevel, kColService, kColMessage,
                                                         kColFields, kColLevel | kColFields}) {
      EXPECT_TRUE(ReadAll(**hot, mask) == ReadAll(**plain, mask)) << "mask " << mask;
    }
    const Footer& f = (*hot)->footer();
    size_t packed = 0;
    for (uint32_t b = 0; b < f.blocks.size(); ++b) {
      for (const ColumnMeta& c : f.columns) {
        if (!c.blocks[b].packed) continue;
        EXPECT_EQ(c.id, ColumnId::kDynamic) << c.name << " is built in";
        EXPECT_LT(c.blocks[b].raw_size, WriterOptions().pack_fields_below) << c.name;
        ++packed;
      }
      // A few rows, every column, as a newest-first search reads them.
      const uint32_t rows = f.blocks[b].rows;
      const std::vector<uint32_t> few = {0, rows / 2, rows - 1};
      std::vector<Record> x, y;
      ASSERT_TRUE((*hot)->ReadRows(b, kColAll, few, &x, nullptr).ok());
      ASSERT_TRUE((*plain)->ReadRows(b, kColAll, few, &y, nullptr).ok());
      EXPECT_EQ(x, y) << "block " << b;
    }
    if (d.name == "otrf_linux_aws") {
      EXPECT_GE(packed, 80u);
      std::string good;
      ASSERT_TRUE(env.GetContents("/hot.seg", &good).ok());
      const BlockRef frame = f.frames[0];
      ASSERT_TRUE(frame.present());
      std::string bad = good;
      bad[frame.offset + frame.size / 2] ^= 0x5a;
      ASSERT_TRUE(env.SetContents("/hot.seg", bad).ok());
      auto damaged = SegmentReader::Open(&env, "/hot.seg");
      ASSERT_TRUE(damaged.ok()) << damaged.status().ToString();
      std::vector<Record> rows;
      const Status s = (*damaged)->ReadBlock(0, kColFields, &rows, nullptr);
      ASSERT_TRUE(s.IsDataLoss()) << s.ToString();
      EXPECT_NE(s.message().find("block 0, in the shared frame of its row block at offset " +
                                 std::to_string(frame.offset)),
                std::string::npos)
          << s.message();
      rows.clear();
      ASSERT_TRUE(
          (*damaged)->ReadBlock(0, kColLevel | kColMessage | kColService, &rows, nullptr).ok());
      EXPECT_EQ(rows.size(), records.size());
    }
    ++datasets;
  }
  EXPECT_GE(datasets, 9u);
  EXPECT_GE(smaller, 3u);  // otrf, mordor, nginx json (pgbadger's few fields too)
}

// Rows asked for out of order are the caller's bug: the reader answers InvalidArgument naming
// them and the block, not DataLoss, which a search would report as a damaged block (marked
// corrupt, skipped). Before, every path of ReadTextColumn that decodes only the listed rows
// wrapped the decoder's InvalidArgument as DataLoss: a plain block decompressed through the last
// listed row, a block in its row block's shared frame, a split block's sub-blocks.
TEST(Segment, RowsAskedOutOfOrderAreTheCallersErrorNotDamagedData) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 2000; ++i) {
    records.push_back(MakeRecord(i, "api", "h1",
                                 "request " + std::to_string(i * 7919) + " answered in " +
                                     std::to_string(i % 97) + " ms by worker " +
                                     std::to_string(i % 13)));
  }
  WriterOptions plain;
  plain.block_rows = plain.time_slice_rows = 1000;
  WriterOptions packed = WarmWriterOptions();
  packed.block_rows = packed.time_slice_rows = 1000;
  WriterOptions split = plain;
  split.subblock_bytes = 2048;
  split.subblock_always = true;
  const size_t col = static_cast<size_t>(ColumnId::kMessage);
  for (const auto& [name, options] : std::vector<std::pair<std::string, WriterOptions>>{
           {"plain", plain}, {"packed", packed}, {"split", split}}) {
    SCOPED_TRACE(name);
    const std::string path = "/" + name + ".seg";
    ASSERT_TRUE(WriteSegment(&env, path, TestInfo(), records, options, nullptr).ok());
    auto reader = SegmentFileReader::OpenFile(&env, path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    const BlockRef& ref = (*reader)->footer().columns[col].blocks[0];
    EXPECT_EQ(ref.packed, name == "packed");
    EXPECT_EQ(ref.is_split(), name == "split");
    const uint32_t rows = (*reader)->blocks()[0].rows;
    TextBuffer buf;
    std::vector<std::string_view> views;
    std::vector<uint32_t> ascending = {3, 700};
    ASSERT_TRUE(
        (*reader)->ReadTextColumn(col, 0, rows, &ascending, &buf, &views, nullptr, nullptr).ok());
    ASSERT_EQ(views.size(), 2u);
    std::vector<Record> all;
    ASSERT_TRUE((*reader)->ReadBlock(0, kColMessage, &all, nullptr).ok());
    EXPECT_EQ(views[1], all[700].message);
    std::vector<uint32_t> unordered = {700, 3};
    const Status s =
        (*reader)->ReadTextColumn(col, 0, rows, &unordered, &buf, &views, nullptr, nullptr);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_NE(s.message().find("segment " + path + ": column 'message' block 0"), std::string::npos)
        << s.ToString();
    EXPECT_NE(s.message().find("row 3 is listed after row 700"), std::string::npos) << s.ToString();
  }
}

// Format version 9: large text column blocks split into sub-blocks of consecutive rows. Every
// real dataset, hot and warm, with every text column block of over 3 KiB split (whatever it
// costs, so that each dataset has splits), reads back record for record; each column read alone
// (records and values) gives what the unsplit segment gives; and ReadRows of any subset gives
// the rows of ReadBlock.
TEST(Segment, SubBlocksRoundTripEveryRealDataset) {
  FaultInjectionEnv env;
  std::mt19937 rng(9);
  size_t datasets = 0, split_blocks = 0, sub_blocks = 0;
  for (const std::string& rel : testdata::RealFiles()) {
    SCOPED_TRACE(rel);
    std::string path = testdata::SharedDir() + "/data/real/" + rel;
    std::vector<Record> records = testdata::LoadRecords(path, 6000);
    ASSERT_FALSE(records.empty()) << path;
    for (const bool warm : {false, true}) {
      SCOPED_TRACE(warm ? "warm" : "hot");
      WriterOptions whole = warm ? WarmWriterOptions() : WriterOptions();
      whole.block_rows = whole.time_slice_rows = 1000;
      whole.text_zstd_level = whole.other_zstd_level = whole.metadata_zstd_level = 3;
      whole.subblock_bytes = 0;
      WriterOptions split = whole;
      split.subblock_bytes = 2048;
      split.subblock_always = true;
      ASSERT_TRUE(WriteSegment(&env, "/whole.seg", TestInfo(), records, whole, nullptr).ok());
      ASSERT_TRUE(WriteSegment(&env, "/split.seg", TestInfo(), records, split, nullptr).ok());
      auto plain = SegmentFileReader::OpenFile(&env, "/whole.seg");
      auto reader = SegmentFileReader::OpenFile(&env, "/split.seg");
      ASSERT_TRUE(plain.ok() && reader.ok()) << reader.status().ToString();
      EXPECT_TRUE((*plain)->footer().splits.empty());
      const Footer& f = (*reader)->footer();
      for (const ColumnMeta& c : f.columns) {
        for (const BlockRef& ref : c.blocks) {
          if (!ref.is_split()) continue;
          EXPECT_TRUE(SplittableColumn(c.id)) << c.name;
          EXPECT_GE(ref.raw_size, 3072u) << c.name;
          ++split_blocks;
          sub_blocks += f.splits[ref.split].size();
        }
      }
      EXPECT_TRUE(ReadAll(**reader) == Expected(records, true));
      for (uint32_t mask : std::initializer_list<uint32_t>{
               kColTs, kColService, kColHost, kColTraceId, kColUserId, kColMessage, kColFields,
               kColLevel | kColFields, kColMessage | kColHost}) {
        EXPECT_TRUE(ReadAll(**reader, mask) == ReadAll(**plain, mask)) << "mask " << mask;
      }
      for (uint32_t b = 0; b < f.blocks.size(); ++b) {
        BlockColumns x, y;
        const uint32_t mask = kColTs | kColService | kColHost | kColTraceId | kColUserId;
        ASSERT_TRUE((*reader)->ReadColumnValues(b, mask, &x, nullptr).ok());
        ASSERT_TRUE((*plain)->ReadColumnValues(b, mask, &y, nullptr).ok());
        EXPECT_EQ(x.rows, y.rows);
        EXPECT_EQ(x.ints, y.ints);
        EXPECT_EQ(x.text, y.text);
        std::vector<Record> block;
        ASSERT_TRUE((*plain)->ReadBlock(b, kColAll, &block, nullptr).ok());
        for (int trial = 0; trial < 4; ++trial) {
          std::vector<uint32_t> wanted;
          for (uint32_t r = 0; r < block.size(); ++r) {
            if (rng() % (trial == 0 ? 2 : 40) == 0) wanted.push_back(r);
          }
          if (wanted.empty()) wanted.push_back(static_cast<uint32_t>(block.size() - 1));
          std::vector<Record> got;
          ASSERT_TRUE((*reader)->ReadRows(b, kColAll, wanted, &got, nullptr).ok());
          ASSERT_EQ(got.size(), wanted.size());
          for (size_t i = 0; i < wanted.size(); ++i) {
            ASSERT_EQ(got[i], block[wanted[i]]) << "block " << b << " row " << wanted[i];
          }
        }
      }
    }
    ++datasets;
  }
  EXPECT_GE(datasets, 8u);
  EXPECT_GT(split_blocks, 0u);
  EXPECT_GT(sub_blocks, 2 * split_blocks);
}

// The newest-first search of a sparse filter reads all columns of a few rows per block
// (ReadRows): for a row near the start of an 8,192-row block of real lines with random trace
// ids, as the hot tier writes them, it decompresses a fraction of what the block's columns hold
// (the message only as far as the row: its lengths come first; the trace ids' sub-block only)
// and reads from the file well under the blocks' compressed size. Without sub-blocks and
// prefix decompression it decompressed every column whole. (Format version 26: the trace ids
// are kFilteredHex, never split, read from the file whole and decoded for the listed rows alone;
// the other columns are held to the decompression, and to reading each block once.)
TEST(Segment, ReadingAFewRowsDecompressesFarLessThanTheirColumns) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (const std::string& rel : testdata::RealFiles()) {
    for (Record& r : testdata::LoadRecords(testdata::SharedDir() + "/data/real/" + rel, 3000)) {
      records.push_back(std::move(r));
    }
  }
  ASSERT_GE(records.size(), 16384u);
  records.resize(16384);
  std::mt19937_64 rng(19);
  for (size_t i = 0; i < records.size(); ++i) {
    char id[40];
    std::snprintf(id, sizeof(id), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    records[i].trace_id = id;
    records[i].service = "svc-" + std::to_string(i % 7);
    records[i].ts = records[i].ingest_ts = 1'000'000'000 + static_cast<int64_t>(i) * 1000;
    records[i].seq = i;
    records[i].fields.clear();  // the corpus's lines have none (a field column is read whole)
  }
  ASSERT_TRUE(WriteSegment(&env, "/few.seg", TestInfo(), records, WriterOptions(), nullptr).ok());
  auto reader = SegmentFileReader::OpenFile(&env, "/few.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Footer& f = (*reader)->footer();
  ASSERT_EQ(f.blocks.size(), 2u);
  const uint32_t mask = kColAll & ~(kColTs | kColIngestTs | kColSeq);
  for (uint32_t b = 0; b < 2; ++b) {
    uint64_t whole_raw = 0, whole_stored = 0;
    for (const ColumnMeta& c : f.columns) {
      if (c.id == ColumnId::kTs || c.id == ColumnId::kIngestTs || c.id == ColumnId::kSeq) continue;
      whole_raw += c.blocks[b].raw_size;
      whole_stored += c.blocks[b].size;
    }
    const BlockRef& trace = f.columns[static_cast<size_t>(ColumnId::kTraceId)].blocks[b];
    EXPECT_FALSE(trace.is_split());
    std::string trace_raw;
    ASSERT_TRUE((*reader)->ReadPhysical(trace, "trace_id", &trace_raw, nullptr).ok());
    EXPECT_TRUE(IsFilteredHex(trace_raw));
    whole_raw -= trace.raw_size;
    whole_stored -= trace.size;
    std::vector<uint32_t> rows = {3, 40, 41, 300};
    ReadStats stats;
    std::vector<Record> got;
    ASSERT_TRUE((*reader)->ReadRows(b, mask, rows, &got, &stats).ok());
    std::vector<Record> block;
    ASSERT_TRUE((*reader)->ReadBlock(b, mask, &block, nullptr).ok());
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(got[i], block[rows[i]]);
    std::string per_column;
    for (const ColumnMeta& c : f.columns) {
      per_column += " " + c.name + "=" + std::to_string(c.blocks[b].raw_size);
    }
    ASSERT_GE(stats.bytes_read_raw, trace.raw_size);
    ASSERT_GE(stats.bytes_read_compressed, trace.size);
    EXPECT_LT((stats.bytes_read_raw - trace.raw_size) * 4, whole_raw)
        << "decompressed " << stats.bytes_read_raw << " of " << whole_raw << ":" << per_column;
    // The trace ids' sub-block was what kept the bytes read under nine tenths of the blocks'
    // (the message is read whole from the file, decompressed in part): now no column is read
    // twice (the ts block besides, for the message's times), and the trace ids' block is read
    // whole.
    const uint64_t ts_stored = f.columns[static_cast<size_t>(ColumnId::kTs)].blocks[b].size;
    EXPECT_LE(stats.bytes_read_compressed - trace.size, whole_stored + ts_stored)
        << "read " << stats.bytes_read_compressed << " of " << whole_stored;
  }
}

// Format version 10: the message column of lines stamped with their own RFC 3339 time
// (cidiff_gha_build_logs, as a server stores them: ts parsed from the line, the line kept whole)
// is stored as kIsoPrefix; the segment is far smaller than as version 9, every record reads back
// the same, and ReadRows of a few rows reads only the front of the message block (the two int
// blocks and the plain block through the last row) and gives ReadBlock's rows.
TEST(Segment, StampedLinesKeepTheirTimesAsNanosecondsAndReadAFewRows) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    if (d.name != "cidiff_gha_build_logs") continue;
    for (const std::string& file : d.files) {
      for (Record& r : testdata::LoadRecords(file)) {
        int64_t ns;
        if (records.size() < 16384 && r.message.size() > 28 &&
            ParseIsoTimestamp(std::string_view(r.message).substr(0, 28), &ns)) {
          r.ts = ns;
          r.seq = records.size();
          records.push_back(std::move(r));
        }
      }
    }
  }
  if (records.size() < 16384) GTEST_SKIP() << "cidiff_gha_build_logs not found";
  uint64_t bytes[2] = {0, 0};
  for (uint32_t version : {kFormatVersion, 9u}) {
    WriterOptions options;
    options.format_version = version;
    const std::string path = "/stamped-" + std::to_string(version) + ".seg";
    SegmentInfo out;
    ASSERT_TRUE(WriteSegment(&env, path, TestInfo(), records, options, &out).ok());
    bytes[version == kFormatVersion ? 0 : 1] = out.file_bytes;
    auto reader = SegmentFileReader::OpenFile(&env, path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    const Footer& f = (*reader)->footer();
    const ColumnMeta& message = f.columns[static_cast<size_t>(ColumnId::kMessage)];
    std::vector<Record> all;
    for (uint32_t b = 0; b < f.blocks.size(); ++b) {
      std::string raw;
      ASSERT_TRUE((*reader)->ReadPhysical(message.blocks[b], "message", &raw, nullptr).ok());
      ASSERT_FALSE(raw.empty());
      EXPECT_EQ(static_cast<Encoding>(raw[0]),
                version == kFormatVersion ? Encoding::kIsoPrefix : Encoding::kPlain);
      std::vector<Record> block;
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &block, nullptr).ok());
      for (const std::vector<uint32_t>& rows : {std::vector<uint32_t>{0},
                                                {3, 40, 41, 300},
                                                {static_cast<uint32_t>(block.size() - 1)}}) {
        ReadStats stats;
        std::vector<Record> got;
        ASSERT_TRUE((*reader)->ReadRows(b, kColMessage, rows, &got, &stats).ok());
        ASSERT_EQ(got.size(), rows.size());
        for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(got[i].message, block[rows[i]].message);
        if (rows.back() < 1000) {  // zstd decompresses 128 KiB at a time: a third or so
          EXPECT_LT(stats.bytes_read_raw * 2, message.blocks[b].raw_size)
              << "decompressed " << stats.bytes_read_raw << " for rows through " << rows.back();
        }
      }
      for (Record& r : block) all.push_back(std::move(r));
    }
    // The same lines (in the writer's row order, which sorts by time).
    std::vector<std::string> got, want;
    for (const Record& r : all) got.push_back(r.message);
    for (const Record& r : records) want.push_back(r.message);
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_TRUE(got == want);
  }
  EXPECT_LT(bytes[0] * 10, bytes[1] * 8) << "version 10 " << bytes[0] << ", version 9 " << bytes[1];
}

// A block none of whose rows has a dynamic field: ReadRows of every column reads no more than
// it reads without the fields (the layout, empty for every row, is not read; it cost a tenth of
// a hot block's read of a few rows, for 8,192 empty entries). A block with fields reads them.
TEST(Segment, ReadRowsOfABlockWithoutDynamicFieldsReadsNoLayout) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 16384; ++i) {
    Record r = MakeRecord(i, "api", "h1", "request " + std::to_string(i) + " done");
    if (i >= 8192 && i % 3 == 0) r.fields.emplace_back("status", std::to_string(200 + i % 5));
    records.push_back(std::move(r));
  }
  ASSERT_TRUE(
      WriteSegment(&env, "/layout.seg", TestInfo(), records, WriterOptions(), nullptr).ok());
  auto reader = SegmentFileReader::OpenFile(&env, "/layout.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->footer().blocks.size(), 2u);
  const std::vector<uint32_t> rows = {0, 7, 300, 301, 8000};
  for (uint32_t b = 0; b < 2; ++b) {
    std::vector<Record> block;
    ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &block, nullptr).ok());
    ReadStats with_fields, without;
    std::vector<Record> got, got_without;
    ASSERT_TRUE((*reader)->ReadRows(b, kColAll, rows, &got, &with_fields).ok());
    ASSERT_TRUE((*reader)->ReadRows(b, kColAll & ~kColFields, rows, &got_without, &without).ok());
    ASSERT_EQ(got.size(), rows.size());
    size_t with_a_field = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(got[i], block[rows[i]]) << "block " << b << " row " << rows[i];
      with_a_field += got[i].fields.empty() ? 0 : 1;
    }
    if (b == 0) {
      EXPECT_EQ(with_a_field, 0u);
      EXPECT_EQ(with_fields.blocks_read, without.blocks_read);
      EXPECT_EQ(with_fields.bytes_read_compressed, without.bytes_read_compressed);
      EXPECT_EQ(with_fields.bytes_read_raw, without.bytes_read_raw);
    } else {
      EXPECT_GT(with_a_field, 0u);
      EXPECT_GT(with_fields.blocks_read, without.blocks_read);
    }
  }
}

// Reading some packed columns of a block decompresses its shared frame once, not once per
// column: forty small field columns and the level read as one physical block.
TEST(Segment, PackedColumnsOfABlockReadTheirFrameOnce) {
  std::vector<Record> records;
  for (uint64_t i = 0; i < 2000; ++i) {
    Record r = MakeRecord(i, "api", "h1", "request " + std::to_string(i) + " done");
    for (int k = 0; k < 40; ++k) {
      r.fields.emplace_back("key" + std::to_string(k), std::to_string((i + k) % 7));
    }
    records.push_back(std::move(r));
  }
  FaultInjectionEnv env;
  WriterOptions options;
  options.block_rows = 1000;
  options.pack_columns_below = 4096;
  ASSERT_TRUE(WriteSegment(&env, "/frames.seg", TestInfo(), records, options, nullptr).ok());
  auto reader = SegmentFileReader::OpenFile(&env, "/frames.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Footer& f = (*reader)->footer();
  ASSERT_EQ(f.blocks.size(), 2u);
  size_t packed = 0;
  for (const ColumnMeta& c : f.columns) {
    if (c.id == ColumnId::kDynamic || c.id == ColumnId::kFieldLayout || c.id == ColumnId::kLevel) {
      EXPECT_TRUE(c.blocks[1].packed) << c.name;
    }
    packed += c.blocks[1].packed;
  }
  EXPECT_GE(packed, 42u);
  const std::vector<Record> want = Expected(records, true);
  for (uint32_t mask :
       std::initializer_list<uint32_t>{kColFields, kColLevel, kColFields | kColLevel}) {
    ReadStats stats;
    std::vector<Record> rows;
    ASSERT_TRUE((*reader)->ReadBlock(1, mask, &rows, &stats).ok());
    EXPECT_EQ(stats.blocks_read, 1u) << mask;
    EXPECT_EQ(stats.bytes_read_compressed, f.frames[1].size) << mask;
    ASSERT_EQ(rows.size(), 1000u);
    for (size_t i = 0; i < rows.size(); ++i) {
      if (mask & kColFields) {
        ASSERT_EQ(rows[i].fields, want[1000 + i].fields) << i;
      }
      if (mask & kColLevel) {
        ASSERT_EQ(rows[i].level, want[1000 + i].level) << i;
      }
    }
  }
}

// Format version 10 (issue 19): the server's ingest time, one per request, and levels that
// change from row to row are stored as distinct values and ids (kIntDict) in both tiers,
// smaller than version 9 stored them, and both versions read back the same records.
TEST(Segment, Version10StoresRepeatedIngestTimesAndLevelsAsIds) {
  std::mt19937_64 rng(10);
  std::vector<Record> records;
  int64_t ts = 1'764'374'400'000'000'000;
  int64_t request = 1'796'538'583'185'902'604;
  for (uint64_t i = 0; i < 8000; ++i) {
    // Requests of 200 lines from 40 sources (one time slice); the rows are sorted by source and
    // time, so each source's rows step through the requests.
    Record r = MakeRecord(i, "svc" + std::to_string(rng() % 8), "h" + std::to_string(rng() % 5),
                          "request " + std::to_string(rng() % 100000) + " done");
    ts += static_cast<int64_t>(rng() % 2'000'000) * 1000;
    r.ts = ts;
    if (i % 200 == 0) request += 1'000'000 + static_cast<int64_t>(rng() % 5'000'000);
    r.ingest_ts = request;
    r.level = static_cast<Level>(rng() % kLevelCount);
    records.push_back(std::move(r));
  }
  FaultInjectionEnv env;
  for (bool warm : {false, true}) {
    uint64_t ingest_bytes[2] = {0, 0}, level_bytes[2] = {0, 0};
    for (uint32_t version : {kFormatVersion, 9u}) {
      WriterOptions options = warm ? WarmWriterOptions() : WriterOptions();
      options.format_version = version;
      ASSERT_TRUE(WriteSegment(&env, "/v10.seg", TestInfo(), records, options, nullptr).ok());
      auto reader = SegmentFileReader::OpenFile(&env, "/v10.seg");
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      EXPECT_TRUE(ReadAll(**reader) == Expected(records, true)) << version;
      const int v = version == kFormatVersion ? 0 : 1;
      for (ColumnId id : {ColumnId::kIngestTs, ColumnId::kLevel}) {
        for (const BlockRef& ref : (*reader)->footer().columns[static_cast<size_t>(id)].blocks) {
          std::string raw;
          ASSERT_TRUE((*reader)->ReadPhysical(ref, "column", &raw, nullptr).ok());
          EXPECT_EQ(static_cast<Encoding>(raw[0]) == Encoding::kIntDict, version == kFormatVersion)
              << static_cast<int>(id) << " v" << version << (warm ? " warm" : " hot");
          (id == ColumnId::kIngestTs ? ingest_bytes : level_bytes)[v] += ref.size;
        }
      }
    }
    if (warm) continue;  // (the warm tier packs these small blocks into shared frames)
    EXPECT_LT(ingest_bytes[0] * 2, ingest_bytes[1]);
    EXPECT_LT(level_bytes[0], level_bytes[1]);
  }
}

// Format version 11: user ids spelled as a prefix and a fixed-width number (`u020419`, drawn
// from 100,000 users with a skew, as the corpus's) are stored as the numbers, in both tiers,
// smaller than version 10's text (hot), and every record, and a few rows alone, read back.
TEST(Segment, Version11StoresPrefixedNumberIdsAsNumbers) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<Record> records;
  int64_t ts = 1'764'374'400'000'000'000;
  for (uint64_t i = 0; i < 20000; ++i) {
    Record r = MakeRecord(i, "svc" + std::to_string(rng() % 8), "h" + std::to_string(rng() % 5),
                          "request " + std::to_string(rng() % 100000) + " done");
    ts += static_cast<int64_t>(rng() % 2'000'000) * 1000;
    r.ts = ts;
    char user[16];
    std::snprintf(user, sizeof(user), "u%06d",
                  static_cast<int>(100000 * std::pow(uniform(rng), 4.0)) % 100000);
    r.user_id = user;
    records.push_back(std::move(r));
  }
  FaultInjectionEnv env;
  for (bool warm : {false, true}) {
    uint64_t bytes[2] = {0, 0};
    for (uint32_t version : {kFormatVersion, 10u}) {
      WriterOptions options = warm ? WarmWriterOptions() : WriterOptions();
      options.format_version = version;
      options.time_slice_rows = 0;  // sorted as Expected() sorts
      ASSERT_TRUE(WriteSegment(&env, "/v11.seg", TestInfo(), records, options, nullptr).ok());
      auto reader = SegmentFileReader::OpenFile(&env, "/v11.seg");
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      EXPECT_TRUE(ReadAll(**reader) == Expected(records, true)) << version;
      const auto& blocks =
          (*reader)->footer().columns[static_cast<size_t>(ColumnId::kUserId)].blocks;
      for (uint32_t b = 0; b < blocks.size(); ++b) {
        std::string raw;
        ASSERT_TRUE((*reader)->ReadPhysical(blocks[b], "user_id", &raw, nullptr).ok());
        EXPECT_EQ(static_cast<Encoding>(raw[0]) == Encoding::kPrefixedNumber,
                  version == kFormatVersion)
            << "block " << b << " v" << version << (warm ? " warm" : " hot");
        bytes[version == kFormatVersion ? 0 : 1] += blocks[b].size;
        std::vector<Record> all, some;
        ASSERT_TRUE((*reader)->ReadBlock(b, kColUserId, &all, nullptr).ok());
        const std::vector<uint32_t> rows = {0, 7, static_cast<uint32_t>(all.size() - 1)};
        ASSERT_TRUE((*reader)->ReadRows(b, kColUserId, rows, &some, nullptr).ok());
        ASSERT_EQ(some.size(), rows.size());
        for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(some[i].user_id, all[rows[i]].user_id);
      }
    }
    // The corpus's user ids: 2.72 -> 2.15 bytes a row; these 18 % less (45,626 vs 55,804
    // bytes). (The warm tier packs the column into its block's shared frame: no size of its
    // own to compare.)
    if (warm) continue;
    EXPECT_LT(bytes[0] * 8, bytes[1] * 7) << bytes[0] << " vs " << bytes[1];
  }
}

// Format version 11: the block filters of ids (trace ids, one row each) are id filters (sorted
// fingerprints, index/bloom.h): under four fifths of version 10's 16-bit blooms, every id found
// in its block, and an absent id let through by about as few blocks (0.1 % each). Format 23:
// fingerprints of 8 low bits instead of 10, under 0.87 of version 22's filters, every id found,
// an absent id let through by about four times as many blocks (0.4 % each).
TEST(Segment, Version11StoresIdBlockFiltersAsFingerprints) {
  std::mt19937_64 rng(111);
  std::vector<Record> records;
  for (uint64_t i = 0; i < 24000; ++i) {
    Record r = MakeRecord(i, "svc" + std::to_string(rng() % 4), "h" + std::to_string(rng() % 3),
                          "request done");
    for (int k = 0; k < 32; ++k) r.trace_id.push_back("0123456789abcdef"[rng() % 16]);
    records.push_back(std::move(r));
  }
  FaultInjectionEnv env;
  ASSERT_GE(kFormatVersion, 23u);
  uint64_t filter_bytes[3] = {0, 0, 0}, false_blocks[3] = {0, 0, 0};
  for (uint32_t version : {22u, 10u, 23u}) {
    const int v = version == 22 ? 0 : version == 10 ? 1 : 2;
    WriterOptions options;
    options.format_version = version;
    options.block_rows = options.time_slice_rows = 2000;
    ASSERT_TRUE(WriteSegment(&env, "/ids.seg", TestInfo(), records, options, nullptr).ok());
    auto reader = SegmentFileReader::OpenFile(&env, "/ids.seg");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    for (const BloomMeta& b : (*reader)->footer().blooms) {
      if (b.field != "trace_id") continue;
      filter_bytes[v] = b.block_filters.size;
      EXPECT_FALSE(b.segment_filter.present());
    }
    std::vector<Record> rows = ReadAll(**reader, kColTraceId);
    ASSERT_EQ(rows.size(), records.size());
    for (size_t row = 0; row < rows.size(); ++row) {
      ASSERT_TRUE(
          (*reader)
              ->BlockMayContain(static_cast<uint32_t>(row / 2000), "trace_id", rows[row].trace_id)
              .value_or(false))
          << "v" << version << " row " << row;
    }
    for (int k = 0; k < 2000; ++k) {
      const std::string absent = "absent" + std::to_string(k);
      for (uint32_t block = 0; block < (*reader)->blocks().size(); ++block) {
        false_blocks[v] += (*reader)->BlockMayContain(block, "trace_id", absent).value_or(true);
      }
    }
  }
  EXPECT_LT(filter_bytes[0] * 5, filter_bytes[1] * 4)
      << filter_bytes[0] << " vs " << filter_bytes[1];
  // 24,000 probes at 0.1 % (0.13 % for the blooms): about 24 (31); chance leaves room.
  EXPECT_LT(false_blocks[0], 60u) << false_blocks[0] << " vs " << false_blocks[1];
  // Format 23: 10.2 against 12.2 bits a key; 24,000 probes at 0.39 %: about 94.
  EXPECT_LT(filter_bytes[2] * 100, filter_bytes[0] * 87)
      << filter_bytes[2] << " vs " << filter_bytes[0];
  EXPECT_GT(false_blocks[2], false_blocks[0]) << false_blocks[2] << " vs " << false_blocks[0];
  EXPECT_LT(false_blocks[2], 150u) << false_blocks[2] << " vs " << false_blocks[0];
}

// Format version 7 in the warm tier: a time column of microsecond precision is stored scaled
// and a column of hex trace ids as bytes, smaller than as version 6 wrote them, and both read
// back the same records. (From version 15 such times may be kRiceRuns instead: rice_runs_test.)
TEST(Segment, Version7StoresScaledTimesAndHexIdsInBothTiers) {
  std::mt19937_64 rng(77);
  std::vector<Record> records;
  int64_t ts = 1'764'374'400'000'000'000;
  for (uint64_t i = 0; i < 3000; ++i) {
    Record r = MakeRecord(i, "svc" + std::to_string(i % 3), "h" + std::to_string(i % 5),
                          "request " + std::to_string(rng() % 100000) + " done");
    ts += static_cast<int64_t>(rng() % 2'000'000) * 1000;
    r.ts = ts;
    for (int k = 0; k < 32; ++k) r.trace_id.push_back("0123456789abcdef"[rng() % 16]);
    records.push_back(std::move(r));
  }
  FaultInjectionEnv env;
  // Both tiers: hot segments use the version-7 encodings too (issue 19, docs/storage.md).
  for (bool warm : {true, false}) {
    uint64_t bytes[2] = {0, 0};
    for (uint32_t version : {7u, 6u}) {
      WriterOptions options = warm ? WarmWriterOptions() : WriterOptions();
      options.format_version = version;
      SegmentInfo out;
      ASSERT_TRUE(WriteSegment(&env, "/v7.seg", TestInfo(), records, options, &out).ok());
      bytes[version == 7 ? 0 : 1] = out.file_bytes;
      auto reader = SegmentFileReader::OpenFile(&env, "/v7.seg");
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      EXPECT_TRUE(ReadAll(**reader) == Expected(records, true)) << version;
      auto encoding_of = [&](ColumnId id) {
        std::string raw;
        const BlockRef& ref = (*reader)->footer().columns[static_cast<size_t>(id)].blocks[0];
        EXPECT_TRUE((*reader)->ReadPhysical(ref, "column", &raw, nullptr).ok());
        return raw.empty() ? Encoding{} : static_cast<Encoding>(raw[0]);
      };
      EXPECT_EQ(encoding_of(ColumnId::kTs) == Encoding::kScaled, version == 7);
      EXPECT_EQ(encoding_of(ColumnId::kTraceId) == Encoding::kHex, version == 7);
    }
    EXPECT_LT(bytes[0], bytes[1]) << (warm ? "warm" : "hot");
  }
}

// An id lookup's first step (KeepRowsHolding) keeps exactly the rows whose column holds the
// value, as reading the column and comparing each row does: hex ids compared as bytes (whole
// and split in sub-blocks, both tiers), ids that are not all hex of one length (other
// encodings), a format without kHex; values present in many rows, in one, absent, in upper
// case, of another length, empty; every row or a few of them as candidates.
TEST(Segment, KeepRowsHoldingKeepsTheRowsHoldingTheValueLikeReadingTheColumn) {
  std::mt19937_64 rng(19);
  auto hex = [&](size_t chars) {
    std::string id;
    for (size_t k = 0; k < chars; ++k) id.push_back("0123456789abcdef"[rng() % 16]);
    return id;
  };
  const std::string shared = hex(32);
  const std::string once = hex(32);
  for (const bool all_hex : {true, false}) {
    SCOPED_TRACE(all_hex ? "hex ids" : "mixed ids");
    std::vector<Record> records;
    for (uint64_t i = 0; i < 3000; ++i) {
      Record r = MakeRecord(i, "svc" + std::to_string(i % 3), "h" + std::to_string(i % 5),
                            "request " + std::to_string(rng() % 100000) + " done");
      r.trace_id = i % 7 == 0 ? shared : i == 1234 ? once : hex(32);
      if (!all_hex && i % 11 == 0 && i % 7 != 0 && i != 1234) r.trace_id = "T" + hex(31);
      r.user_id = "u" + std::to_string(rng() % 40);
      records.push_back(std::move(r));
    }
    FaultInjectionEnv env;
    for (const bool warm : {false, true}) {
      for (const uint32_t version : {kFormatVersion, 23u, 6u}) {
        for (const size_t subblock : {size_t{0}, size_t{2048}}) {
          SCOPED_TRACE(std::string(warm ? "warm" : "hot") + " version " + std::to_string(version) +
                       " sub-blocks " + std::to_string(subblock));
          WriterOptions options = warm ? WarmWriterOptions() : WriterOptions();
          options.format_version = version;
          options.block_rows = options.time_slice_rows = 1000;
          options.subblock_bytes = subblock;
          options.subblock_always = subblock != 0;
          ASSERT_TRUE(WriteSegment(&env, "/ids.seg", TestInfo(), records, options, nullptr).ok());
          auto reader = SegmentFileReader::OpenFile(&env, "/ids.seg");
          ASSERT_TRUE(reader.ok()) << reader.status().ToString();
          if (all_hex && version >= 23) {
            std::string raw;
            const BlockRef& ref =
                (*reader)->footer().columns[static_cast<size_t>(ColumnId::kTraceId)].blocks[0];
            ASSERT_TRUE((*reader)->ReadPhysical(ref, "trace_id", &raw, nullptr).ok());
            if (version >= 26) {
              // Inside their filters: the filter's probe and the rests compared, never split.
              EXPECT_EQ(static_cast<Encoding>(raw[0]), Encoding::kFilteredHex);
              EXPECT_FALSE(ref.is_split());
            } else {
              EXPECT_EQ(static_cast<Encoding>(raw[0]), Encoding::kHex);  // the bytes compared
              if (!warm) {
                EXPECT_EQ(ref.is_split(), subblock != 0);  // the warm tier never splits hex
              }
            }
          }
          std::string upper = shared;
          std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
          size_t found_shared = 0, found_once = 0;
          for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
            std::vector<Record> block;
            ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &block, nullptr).ok());
            for (const std::string& value : {shared, once, hex(32), upper, shared.substr(0, 30),
                                             std::string(), std::string("u7")}) {
              for (const uint32_t bit : {kColTraceId, kColUserId}) {
                for (int trial = 0; trial < 3; ++trial) {
                  std::vector<uint32_t> rows;
                  for (uint32_t r = 0; r < block.size(); ++r) {
                    if (trial == 0 || rng() % (trial == 1 ? 3 : 50) == 0) rows.push_back(r);
                  }
                  std::vector<uint32_t> want;
                  for (uint32_t r : rows) {
                    const std::string& v =
                        bit == kColTraceId ? block[r].trace_id : block[r].user_id;
                    if (v == value) want.push_back(r);
                  }
                  std::vector<uint32_t> got = rows;
                  Status st = (*reader)->KeepRowsHolding(b, bit, value, &got, nullptr);
                  ASSERT_TRUE(st.ok()) << st.ToString();
                  ASSERT_EQ(got, want) << "block " << b << " value '" << value << "' bit " << bit;
                  if (trial == 0 && bit == kColTraceId) {
                    found_shared += value == shared ? got.size() : 0;
                    found_once += value == once ? got.size() : 0;
                  }
                }
              }
            }
          }
          EXPECT_EQ(found_shared, 3000u / 7 + 1);
          EXPECT_EQ(found_once, 1u);
          std::vector<uint32_t> rows = {5, 3};
          EXPECT_TRUE((*reader)
                          ->KeepRowsHolding(0, kColTraceId, shared, &rows, nullptr)
                          .IsInvalidArgument());
          rows = {1};
          EXPECT_TRUE(
              (*reader)->KeepRowsHolding(0, kColTs, "1", &rows, nullptr).IsInvalidArgument());
        }
      }
    }
  }
}

TEST(Segment, BloomsNeverGiveAFalseNegativeOnRealData) {
  FaultInjectionEnv env;
  for (const std::string& rel :
       {std::string("nezha_k8s_microservice_logs/2023-01-29/08_53_log.csv"),
        std::string("loghub_2k/OpenStack/OpenStack_2k.log"),
        std::string("elastic_auth_log/auth.log")}) {
    std::vector<Record> records =
        testdata::LoadRecords(testdata::SharedDir() + "/data/real/" + rel, 6000);
    for (size_t i = 0; i < records.size(); ++i) {
      if (i % 3 == 0) records[i].user_id = "user-" + std::to_string(i % 101);
    }
    WriterOptions options;
    options.block_rows = 1000;
    ASSERT_TRUE(WriteSegment(&env, "/b.seg", TestInfo(), records, options, nullptr).ok());
    auto reader = SegmentReader::Open(&env, "/b.seg");
    ASSERT_TRUE(reader.ok());
    const SegmentReader& r = **reader;
    std::vector<Record> rows = ReadAll(r);
    std::set<std::string> words;
    for (uint32_t b = 0; b < r.blocks().size(); ++b) {
      for (uint32_t row = r.blocks()[b].first_row;
           row < r.blocks()[b].first_row + r.blocks()[b].rows; ++row) {
        const Record& rec = rows[row];
        for (const std::string& w : index::Tokenize(rec.message)) {
          ASSERT_TRUE(r.BlockMayContain(b, "message", w).value_or(false))
              << rel << " block " << b << " " << w;
          words.insert(w);
        }
        if (!rec.trace_id.empty()) {
          ASSERT_TRUE(r.BlockMayContain(b, "trace_id", rec.trace_id).value_or(false));
          ASSERT_TRUE(r.SegmentMayContain("trace_id", rec.trace_id).value_or(false));
        }
        if (!rec.span_id.empty()) {
          ASSERT_TRUE(r.BlockMayContain(b, "span_id", rec.span_id).value_or(false));
        }
        if (!rec.user_id.empty()) {
          ASSERT_TRUE(r.BlockMayContain(b, "user_id", rec.user_id).value_or(false));
        }
      }
    }
    for (const std::string& w : words)
      ASSERT_TRUE(r.SegmentMayContain("message", w).value_or(false)) << w;
    // Case does not matter; phrases and fields without blooms are always "maybe".
    EXPECT_TRUE(r.SegmentMayContain("message", "two words").value_or(false));
    EXPECT_TRUE(r.SegmentMayContain("host", "anything").value_or(false));
    // Words that are absent are ruled out about 99% of the time.
    int maybe = 0;
    const int probes = 20000;
    for (int i = 0; i < probes; ++i) {
      maybe +=
          r.BlockMayContain(0, "message", "absentword" + std::to_string(i) + "x").value_or(true);
    }
    EXPECT_LT(maybe, probes * 3 / 100) << rel;
  }
}

TEST(Segment, SingleBlockSegmentAnswersSegmentBloomFromItsBlock) {
  FaultInjectionEnv env;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 20; ++i) {
    records.push_back(
        MakeRecord(i, "svc", "h", "Connection refused by upstream" + std::to_string(i)));
  }
  ASSERT_TRUE(WriteSegment(&env, "/one.seg", TestInfo(), records, WriterOptions(), nullptr).ok());
  auto reader = SegmentReader::Open(&env, "/one.seg");
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->SegmentMayContain("message", "refused").value_or(false));
  EXPECT_TRUE((*reader)->SegmentMayContain("message", "REFUSED").value_or(false));
  EXPECT_FALSE((*reader)->SegmentMayContain("message", "timeout").value_or(true));
  EXPECT_FALSE((*reader)->BlockMayContain(0, "message", "timeout").value_or(true));
  // Numbers are not in message blooms: always "maybe".
  EXPECT_TRUE((*reader)->SegmentMayContain("message", "12345").value_or(false));
  EXPECT_TRUE((*reader)->SegmentMayContain("message", "250ms").value_or(false));
  EXPECT_FALSE((*reader)->SegmentMayContain("message", "e12345").value_or(true));
}

// A JSON message whose string value repeats the row's trace and span ids verbatim (nezha's
// "TraceID: ... SpanID: ..."): the shape refers to the id columns instead of keeping the ids in
// its extras, every message comes back byte for byte (hot and warm options, message alone or
// with every column), and a shape whose needs do not name an id it refers to is DataLoss.
TEST(Segment, IdsRepeatedInsideAJsonMessageAreStoredOnce) {
  std::mt19937_64 rng(14);
  auto hex = [&](size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out.push_back("0123456789abcdef"[rng() % 16]);
    return out;
  };
  std::vector<Record> records;
  for (uint64_t i = 0; i < 600; ++i) {
    Record r = MakeRecord(i, "ts-travel", "node-1", "");
    r.trace_id = hex(32);
    r.span_id = i % 7 == 0 ? "" : hex(16);
    std::string log = "16:52:28." + std::to_string(i) +
                      " INFO  t.s.Impl#532 TraceID: " + r.trace_id + " SpanID: " + r.span_id +
                      " [get][n=" + std::to_string(i) + "]\\n";
    if (i % 5 == 0) log += " again " + r.trace_id;  // twice in one value
    if (i % 11 == 0) log = r.trace_id + r.span_id;  // ids only, back to back
    if (i % 13 == 0) r.trace_id = "abc";            // too short to refer to
    r.message = "{\"log\":\"" + log + "\",\"stream\":\"stdout\"}";
    records.push_back(std::move(r));
  }
  // The shape of a typical line: holes of both id columns, and no id in its extras.
  const Record& typical = records[1];
  std::string shape, extra;
  ShapeScratch scratch;
  ASSERT_TRUE(BuildJsonShape(typical, &shape, &extra, &scratch));
  EXPECT_EQ(extra.find(typical.trace_id), std::string::npos);
  EXPECT_EQ(extra.find(typical.span_id), std::string::npos);
  EXPECT_EQ(JsonShapeColumns(shape) & (kColTraceId | kColSpanId), kColTraceId | kColSpanId);
  std::string back;
  ASSERT_TRUE(RenderJsonShape(shape, extra, typical, &back).ok());
  EXPECT_EQ(back, typical.message);
  // A damaged reference: the needs byte without the trace id.
  std::string damaged = shape;
  damaged[0] = static_cast<char>(static_cast<uint8_t>(damaged[0]) & ~uint8_t{8});
  back.clear();
  EXPECT_EQ(RenderJsonShape(damaged, extra, typical, &back).code(), StatusCode::kDataLoss);

  FaultInjectionEnv env;
  for (bool warm : {false, true}) {
    SCOPED_TRACE(warm ? "warm" : "hot");
    WriterOptions options = warm ? WarmWriterOptions() : WriterOptions();
    options.block_rows = options.time_slice_rows = 256;
    ASSERT_TRUE(WriteSegment(&env, "/ids.seg", TestInfo(), records, options, nullptr).ok());
    auto reader = SegmentFileReader::OpenFile(&env, "/ids.seg");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    const std::vector<Record> expected = Expected(records, true);
    EXPECT_TRUE(ReadAll(**reader) == expected);
    std::vector<Record> messages = ReadAll(**reader, kColMessage);
    ASSERT_EQ(messages.size(), expected.size());
    for (size_t i = 0; i < messages.size(); ++i) {
      ASSERT_EQ(messages[i].message, expected[i].message) << i;
      EXPECT_TRUE(messages[i].trace_id.empty()) << i;  // decoded for the shape only
    }
    if (warm) continue;
    // The extras blocks (plain or dictionary on the hot options) hold no 32-byte trace id.
    const auto& extras = (*reader)->footer().columns[static_cast<size_t>(ColumnId::kMessageExtra)];
    size_t present = 0;
    for (const BlockRef& ref : extras.blocks) {
      if (!ref.present()) continue;
      ++present;
      std::string raw;
      ASSERT_TRUE((*reader)->ReadPhysical(ref, "extra", &raw, nullptr).ok());
      for (const Record& r : records) {
        if (r.trace_id.size() == 32) {
          ASSERT_EQ(raw.find(r.trace_id), std::string::npos);
        }
      }
    }
    EXPECT_GT(present, 0u);
  }
}

}  // namespace
}  // namespace sawmill::segment
