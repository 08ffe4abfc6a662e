#include "storage/record_chunk.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "objstore/local_directory_store.h"
#include "segment/testdata.h"
#include "storage/memtable.h"

namespace sawmill::storage {
namespace {

std::vector<Record> TrickyRecords() {
  std::vector<Record> out;
  Record empty;  // every string empty, no fields
  out.push_back(empty);
  Record r;
  r.ts = -5;
  r.ingest_ts = INT64_MAX;
  r.seq = UINT64_MAX;
  r.tenant = "acme";
  r.service = "payments";
  r.host = "node-001";
  r.level = Level::kFatal;
  r.trace_id = std::string(32, 'f');
  r.span_id = "0123456789abcdef";
  r.user_id = "u42";
  r.message = std::string(200'000, 'x') + "\xc3\xa9";  // a length of three varint bytes
  r.fields = {{"a", "1"}, {"a", ""}, {"", "v"}, {"nested.key", std::string(130, 'y')}};
  r.flags = kFlagTruncated | kFlagInvalidUtf8;
  out.push_back(r);
  for (int i = 0; i < 300; ++i) {
    Record s;
    s.seq = 1000 + i;
    s.ts = 1'700'000'000'000'000'000 + i;
    s.ingest_ts = s.ts + 7;
    s.service = "svc" + std::to_string(i % 7);
    s.host = "h" + std::to_string(i % 3);
    s.level = static_cast<Level>(i % kLevelCount);
    s.message = std::string(static_cast<size_t>(i), 'm') + " line " + std::to_string(i);
    if (i % 2 == 0) s.fields.emplace_back("k" + std::to_string(i % 5), std::to_string(i));
    out.push_back(s);
  }
  return out;
}

TEST(RecordChunk, EveryRecordReadsBackAsWritten) {
  const std::vector<Record> records = TrickyRecords();
  Chunk chunk = RecordChunk::FromRecords(records);
  ASSERT_EQ(chunk->size(), records.size());
  // Raw, then packed: every row reads back the same either way.
  for (bool packed : {false, true}) {
    if (packed) chunk->Pack();
    ASSERT_EQ(chunk->packed(), packed);
    const std::shared_ptr<const RawChunk> rows = chunk->Rows();
    size_t i = 0;
    for (const Record& r : *chunk) {
      ASSERT_EQ(r, records[i]) << "row " << i << (packed ? ", packed" : "");
      EXPECT_EQ(rows->ts(i), records[i].ts);
      EXPECT_EQ(rows->ingest_ts(i), records[i].ingest_ts);
      EXPECT_EQ(rows->seq(i), records[i].seq);
      EXPECT_EQ(rows->service(i), records[i].service);
      EXPECT_EQ(rows->host(i), records[i].host);
      uint64_t raw = records[i].message.size();
      for (const auto& [k, v] : records[i].fields) raw += k.size() + v.size();
      EXPECT_EQ(rows->raw_bytes(i), raw);
      ++i;
    }
    EXPECT_EQ(i, records.size());
    EXPECT_EQ((*chunk)[1], records[1]);
  }
}

// A reader that took the rows before the chunk was packed keeps reading them; readers after it
// get a decompressed copy; packing twice changes nothing.
TEST(RecordChunk, PackingWhileReadersHoldTheRowsChangesNothingTheySee) {
  const std::vector<Record> records = TrickyRecords();
  Chunk chunk = RecordChunk::FromRecords(records);
  const uint64_t raw_memory = chunk->memory_bytes();
  auto it = chunk->begin();  // holds the raw rows
  const std::shared_ptr<const RawChunk> before = chunk->Rows();
  chunk->Pack();
  chunk->Pack();
  EXPECT_TRUE(chunk->packed());
  EXPECT_LT(chunk->memory_bytes(), raw_memory / 4);  // mostly one long run of 'x'
  for (size_t i = 0; i < records.size(); ++i, ++it) {
    ASSERT_EQ(*it, records[i]) << "row " << i;
    ASSERT_EQ((*before)[i], records[i]) << "row " << i;
  }
  const std::shared_ptr<const RawChunk> after = chunk->Rows();
  EXPECT_NE(after.get(), before.get());
  for (size_t i = 0; i < records.size(); ++i) ASSERT_EQ((*after)[i], records[i]) << "row " << i;
}

// Packing races with readers on other threads: each reader sees every row (a reader that took
// the raw rows keeps them; one that came after decompresses).
TEST(RecordChunk, ReadersOnOtherThreadsSeeEveryRowWhileTheChunkIsPacked) {
  const std::vector<Record> records = TrickyRecords();
  for (int round = 0; round < 20; ++round) {
    Chunk chunk = RecordChunk::FromRecords(records);
    std::vector<std::thread> readers;
    std::atomic<int> bad{0};
    for (int t = 0; t < 3; ++t) {
      readers.emplace_back([&] {
        size_t i = 0;
        for (const Record& r : *chunk) {
          if (!(r == records[i++])) bad.fetch_add(1);
        }
        if (i != records.size()) bad.fetch_add(1);
      });
    }
    chunk->Pack();
    for (auto& t : readers) t.join();
    ASSERT_EQ(bad.load(), 0) << "round " << round;
  }
}

TEST(RecordChunk, AppendedChunksKeepEveryRowInOrder) {
  const std::vector<Record> records = TrickyRecords();
  std::vector<Record> a(records.begin(), records.begin() + 100);
  std::vector<Record> b(records.begin() + 100, records.end());
  RawChunk merged;
  merged.AppendChunk(*RecordChunk::FromRecords(a)->Rows());
  merged.AppendChunk(*RecordChunk::FromRecords(b)->Rows());
  merged.Shrink();
  ASSERT_EQ(merged.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) ASSERT_EQ(merged[i], records[i]) << "row " << i;
}

// What a user notices: the memtable of the same lines holds far less memory, and less again once
// its full chunks are packed (as the engine does after acknowledging the writer).
TEST(RecordChunk, AMemtableOfRealLinesHoldsLessThanHalfOfTheRecordsItReplaces) {
  std::vector<Record> records;
  for (const auto& ds : segment::testdata::RealDatasets()) {
    for (const std::string& path : ds.files) {
      auto some = segment::testdata::LoadRecords(path, 2000);
      records.insert(records.end(), some.begin(), some.end());
    }
  }
  if (records.empty()) GTEST_SKIP() << "no real datasets under " << segment::testdata::SharedDir();
  Memtable m("default", 0, 0);
  uint64_t old_accounting = 0, seq = 0;
  for (Record& r : records) {
    r.seq = ++seq;
    old_accounting += r.ApproximateSize();
    m.Add(r);
  }
  uint64_t held = 0;
  for (const Chunk& c : m.Seal()) held += c->memory_bytes();
  EXPECT_LT(held, old_accounting / 2) << records.size() << " lines";
  // Unpacked, the accounting (what the memory cap and flush triggers read) is near the truth:
  // the cap bounds the memory even before chunks are packed.
  EXPECT_NEAR(static_cast<double>(m.bytes()), static_cast<double>(held), 0.15 * held);

  std::vector<std::weak_ptr<const RecordChunk>> to_pack;
  m.TakeToPack(&to_pack);
  EXPECT_GE(to_pack.size(), records.size() / Memtable::kChunkRows);
  for (const auto& w : to_pack) w.lock()->Pack();
  uint64_t packed = 0;
  for (const Chunk& c : m.Seal()) packed += c->memory_bytes();
  EXPECT_LT(packed, m.bytes() / 3) << "packed " << packed << " of " << m.bytes();
  size_t i = 0;
  for (const Chunk& c : m.Seal()) {
    for (const Record& r : *c) ASSERT_EQ(r, records[i++]) << "row " << i - 1;
  }
  EXPECT_EQ(i, records.size());
}

// The flush writes a memtable's chunks through ChunkRows, one decoded block at a time: the file
// must be the one the same records in a vector give, byte for byte.
TEST(RecordChunk, ASegmentWrittenFromChunksIsTheSegmentOfTheSameRecords) {
  std::vector<Record> records = TrickyRecords();
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].seq = i + 1;
    records[i].tenant = "t";
    if (records[i].ts == 0) records[i].ts = records[i].ingest_ts = 5;
  }
  std::vector<Chunk> chunks;
  for (size_t first = 0; first < records.size(); first += 70) {
    chunks.push_back(RecordChunk::FromRecords(std::vector<Record>(
        records.begin() + static_cast<long>(first),
        records.begin() + static_cast<long>(std::min(records.size(), first + 70)))));
  }
  const auto dir =
      std::filesystem::temp_directory_path() / ("record_chunk_test." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (uint32_t slice : {0u, 64u}) {
    segment::WriterOptions options;
    options.block_rows = 50;
    options.time_slice_rows = slice;
    options.indexed_fields = {"message", "trace_id"};
    options.bloom_fields = {"message", "trace_id"};
    segment::SegmentInfo info, from_vector, from_chunks;
    info.id = 1;
    info.tenant = "t";
    const std::string a = (dir / "a.seg").string(), b = (dir / "b.seg").string();
    ASSERT_TRUE(
        segment::WriteSegment(Env::Default(), a, info, records, options, &from_vector).ok());
    objstore::LocalDirectoryStore store(Env::Default(), dir.string());
    if (slice != 0) {
      for (size_t c = 0; c < chunks.size(); c += 2) chunks[c]->Pack();  // packed or not: same
    }
    ChunkRows rows(chunks);
    ASSERT_TRUE(segment::WriteSegment(&store, "b.seg", info, rows, options, &from_chunks).ok());
    auto slurp = [](const std::string& p) {
      std::ifstream in(p, std::ios::binary);
      std::stringstream s;
      s << in.rdbuf();
      return s.str();
    };
    EXPECT_EQ(slurp(a), slurp(b)) << "time slice " << slice;
    EXPECT_EQ(from_vector.raw_bytes, from_chunks.raw_bytes);
    EXPECT_EQ(from_vector.rows, records.size());
  }
  std::filesystem::remove_all(dir);
}

// A flush's sort keys come from a packed chunk's first frame alone: taking them decompresses no
// chunk in full (the flush reads each chunk's rows only for the block that writes them), and they
// are the keys of the rows as written, packed or not.
TEST(RecordChunk, TheSortKeysOfAPackedChunkAreTakenWithoutDecompressingItsText) {
  std::vector<Record> records = TrickyRecords();
  records[5].tenant = std::string(300, 't');  // a tenant of a two-byte length
  records[6].service = std::string(200, 's');
  records[7].host = std::string(129, 'h');
  std::vector<Chunk> chunks;
  for (size_t first = 0; first < records.size(); first += 64) {
    chunks.push_back(RecordChunk::FromRecords(std::vector<Record>(
        records.begin() + static_cast<long>(first),
        records.begin() + static_cast<long>(std::min(records.size(), first + 64)))));
  }
  for (bool packed : {false, true}) {
    if (packed) {
      for (const Chunk& c : chunks) c->Pack();
    }
    const uint64_t unpacks = RawChunk::Unpacks();
    ChunkRows rows(chunks);
    EXPECT_EQ(RawChunk::Unpacks(), unpacks) << (packed ? "packed" : "not packed");
    ASSERT_EQ(rows.size(), records.size());
    Record got;
    for (size_t i = 0; i < records.size(); ++i) {
      const Record& r = records[i];
      EXPECT_EQ(rows.ts(i), r.ts) << i;
      EXPECT_EQ(rows.ingest_ts(i), r.ingest_ts) << i;
      EXPECT_EQ(rows.seq(i), r.seq) << i;
      EXPECT_EQ(rows.service(i), r.service) << i;
      EXPECT_EQ(rows.host(i), r.host) << i;
      uint64_t raw = r.message.size();
      for (const auto& [k, v] : r.fields) raw += k.size() + v.size();
      EXPECT_EQ(rows.raw_bytes(i), raw) << i;
      rows.Get(i, &got);
      ASSERT_EQ(got, r) << "row " << i << (packed ? ", packed" : "");
    }
    // Reading the rows opened each packed chunk once.
    EXPECT_EQ(RawChunk::Unpacks() - unpacks, packed ? chunks.size() : 0u);
  }
}

// "packed" (RawChunk::Pack) with its first frame, decompressed, changed by "damage" and
// compressed again: memory damaged after packing (the frames carry no checksum).
std::string WithKeyFrameDamaged(const std::string& packed,
                                const std::function<void(std::string*)>& damage) {
  const size_t first = ZSTD_findFrameCompressedSize(packed.data(), packed.size());
  EXPECT_FALSE(ZSTD_isError(first));
  std::string keys(ZSTD_getFrameContentSize(packed.data(), first), '\0');
  EXPECT_EQ(ZSTD_decompress(keys.data(), keys.size(), packed.data(), first), keys.size());
  damage(&keys);
  std::string out(ZSTD_compressBound(keys.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), keys.data(), keys.size(), 1));
  return out + packed.substr(first);
}

// A packed chunk whose key frame was damaged in memory (a row's tenant length now 2^40 - 1, a
// number cut at the frame's end) stops the process saying what is damaged and where, as a failed
// row check does, whether the rows or only the flush's sort keys are read. Before, the reads of
// that frame had no end: the length moved the reader a terabyte past the frame and the next read
// there killed the process with SIGSEGV (or read whatever memory was there).
TEST(RecordChunk, ADamagedKeyFrameStopsNamingTheDamageInsteadOfReadingPastIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Record first;  // every string empty: its key frame row is 7 header bytes and three lengths 0
  first.seq = 1;
  std::vector<Record> records = {first};
  for (const Record& r : TrickyRecords()) records.push_back(r);
  RawChunk rows;
  for (const Record& r : records) rows.Append(r);
  const std::string packed = rows.Pack();
  const std::string long_tenant = WithKeyFrameDamaged(packed, [](std::string* keys) {
    ASSERT_EQ(keys->substr(7, 3), std::string(3, '\0'));
    keys->replace(7, 1, "\xff\xff\xff\xff\xff\x1f");
  });
  const std::string cut_number = WithKeyFrameDamaged(packed, [](std::string* keys) {
    keys->push_back('\x80');  // a number's first byte, more to come, at the very end
  });
  std::string buffer;
  std::vector<RowKey> keys;
  const std::string said =
      "memtable chunk row check failed: the packed chunk's key frame is damaged at byte ";
  EXPECT_EXIT(RawChunk::Unpack(long_tenant, records.size(), rows.text_bytes()),
              ::testing::KilledBySignal(SIGABRT),
              said + "13 of [0-9]+ \\(a text runs past its end\\)");
  EXPECT_EXIT(RawChunk::UnpackKeys(long_tenant, records.size(), &buffer, &keys),
              ::testing::KilledBySignal(SIGABRT),
              said + "13 of [0-9]+ \\(a text runs past its end\\)");
  // One row more than the chunk holds asked for: the reads go on into the cut number.
  EXPECT_EXIT(RawChunk::UnpackKeys(cut_number, records.size() + 1, &buffer, &keys),
              ::testing::KilledBySignal(SIGABRT),
              said + "[0-9]+ of [0-9]+ \\(a number runs past its end\\)");
  // Undamaged, the same bytes read back.
  RawChunk::UnpackKeys(packed, records.size(), &buffer, &keys);
  ASSERT_EQ(keys.size(), records.size());
  EXPECT_EQ(keys[3].service, records[3].service);
  EXPECT_EQ(RawChunk::Unpack(packed, records.size(), rows.text_bytes()).size(), records.size());
}

// The packing contexts are pooled with their buffers, which sawmill_memtable_memory_bytes does not
// count: after a chunk of long lines (12 MiB) they keep none of its size (before: about twice it,
// for the process's life), and after a corpus-sized chunk they keep its buffers for the next.
TEST(RecordChunk, ThePooledPackingBuffersDoNotKeepTheSizeOfALargeChunk) {
  std::vector<Record> large, small;
  for (int i = 0; i < 1024; ++i) {
    Record r;
    r.seq = static_cast<uint64_t>(i);
    r.service = "svc";
    r.message = std::string(12 << 10, static_cast<char>('a' + i % 26)) + std::to_string(i);
    large.push_back(r);
    r.message.resize(200);
    small.push_back(std::move(r));
  }
  const uint64_t before = RawChunk::PooledBytes();
  auto big = RecordChunk::FromRecords(large);
  big->Pack();
  const uint64_t after_large = RawChunk::PooledBytes();
  EXPECT_LT(after_large, before + (1 << 20)) << "pooled buffers after packing a 12 MiB chunk";
  EXPECT_EQ((*big)[1023].message, large[1023].message);  // unpacked through the pool too
  EXPECT_LT(RawChunk::PooledBytes(), before + (1 << 20)) << "after unpacking it";
  auto little = RecordChunk::FromRecords(small);
  little->Pack();
  // Kept for the next chunk: at least the second frame's input (about the chunk's text).
  EXPECT_GE(RawChunk::PooledBytes(), 1024u * 200u);
  EXPECT_LT(RawChunk::PooledBytes(), before + (4 << 20));
}

// A flush holds only the chunks of the block being written, not its whole memtable decompressed:
// rows arriving nearly in time order (as a memtable's do), packed in chunks of 256, written in
// blocks of 1,024 rows (time slices of 1,024) open about five chunks at a time and each chunk
// about once, and the file is the one the records in a vector give.
TEST(RecordChunk, AFlushOpensOnlyTheChunksOfTheBlockBeingWritten) {
  constexpr size_t kChunks = 40, kPerChunk = 256;
  std::vector<Record> records;
  for (size_t i = 0; i < kChunks * kPerChunk; ++i) {
    Record r;
    r.seq = i + 1;
    r.tenant = "t";
    // Up to 300 rows out of time order, as concurrent senders' batches arrive.
    r.ts = 1'700'000'000'000'000'000 + static_cast<int64_t>(i) * 1000 +
           static_cast<int64_t>((i * 7919) % 300) * 1000;
    r.ingest_ts = r.ts + 5;
    r.service = "svc" + std::to_string((i * 31) % 11);
    r.host = "host-" + std::to_string((i * 17) % 23);
    r.level = static_cast<Level>(i % kLevelCount);
    r.trace_id = std::to_string(i * 2654435761u);
    r.message = "request " + std::to_string(i % 97) + " took " + std::to_string(i % 1013) + " ms";
    if (i % 3 == 0) r.fields.emplace_back("status", std::to_string(200 + i % 5));
    records.push_back(std::move(r));
  }
  std::vector<Chunk> chunks;
  for (size_t first = 0; first < records.size(); first += kPerChunk) {
    chunks.push_back(RecordChunk::FromRecords(
        std::vector<Record>(records.begin() + static_cast<long>(first),
                            records.begin() + static_cast<long>(first + kPerChunk))));
    chunks.back()->Pack();
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("record_chunk_test.open." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  segment::WriterOptions options;
  options.block_rows = 1024;
  options.time_slice_rows = 1024;
  segment::SegmentInfo info, from_vector, from_chunks;
  info.id = 1;
  info.tenant = "t";
  const std::string a = (dir / "a.seg").string(), b = (dir / "b.seg").string();
  ASSERT_TRUE(segment::WriteSegment(Env::Default(), a, info, records, options, &from_vector).ok());
  objstore::LocalDirectoryStore store(Env::Default(), dir.string());
  ChunkRows rows(chunks);
  EXPECT_EQ(rows.chunks_open(), 0u);  // the sort keys were taken without keeping any chunk
  ASSERT_TRUE(segment::WriteSegment(&store, "b.seg", info, rows, options, &from_chunks).ok());
  // 1,024 rows are four chunks; the rows out of order reach into the neighbours.
  EXPECT_LE(rows.max_chunks_open(), 6u);
  EXPECT_GE(rows.opens(), kChunks);
  EXPECT_LE(rows.opens(), kChunks + kChunks / 2);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  EXPECT_EQ(slurp(a), slurp(b));
  EXPECT_EQ(from_vector.rows, records.size());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sawmill::storage
