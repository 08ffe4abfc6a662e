// Segment benchmark: bytes on disk per dataset beside zstd -3 / -19 of the raw text, write
// throughput (sort + encode + compress + index + blooms + fsync), and scan throughput.
//
//   bench_segment [--codecs] [--columns] [--store] [--tiers] [--words] [--few-rows] [--merge N]
//                 [--datasets a,b] [--dir DIR] [--lines N] [--corpus NDJSON]
//
// --words: bytes of the message's word postings (index kind word_postings) per real dataset,
// under each candidate rule of which words to post (the chosen one also without the counts per
// block of the words above its limit: layout 2), beside the segment without them
// (docs/format/index.md "Word postings" records the table and the rule chosen from it).
//
// --tiers: bytes per tier (hot as flushed, warm re-encoded with WarmWriterOptions, cold = the
// warm bytes in the object store) for each real dataset and the first --lines lines of the
// benchmark corpus (--corpus, normalised as the server does; without it, generated lines),
// beside zstd -3 and zstd -19 of the same raw bytes, met/missed for the goal warm <= zstd -19,
// where the warm bytes go, and the per-lever table (each warm lever alone on top of the warm
// options before it, then the chosen ones; --no-candidates leaves the levers out; --warm-levers
// adds the chosen options with one change each to the word postings or the message bloom;
// --pack-sweep adds hot and warm rows for each size below which column blocks share a frame, with
// the CPU time of reading only ts or only the fields of every block);
// docs/storage.md "Warm encoding: measured".
//
// --merge N: the memory of a compaction of N segments of the first --lines lines of the corpus
// (--corpus; generated lines without it), cut into N consecutive segments as N flushes would
// leave them: the peak resident memory each way takes in a child process (the inputs' records
// read into a vector and written, as compaction did before issue 19; MergeSegments, block by
// block), its CPU time, and whether both wrote the same bytes (docs/storage.md "Compaction
// memory").
//
// --few-rows: the CPU of a search's message test (SegmentReader::KeepRowsWithMessage of one
// word) on a few rows of a kTimeText message block (3 rows from row 1,024, the block's last 3)
// beside the same test on every row of the block (what any row count cost when the whole block
// was split: docs/performance.md "Session 18: mends") and beside reading the block alone (its
// decompression, which every call pays too), per real dataset with such blocks.
//
// --store compares reading one segment opened by path, through the local object store (one file
// descriptor per segment, one pread per range), and through a store without handles (one
// GetRange, so one open() and pread, per range: what a remote store without a read cache pays).
// --codecs also compares the codec of message and field columns (LZ4, zstd 1/3/6/9): the table
// that docs/format/segment.md records. --lines sets the generated 200-byte-line batch (default
// 1,000,000). Prints markdown tables.
#include <malloc.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/env.h"
#include "corpus_records.h"
#include "objstore/local_directory_store.h"
#include "segment/column_encoding.h"
#include "segment/compression_policy.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "segment/segment_merge.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

// CPU seconds of this thread: the machine is shared, so wall time would measure the neighbours.
// (Only the fsync wait is missing, which a batch of segments amortises anyway.)
struct CpuClock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};
using Clock = CpuClock;
double Seconds(double since) { return Clock::now() - since; }

size_t ZstdSize(const std::string& raw, int level) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
  return ZSTD_isError(n) ? 0 : n;
}

bool print_columns = false;
bool tier_candidates = true;
bool warm_levers = false;  // --warm-levers
bool pack_sweep = false;
int tiers_met = 0, tiers_missed = 0;
bool sort_rows = true;
// --time-slice: overrides every writer's time_slice_rows (-1: each options' own).
int64_t time_slice_rows = -1;

struct Measure {
  uint64_t lines = 0;
  uint64_t file_bytes = 0;
  uint64_t column_bytes = 0, index_bytes = 0, bloom_bytes = 0, word_bytes = 0;
  double write_s = 0, scan_all_s = 0, scan_msg_s = 0;
  // A word query's first touch of the segment: open it and look a word up (the word postings
  // block read, decompressed and parsed), best of 20.
  double word_lookup_s = 0;
  // CPU seconds per pass of reading one small column (ts) of every block, and the fields of
  // every block; filled only for the --pack-sweep rows (best of several passes).
  double read_ts_s = 0, read_fields_s = 0;
  // Where the bytes went: "column message", "fields (N columns)", "index trace_id",
  // "bloom message", "kind word_postings", "footer, header, trailer"; largest first.
  std::vector<std::pair<uint64_t, std::string>> parts;
};

// Fills m->parts from the footer of a segment of m->file_bytes bytes.
void BreakDown(const Footer& f, Measure* m) {
  std::vector<std::pair<uint64_t, std::string>> parts;
  uint64_t accounted = 0, fields = 0;
  size_t field_columns = 0;
  size_t packed_columns = 0;
  for (const ColumnMeta& c : f.columns) {
    uint64_t stored = 0;
    bool packed = false;
    for (const BlockRef& r : c.blocks) {
      if (!r.packed) stored += r.size;  // packed ones: in the shared frames, below
      packed = packed || r.packed;
    }
    packed_columns += packed;
    accounted += stored;
    if (c.id == ColumnId::kDynamic) {
      fields += stored;
      ++field_columns;
    } else if (stored > 0) {
      parts.emplace_back(stored, "column " + c.name);
    }
  }
  if (field_columns > 0) {
    parts.emplace_back(fields, "fields (" + std::to_string(field_columns) + " columns)");
  }
  uint64_t frames = 0;
  for (const BlockRef& r : f.frames) frames += r.size;
  if (frames > 0) {
    parts.emplace_back(frames, "shared frames (" + std::to_string(packed_columns) + " columns)");
    accounted += frames;
  }
  for (const IndexMeta& i : f.indexes) {
    parts.emplace_back(i.ref.size, "index " + i.field);
    accounted += i.ref.size;
  }
  for (const BloomMeta& b : f.blooms) {
    parts.emplace_back(b.segment_filter.size + b.block_filters.size, "bloom " + b.field);
    accounted += b.segment_filter.size + b.block_filters.size;
  }
  for (const KindIndexMeta& k : f.kind_indexes) {
    parts.emplace_back(k.ref.size, "kind " + k.kind);
    accounted += k.ref.size;
  }
  parts.emplace_back(m->file_bytes - accounted, "footer, header, trailer");
  std::sort(parts.rbegin(), parts.rend());
  m->parts = std::move(parts);
}

// "message 61.2%, bloom message 9.8%, ..." for the parts of at least 0.5% of the file.
std::string PartsText(const Measure& m) {
  std::string out;
  for (const auto& [bytes, what] : m.parts) {
    const double pct = 100.0 * static_cast<double>(bytes) / static_cast<double>(m.file_bytes);
    if (pct < 0.5) continue;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s %llu (%.1f%%)", out.empty() ? "" : ", ", what.c_str(),
                  static_cast<unsigned long long>(bytes), pct);
    out += buf;
  }
  return out;
}

Measure WriteAndScan(const std::string& path, const std::vector<Record>& records,
                     WriterOptions options = WriterOptions()) {
  Measure m;
  m.lines = records.size();
  Env* env = Env::Default();
  SegmentInfo info;
  info.tenant = "bench";
  SegmentInfo out;
  std::vector<Record> copy = records;
  auto start = Clock::now();
  options.sort_rows = sort_rows;
  if (time_slice_rows >= 0) options.time_slice_rows = static_cast<uint32_t>(time_slice_rows);
  Status s = WriteSegment(env, path, info, std::move(copy), options, &out);
  m.write_s = Seconds(start);
  if (!s.ok()) {
    std::fprintf(stderr, "write failed: %s\n", s.ToString().c_str());
    return m;
  }
  m.file_bytes = out.file_bytes;
  auto reader = SegmentFileReader::OpenFile(env, path);
  if (!reader.ok()) {
    std::fprintf(stderr, "open failed: %s\n", reader.status().ToString().c_str());
    return m;
  }
  const Footer& f = (*reader)->footer();
  for (const ColumnMeta& c : f.columns) {
    for (const BlockRef& r : c.blocks) m.column_bytes += r.packed ? 0 : r.size;
  }
  for (const BlockRef& r : f.frames) m.column_bytes += r.size;
  if (print_columns) {
    std::vector<std::pair<uint64_t, std::string>> sizes;
    for (const ColumnMeta& c : f.columns) {
      uint64_t stored = 0, raw = 0;
      for (const BlockRef& r : c.blocks) stored += StoredShare(r), raw += r.raw_size;
      sizes.emplace_back(stored, c.name + " (raw " + std::to_string(raw) + ")");
    }
    std::sort(sizes.rbegin(), sizes.rend());
    for (size_t i = 0; i < sizes.size() && i < 8; ++i) {
      std::printf("    column %-40s %llu\n", sizes[i].second.c_str(),
                  static_cast<unsigned long long>(sizes[i].first));
    }
  }
  BreakDown(f, &m);
  for (const IndexMeta& i : f.indexes) m.index_bytes += i.ref.size;
  for (const BloomMeta& b : f.blooms) m.bloom_bytes += b.segment_filter.size + b.block_filters.size;
  for (const KindIndexMeta& k : f.kind_indexes) {
    if (k.kind == "word_postings") m.word_bytes += k.ref.size;
  }
  std::vector<Record> rows;
  start = Clock::now();
  for (uint32_t b = 0; b < f.blocks.size(); ++b) {
    rows.clear();
    (*reader)->ReadBlock(b, kColAll, &rows, nullptr).IgnoreError();
  }
  m.scan_all_s = Seconds(start);
  start = Clock::now();
  for (uint32_t b = 0; b < f.blocks.size(); ++b) {
    rows.clear();
    (*reader)->ReadBlock(b, kColMessage, &rows, nullptr).IgnoreError();
  }
  m.scan_msg_s = Seconds(start);
  m.word_lookup_s = 1e9;
  for (int run = 0; run < 20; ++run) {
    start = Clock::now();
    auto fresh = SegmentFileReader::OpenFile(env, path);
    if (!fresh.ok()) break;
    index::FieldPredicate p;
    p.field = "message";
    p.builtin = true;
    p.op = index::FieldPredicate::Op::kWord;
    p.value = "nosuchwordanywhere";
    (void)(*fresh)->MatchingRows(p);
    m.word_lookup_s = std::min(m.word_lookup_s, Seconds(start));
  }
  if (pack_sweep) {
    // A small column (what a time filter reads) and the fields (what a field filter reads): what
    // a shared frame costs a reader that wants only some of its columns. Each pass opens the
    // segment afresh (no cache lives past one block read anyway); the best of enough passes to
    // take 0.2 s.
    auto best_of = [&](uint32_t mask) {
      double best = 1e9, total = 0;
      for (int pass = 0; pass < 200 && (pass < 3 || total < 0.2); ++pass) {
        const double t = Clock::now();
        for (uint32_t b = 0; b < f.blocks.size(); ++b) {
          rows.clear();
          (*reader)->ReadBlock(b, mask, &rows, nullptr).IgnoreError();
        }
        const double took = Seconds(t);
        best = std::min(best, took);
        total += took;
      }
      return best;
    };
    m.read_ts_s = best_of(kColTs);
    m.read_fields_s = best_of(kColFields);
  }
  if (const char* keep = std::getenv("BENCH_KEEP_SEGMENTS")) {  // for `sawmill segment dump`
    static int kept = 0;
    env->RenameFile(path, std::string(keep) + "/" + std::to_string(kept++) + ".seg").IgnoreError();
  }
  env->RemoveFile(path).IgnoreError();
  return m;
}

// The local store without its file handles: every range is a GetRange of its own.
class RangeOnlyStore final : public objstore::ObjectStore {
 public:
  RangeOnlyStore(Env* env, std::string root) : target_(env, std::move(root)) {}
  Status Put(std::string_view name, std::string_view data) override {
    return target_.Put(name, data);
  }
  Result<uint64_t> Size(std::string_view name) override { return target_.Size(name); }
  Status GetRange(std::string_view name, uint64_t offset, uint64_t length,
                  std::string* out) override {
    return target_.GetRange(name, offset, length, out);
  }
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    return target_.List(prefix);
  }
  Status Delete(std::string_view name) override { return target_.Delete(name); }
  std::string Location(std::string_view name) const override { return target_.Location(name); }

 private:
  objstore::LocalDirectoryStore target_;
};

// Opens the segment at "dir"/"name" "rounds" times the way "how" says and scans every block,
// all columns or only the message; prints one table row of the best round.
void ScanVia(const char* how, const std::string& dir, const std::string& name, double mb,
             int rounds) {
  double best_open = 1e9, best_all = 1e9, best_msg = 1e9;
  for (int round = 0; round < rounds; ++round) {
    auto start = Clock::now();
    Result<std::shared_ptr<SegmentReader>> reader = Status::Internal("unknown way to open");
    if (std::strcmp(how, "path") == 0) {
      reader = SegmentReader::Open(Env::Default(), dir + "/" + name);
    } else if (std::strcmp(how, "store") == 0) {
      reader = SegmentReader::Open(
          std::make_shared<objstore::LocalDirectoryStore>(Env::Default(), dir), name);
    } else {
      reader = SegmentReader::Open(std::make_shared<RangeOnlyStore>(Env::Default(), dir), name);
    }
    if (!reader.ok()) {
      std::fprintf(stderr, "open failed: %s\n", reader.status().ToString().c_str());
      return;
    }
    best_open = std::min(best_open, Seconds(start));
    std::vector<Record> rows;
    start = Clock::now();
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
      rows.clear();
      (*reader)->ReadBlock(b, kColAll, &rows, nullptr).IgnoreError();
    }
    best_all = std::min(best_all, Seconds(start));
    start = Clock::now();
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
      rows.clear();
      (*reader)->ReadBlock(b, kColMessage, &rows, nullptr).IgnoreError();
    }
    best_msg = std::min(best_msg, Seconds(start));
  }
  std::printf("| %s | %.1f | %.1f | %.1f |\n", how, best_open * 1e6, mb / best_all, mb / best_msg);
  std::fflush(stdout);
}

std::vector<Record> Generated(size_t lines, std::string* raw) {
  std::vector<Record> pool = testdata::LoadRecords(
      testdata::SharedDir() + "/data/real/loghub_2k/OpenStack/OpenStack_2k.log");
  std::vector<Record> out;
  out.reserve(lines);
  uint64_t state = 88172645463325252ULL;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  char buf[512];
  for (size_t i = 0; i < lines; ++i) {
    Record r;
    r.seq = i;
    r.ingest_ts = 1'795'910'400'000'000'000 + static_cast<int64_t>(i) * 86'400'000;
    r.ts = r.ingest_ts - static_cast<int64_t>(next() % 1000) * 1000;
    int svc = static_cast<int>(next() % 50);
    r.service = "service-" + std::to_string(svc);
    r.host = "host-" + std::to_string(svc * 10 + static_cast<int>(next() % 10));
    r.level = static_cast<Level>(2 + next() % 4);
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(next()),
                  static_cast<unsigned long long>(next()));
    r.trace_id = buf;
    std::snprintf(buf, sizeof buf, "u%06d", static_cast<int>(next() % 100000));
    r.user_id = buf;
    const std::string& msg = pool[next() % pool.size()].message;
    r.message = msg.substr(0, 90);
    std::snprintf(buf, sizeof buf,
                  "{\"ts\":%lld,\"service\":\"%s\",\"host\":\"%s\",\"level\":\"%s\",\"trace_id\":"
                  "\"%s\",\"user_id\":\"%s\",\"message\":\"%s\"}\n",
                  static_cast<long long>(r.ts), r.service.c_str(), r.host.c_str(),
                  std::string(LevelName(r.level)).c_str(), r.trace_id.c_str(), r.user_id.c_str(),
                  r.message.c_str());
    raw->append(buf);
    out.push_back(std::move(r));
  }
  return out;
}

// Zstd of "raw" at "level" with long-distance matching over a 128 MiB window ("zstd --long").
size_t ZstdLongSize(const std::string& raw, int level) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 27);
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress2(cctx, out.data(), out.size(), raw.data(), raw.size());
  ZSTD_freeCCtx(cctx);
  return ZSTD_isError(n) ? 0 : n;
}

// The message text of each block of "block_rows" rows as the writer would sort them,
// concatenated: what one message column block holds before encoding.
std::vector<std::string> MessageBlocks(std::vector<Record> records, uint32_t block_rows) {
  std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return std::tie(a.service, a.host, a.ts, a.seq) < std::tie(b.service, b.host, b.ts, b.seq);
  });
  std::vector<std::string> blocks;
  for (size_t i = 0; i < records.size(); ++i) {
    if (i % block_rows == 0) blocks.emplace_back();
    blocks.back() += records[i].message;
    blocks.back() += '\n';
  }
  return blocks;
}

// --warm-levers: the chosen warm options with one change each to the word postings or the
// message bloom (docs/storage.md "Warm encoding: measured"): bytes, the word postings block,
// the message bloom, warm / zstd -19 and the write CPU.
void WarmIndexLevers(const std::string& path, const std::vector<Record>& records, size_t z19,
                     double mb) {
  struct Lever {
    const char* what;
    void (*apply)(WriterOptions*);
  };
  const Lever levers[] = {
      {"before: word postings laid out word by word (layout 1), from 3 rows",
       [](WriterOptions* o) {
         o->word_postings_version = 1;
         o->word_postings.min_rows = 3;
       }},
      {"word postings front-coded in columns (layout 2), from 3 rows",
       [](WriterOptions* o) { o->word_postings.min_rows = 3; }},
      {"layout 2, from 4 rows", [](WriterOptions* o) { o->word_postings.min_rows = 4; }},
      {"layout 3 in every segment (counts per block even in one-block segments), from 5 rows",
       [](WriterOptions* o) { o->word_postings.counts_above_rows = 0; }},
      {"chosen: WarmWriterOptions() (from 5 rows; counts above one block)", [](WriterOptions*) {}},
      {"layout 2, from 3 rows, no message bloom",
       [](WriterOptions* o) {
         o->word_postings.min_rows = 3;
         o->bloom_fields.erase(
             std::remove(o->bloom_fields.begin(), o->bloom_fields.end(), "message"),
             o->bloom_fields.end());
       }},
  };
  for (const Lever& l : levers) {
    WriterOptions o = WarmWriterOptions();
    l.apply(&o);
    const Measure m = WriteAndScan(path, records, o);
    uint64_t postings = 0, bloom = 0;
    for (const auto& [bytes, what] : m.parts) {
      if (what == "kind word_postings") postings = bytes;
      if (what == "bloom message") bloom = bytes;
    }
    std::printf(
        "|   %s | | | | | | %llu | postings %llu, message bloom %llu | %.3f | write %.2f MB/s, "
        "open + word lookup %.0f us |\n",
        l.what, static_cast<unsigned long long>(m.file_bytes),
        static_cast<unsigned long long>(postings), static_cast<unsigned long long>(bloom),
        static_cast<double>(m.file_bytes) / static_cast<double>(z19), mb / m.write_s,
        m.word_lookup_s * 1e6);
    std::fflush(stdout);
  }
}

// --tiers: one dataset's row of the tier table and its warm candidates.
void TierRows(const std::string& name, const std::string& path, const std::vector<Record>& records,
              const std::string& raw) {
  const size_t z3 = ZstdSize(raw, 3), z19 = ZstdSize(raw, 19);
  const Measure hot = WriteAndScan(path, records);
  const Measure warm = WriteAndScan(path, records, WarmWriterOptions());
  const double mb = static_cast<double>(raw.size()) / 1e6;
  std::printf("| %s | %llu | %.2f | %zu | %zu | %llu | %llu | %llu | %.3f | %s |\n", name.c_str(),
              static_cast<unsigned long long>(hot.lines), mb, z3, z19,
              static_cast<unsigned long long>(hot.file_bytes),
              static_cast<unsigned long long>(warm.file_bytes),
              static_cast<unsigned long long>(warm.file_bytes),
              static_cast<double>(warm.file_bytes) / static_cast<double>(z19),
              warm.file_bytes <= z19 ? "met" : "missed");
  ++(warm.file_bytes <= z19 ? tiers_met : tiers_missed);
  std::printf("|   warm bytes: %s | | | | | | | | | |\n", PartsText(warm).c_str());
  std::printf("|   hot bytes: %s | | | | | | | | | |\n", PartsText(hot).c_str());
  std::fflush(stdout);
  if (warm_levers) WarmIndexLevers(path, records, z19, mb);
  if (pack_sweep) {
    // Shared frames (format version 8): warm without them, with the columns below 2 KiB
    // packed, and with the chosen rule (also blocks below 1 MiB whole); hot without them and
    // with the columns below 2 KiB packed. Each with its write throughput and the CPU time of
    // reading only ts, or only the fields, of every block.
    struct Pack {
      bool warm;
      uint32_t columns_below, blocks_below;
    };
    for (const Pack& p : {Pack{true, 0, 0}, Pack{true, 2 << 10, 0}, Pack{true, 2 << 10, 1 << 20},
                          Pack{false, 0, 0}, Pack{false, 2 << 10, 0}}) {
      WriterOptions o = p.warm ? WarmWriterOptions() : WriterOptions();
      o.pack_columns_below = p.columns_below;
      o.pack_blocks_below = p.blocks_below;
      const Measure m = WriteAndScan(path, records, o);
      std::printf(
          "|   %s, shared frame of columns below %u bytes, of blocks below %u | | | | | | %llu | "
          "%.3f of zstd-%d | write %.2f MB/s | read ts %.1f us, fields %.1f us, all %.1f MB/s |\n",
          p.warm ? "warm" : "hot", p.columns_below, p.blocks_below,
          static_cast<unsigned long long>(m.file_bytes),
          static_cast<double>(m.file_bytes) / static_cast<double>(p.warm ? z19 : z3),
          p.warm ? 19 : 3, mb / m.write_s, m.read_ts_s * 1e6, m.read_fields_s * 1e6,
          mb / m.scan_all_s);
      std::fflush(stdout);
    }
  }
  if (!tier_candidates) return;
  uint64_t base_bytes = 0;
  // The levers, each alone on top of the warm options before this measurement, then all the
  // chosen ones together (WarmWriterOptions): docs/storage.md "Warm encoding: measured".
  struct Lever {
    const char* what;
    void (*apply)(WriterOptions*);
  };
  const Lever levers[] = {
      {"warm before (65536 rows, zstd 19, trace_id/user_id index thinned)", [](WriterOptions*) {}},
      {"+ zstd 22 on every column",
       [](WriterOptions* o) { o->text_zstd_level = o->other_zstd_level = 22; }},
      {"+ index, kind blocks and footer at zstd 19",
       [](WriterOptions* o) { o->metadata_zstd_level = 19; }},
      {"+ text layouts (newline-joined or digit runs split out; format 5)",
       [](WriterOptions* o) {
         o->text_layouts = true;
         o->format_version = 5;
       }},
      {"+ text layouts and prefix split (format 6)",
       [](WriterOptions* o) {
         o->text_layouts = true;
         o->format_version = 6;
       }},
      {"+ text layouts, prefix split, scaled times and hex ids (format 7)",
       [](WriterOptions* o) { o->text_layouts = true; }},
      {"+ no segment-wide bloom filters", [](WriterOptions* o) { o->segment_blooms = false; }},
      {"+ one block per segment (up to 2^20 rows)",
       [](WriterOptions* o) { o->block_rows = o->time_slice_rows = 1u << 20; }},
      {"+ no message bloom, word postings from 1 row",
       [](WriterOptions* o) {
         o->bloom_fields.erase(
             std::remove(o->bloom_fields.begin(), o->bloom_fields.end(), "message"),
             o->bloom_fields.end());
         o->word_postings.min_rows = 1;
       }},
      {"+ no word postings (message blooms serve words)",
       [](WriterOptions* o) { o->indexed_fields = {}; }},
      {"+ no trace_id/span_id/user_id blooms (needles scan)",
       [](WriterOptions* o) { o->bloom_fields = {"message"}; }},
      {"chosen: WarmWriterOptions()", nullptr},
  };
  for (const Lever& l : levers) {
    WriterOptions o = WarmWriterOptions();
    if (l.apply != nullptr) {
      o = WriterOptions();
      o.block_rows = o.time_slice_rows = 65536;
      o.text_zstd_level = o.other_zstd_level = 19;
      o.indexed_fields = {"message"};
      l.apply(&o);
    }
    const Measure m = WriteAndScan(path, records, o);
    std::printf(
        "|   %s | | | | | | %llu | %+.1f%% | %.3f | write %.2f MB/s, scan %.1f MB/s |\n", l.what,
        static_cast<unsigned long long>(m.file_bytes),
        base_bytes == 0
            ? 0.0
            : 100.0 * (static_cast<double>(m.file_bytes) / static_cast<double>(base_bytes) - 1),
        static_cast<double>(m.file_bytes) / static_cast<double>(z19), mb / m.write_s,
        mb / m.scan_all_s);
    if (base_bytes == 0) base_bytes = m.file_bytes;
    std::fflush(stdout);
  }
  // Long-window mode on the message blocks of the warm block size: does a window past zstd
  // 19's 8 MiB find more?
  size_t plain = 0, long_mode = 0;
  for (const std::string& block : MessageBlocks(records, WarmWriterOptions().block_rows)) {
    plain += ZstdSize(block, 19);
    long_mode += ZstdLongSize(block, 19);
  }
  std::printf("|   message blocks, zstd 19 vs --long=27 | | | | | | %zu | %zu | %.4f | |\n", plain,
              long_mode,
              plain > 0 ? static_cast<double>(long_mode) / static_cast<double>(plain) : 0);
  std::fflush(stdout);
}

// How far the resident memory of a child process running "work" rose (KiB; VmHWM less the
// VmRSS it started with), and its wall time (s). UINT64_MAX when "work" failed.
uint64_t StatusKiB(const char* key) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  uint64_t v = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, key, std::strlen(key)) == 0) {
      v = std::strtoull(line + std::strlen(key), nullptr, 10);
    }
  }
  std::fclose(f);
  return v;
}

template <typename Fn>
std::pair<uint64_t, double> ChildPeak(Fn work) {
  int fds[2];
  if (pipe(fds) != 0) return {UINT64_MAX, 0};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    malloc_trim(0);  // the parent's freed heap would otherwise be reused unseen
    if (std::FILE* c = std::fopen("/proc/self/clear_refs", "w")) {  // resets VmHWM
      std::fputs("5", c);
      std::fclose(c);
    }
    const uint64_t start = StatusKiB("VmRSS:");
    const double t = Clock::now();
    const bool ok = work();
    std::pair<uint64_t, double> r{ok ? StatusKiB("VmHWM:") - start : UINT64_MAX, Clock::now() - t};
    if (write(fds[1], &r, sizeof(r)) != sizeof(r)) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  std::pair<uint64_t, double> r{UINT64_MAX, 0};
  if (read(fds[0], &r, sizeof(r)) != sizeof(r)) r = {UINT64_MAX, 0};
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return r;
}

int MergeMemory(const std::string& dir, size_t inputs, const std::string& corpus, size_t lines) {
  std::string raw;
  std::vector<Record> records =
      corpus.empty() ? Generated(lines, &raw) : bench::CorpusRecords(corpus, lines, &raw);
  if (records.empty() || inputs == 0) return 1;
  const double raw_mb = static_cast<double>(raw.size()) / 1048576.0;
  raw = std::string();
  objstore::LocalDirectoryStore store(Env::Default(), dir);
  std::vector<std::shared_ptr<SegmentReader>> readers;
  uint64_t input_bytes = 0;
  for (size_t i = 0; i < inputs; ++i) {
    const size_t from = records.size() * i / inputs, to = records.size() * (i + 1) / inputs;
    std::vector<Record> part(std::make_move_iterator(records.begin() + static_cast<long>(from)),
                             std::make_move_iterator(records.begin() + static_cast<long>(to)));
    SegmentInfo info, out;
    info.id = i + 1;
    info.tenant = "bench";
    const std::string name = "merge-in-" + std::to_string(i) + ".seg";
    Status s = WriteSegment(&store, name, info, std::move(part), WriterOptions(), &out);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    input_bytes += out.file_bytes;
    auto reader = SegmentReader::Open(Env::Default(), dir + "/" + name);
    if (!reader.ok()) return 1;
    readers.push_back(*reader);
  }
  const size_t n = records.size();
  records = std::vector<Record>();
  SegmentInfo info;
  info.id = 1000;
  info.tenant = "bench";
  auto held = ChildPeak([&] {
    std::vector<Record> rows;
    for (const auto& reader : readers) {
      for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
        if (!reader->ReadBlock(b, kColAll, &rows, nullptr).ok()) return false;
      }
    }
    return WriteSegment(&store, "merge-held.seg", info, std::move(rows), WriterOptions(), nullptr)
        .ok();
  });
  auto merged = ChildPeak([&] {
    return MergeSegments(&store, "merge-streamed.seg", info, readers, WriterOptions(), nullptr)
        .ok();
  });
  std::string a, b;
  const bool same = ReadFileToString(Env::Default(), dir + "/merge-held.seg", &a).ok() &&
                    ReadFileToString(Env::Default(), dir + "/merge-streamed.seg", &b).ok() &&
                    a == b;
  std::printf(
      "## Compaction memory: %zu segments of %zu %s lines (%.1f MiB raw, %.1f MiB of "
      "segments) merged into one\n\n",
      inputs, n, corpus.empty() ? "generated" : "corpus", raw_mb, input_bytes / 1048576.0);
  std::printf("| how | peak RSS rise (MiB) | CPU s |\n|---|---|---|\n");
  std::printf("| records read into a vector, then written (before) | %.1f | %.2f |\n",
              held.first / 1024.0, held.second);
  std::printf("| MergeSegments, block by block (after) | %.1f | %.2f |\n", merged.first / 1024.0,
              merged.second);
  std::printf("\nsame bytes written: %s (%zu bytes)\n", same ? "yes" : "NO", b.size());
  for (size_t i = 0; i < inputs; ++i) {
    Env::Default()->RemoveFile(dir + "/merge-in-" + std::to_string(i) + ".seg").IgnoreError();
  }
  Env::Default()->RemoveFile(dir + "/merge-held.seg").IgnoreError();
  Env::Default()->RemoveFile(dir + "/merge-streamed.seg").IgnoreError();
  return same && held.first != UINT64_MAX && merged.first != UINT64_MAX ? 0 : 1;
}

// A search's test of one word, as the query layer builds it for a bare word (the bench does not
// link the query layer): whether the message holds "word" as bytes.
class WordTest final : public TextTest {
 public:
  explicit WordTest(std::string word) : word_(std::move(word)) {}
  bool Passes(std::string_view text) const override {
    return text.find(word_) != std::string_view::npos;
  }
  bool AvoidsTimes() const override { return !WordMayBeInTime(word_, false); }
  bool PassesAround(std::string_view before, std::string_view after) const override {
    return Passes(before) || Passes(after);
  }

 private:
  std::string word_;
};

// --few-rows: one dataset's row of the table (nothing when it has no kTimeText message block of
// more than 1,030 rows).
void FewRowsRow(const std::string& name, const std::string& path, std::vector<Record> records,
                const std::string& word) {
  SegmentInfo info;
  info.tenant = "bench";
  if (!WriteSegment(Env::Default(), path, info, std::move(records), WriterOptions(), nullptr)
           .ok()) {
    return;
  }
  auto reader = SegmentFileReader::OpenFile(Env::Default(), path);
  if (!reader.ok()) return;
  const Footer& f = (*reader)->footer();
  const ColumnMeta& message = f.columns[static_cast<size_t>(ColumnId::kMessage)];
  const WordTest test(word);
  double cpu[3] = {0, 0, 0};  // 3 rows from 1,024; the last 3; every row
  double read = 0;            // the block's bytes read and decompressed alone (in each call)
  size_t blocks = 0, rows = 0;
  constexpr int kCalls = 200;
  for (uint32_t b = 0; b < f.blocks.size(); ++b) {
    std::string raw;
    if (!(*reader)->ReadPhysical(message.blocks[b], "column", &raw, nullptr).ok() || raw.empty() ||
        static_cast<Encoding>(raw[0]) != Encoding::kTimeText || f.blocks[b].rows < 1030) {
      continue;
    }
    const uint32_t n = f.blocks[b].rows;
    ++blocks;
    rows += n;
    std::vector<uint32_t> every(n);
    for (uint32_t r = 0; r < n; ++r) every[r] = r;
    const std::vector<uint32_t> cases[3] = {{1024, 1025, 1026}, {n - 3, n - 2, n - 1}, every};
    const double read_start = Clock::now();
    for (int i = 0; i < kCalls; ++i) {
      if (!(*reader)->ReadPhysical(message.blocks[b], "column", &raw, nullptr).ok()) return;
    }
    read += Seconds(read_start) / kCalls;
    for (int c = 0; c < 3; ++c) {
      std::vector<std::string> kept;
      const double start = Clock::now();
      for (int i = 0; i < kCalls; ++i) {
        std::vector<uint32_t> wanted = cases[c];
        if (!(*reader)->KeepRowsWithMessage(b, test, &wanted, &kept, nullptr).ok()) return;
      }
      cpu[c] += Seconds(start) / kCalls;
    }
  }
  Env::Default()->RemoveFile(path).IgnoreError();
  if (blocks == 0) return;
  const double us = 1e6 / static_cast<double>(blocks);
  std::printf("| %s | %zu | %zu | %.1f | %.1f | %.1f | %.1f | %.1fx |\n", name.c_str(), blocks,
              rows / blocks, read * us, cpu[0] * us, cpu[1] * us, cpu[2] * us,
              (cpu[2] - read) / (cpu[0] - read));
}

int Main(int argc, char** argv) {
  bool codecs = false;
  bool tiers = false;
  bool words = false;
  bool store = false;
  bool few_rows = false;
  std::string dir = "/tmp/sawmill-segment-bench";
  size_t gen_lines = 1'000'000;
  std::string only;         // comma-separated dataset names; empty: all
  std::string corpus;       // --corpus: the benchmark corpus (NDJSON) instead of generated lines
  size_t merge_inputs = 0;  // --merge N
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--codecs") == 0) {
      codecs = true;
    } else if (std::strcmp(argv[i], "--no-sort") == 0) {
      sort_rows = false;
    } else if (std::strcmp(argv[i], "--time-slice") == 0 && i + 1 < argc) {
      time_slice_rows = static_cast<int64_t>(std::stoul(argv[++i]));
    } else if (std::strcmp(argv[i], "--store") == 0) {
      store = true;
    } else if (std::strcmp(argv[i], "--merge") == 0 && i + 1 < argc) {
      merge_inputs = std::stoul(argv[++i]);
    } else if (std::strcmp(argv[i], "--words") == 0) {
      words = true;
    } else if (std::strcmp(argv[i], "--few-rows") == 0) {
      few_rows = true;
    } else if (std::strcmp(argv[i], "--tiers") == 0) {
      tiers = true;
    } else if (std::strcmp(argv[i], "--pack-sweep") == 0) {
      pack_sweep = true;
    } else if (std::strcmp(argv[i], "--no-candidates") == 0) {
      tier_candidates = false;
    } else if (std::strcmp(argv[i], "--warm-levers") == 0) {
      warm_levers = true;
    } else if (std::strcmp(argv[i], "--columns") == 0) {
      print_columns = true;
    } else if (std::strcmp(argv[i], "--datasets") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (std::strcmp(argv[i], "--corpus") == 0 && i + 1 < argc) {
      corpus = argv[++i];
    } else if (std::strcmp(argv[i], "--lines") == 0 && i + 1 < argc) {
      gen_lines = std::stoul(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: bench_segment [--codecs] [--columns] [--store] [--tiers] [--few-rows] "
                   "[--merge N] "
                   "[--no-candidates] [--warm-levers] [--pack-sweep] "
                   "[--no-sort] [--time-slice ROWS] [--datasets a,b] [--dir DIR] "
                   "[--lines N] [--corpus NDJSON]\n");
      return 2;
    }
  }
  if (!Env::Default()->CreateDirs(dir).ok()) return 1;
  std::string path = dir + "/bench.seg";
  if (merge_inputs > 0) return MergeMemory(dir, merge_inputs, corpus, gen_lines);

  if (store) {
    std::string raw;
    std::vector<Record> records = Generated(gen_lines, &raw);
    SegmentInfo info;
    info.tenant = "bench";
    Status s =
        WriteSegment(Env::Default(), path, info, std::move(records), WriterOptions(), nullptr);
    if (!s.ok()) {
      std::fprintf(stderr, "write failed: %s\n", s.ToString().c_str());
      return 1;
    }
    const double mb = static_cast<double>(raw.size()) / 1e6;
    std::printf("## Reading one segment of %zu generated lines (%.1f MB raw), best of 5\n\n",
                gen_lines, mb);
    std::printf("| opened by | open us/core | scan all MB/s/core | scan message MB/s/core |\n");
    std::printf("|---|---|---|---|\n");
    for (const char* how : {"path", "store", "store, one GetRange per range"}) {
      ScanVia(how, dir, "bench.seg", mb, 5);
    }
    Env::Default()->RemoveFile(path).IgnoreError();
    return 0;
  }

  if (few_rows) {
    std::printf(
        "## A search's word test on a few rows of a time-text message block (CPU us a call)\n\n"
        "| dataset | blocks | rows a block | block read alone | 3 rows from 1,024 | last 3 rows "
        "| every row | every row / 3 rows, less the read |\n|---|---|---|---|---|---|---|---|\n");
    for (const testdata::Dataset& d : testdata::RealDatasets()) {
      if (!only.empty() && ("," + only + ",").find("," + d.name + ",") == std::string::npos) {
        continue;
      }
      FewRowsRow(d.name, path, testdata::LoadDataset(d), "session");
    }
    return 0;
  }

  if (tiers) {
    std::printf("## Bytes per tier (index and blooms included) beside zstd of the raw text\n\n");
    std::printf(
        "| dataset | lines | raw MB | zstd -3 | zstd -19 | hot | warm | cold | warm / zstd-19 | "
        "goal warm <= zstd -19 |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (const testdata::Dataset& d : testdata::RealDatasets()) {
      if (!only.empty() && ("," + only + ",").find("," + d.name + ",") == std::string::npos) {
        continue;
      }
      std::vector<Record> records;
      std::string raw;
      for (size_t f = 0; f < d.files.size(); ++f) {
        std::vector<Record> part = testdata::LoadRecords(d.files[f], 0, d.name);
        for (Record& r : part) {
          r.ts += static_cast<int64_t>(f) * 3'600'000'000'000;
          r.seq += records.size();
          records.push_back(std::move(r));
        }
        raw += testdata::RawText(d.files[f]);
      }
      TierRows(d.name, path, records, raw);
    }
    if (gen_lines > 0 && !corpus.empty()) {
      std::string raw;
      std::vector<Record> records = bench::CorpusRecords(corpus, gen_lines, &raw);
      if (!records.empty()) {
        TierRows("corpus (first " + std::to_string(records.size()) + " lines)", path, records, raw);
      }
    } else if (gen_lines > 0) {
      std::string raw;
      std::vector<Record> records = Generated(gen_lines, &raw);
      TierRows("generated lines (" + std::to_string(gen_lines) + ", random ids)", path, records,
               raw);
    }
    std::printf("\nGoal warm <= zstd -19: met on %d of %d, missed on %d\n", tiers_met,
                tiers_met + tiers_missed, tiers_missed);
    return 0;
  }

  if (words) {
    struct Rule {
      const char* name;
      bool postings;
      index::WordPostingsRule rule;
      uint32_t layout = 0;  // WriterOptions::word_postings_version
    };
    // The rule before words without a digit were posted from one row (session 11's).
    index::WordPostingsRule main_rule = DefaultWordPostingsRule();
    main_rule.letter_words_above_rows = UINT64_MAX;
    const Rule rules[] = {
        {"none", false, {}},
        {"all words", true, {}},
        {"no numbers", true, {1, 0, false, 1.0, 0}},
        {"no numbers, 1 row to 1%", true, {1, 0, false, 0.01, 0}},
        {"no numbers, 2 rows and up", true, {2, 0, false, 1.0, 0}},
        {"no numbers, 2 rows to 1%", true, {2, 0, false, 0.01, 0}},
        {"no numbers, 2 rows to 0.1%", true, {2, 0, false, 0.001, 0}},
        {"no numbers, 3 rows to 1%", true, {3, 0, false, 0.01, 0}},
        {"no numbers, 3 rows to 0.1%", true, {3, 0, false, 0.001, 0}},
        {"chosen, layout 2 (no counts of the unposted words)", true, DefaultWordPostingsRule(), 2},
        {"chosen (DefaultWordPostingsRule)", true, DefaultWordPostingsRule()},
        {"chosen without letter words below 3 rows (main before it)", true, main_rule},
        {"chosen, every word (ids too) from 1 row", true, {1, 0, false, 0.001, 16, 0}},
    };
    std::printf(
        "## Word postings: segment bytes (word postings bytes) per rule\n\n| dataset | lines |");
    for (const Rule& r : rules) std::printf(" %s |", r.name);
    std::printf("\n|---|---|");
    for (size_t i = 0; i < std::size(rules); ++i) std::printf("---|");
    std::printf("\n");
    for (const testdata::Dataset& d : testdata::RealDatasets()) {
      if (!only.empty() && ("," + only + ",").find("," + d.name + ",") == std::string::npos) {
        continue;
      }
      std::vector<Record> records;
      for (size_t f = 0; f < d.files.size(); ++f) {
        std::vector<Record> part = testdata::LoadRecords(d.files[f], 0, d.name);
        for (Record& r : part) {
          r.ts += static_cast<int64_t>(f) * 3'600'000'000'000;
          r.ingest_ts += static_cast<int64_t>(f) * 3'600'000'000'000;
          r.seq += records.size();
          records.push_back(std::move(r));
        }
      }
      std::printf("| %s | %zu |", d.name.c_str(), records.size());
      for (const Rule& r : rules) {
        WriterOptions o;
        if (!r.postings) {
          o.indexed_fields.erase(
              std::remove(o.indexed_fields.begin(), o.indexed_fields.end(), "message"),
              o.indexed_fields.end());
        }
        o.word_postings = r.rule;
        o.word_postings_version = r.layout;
        Measure m = WriteAndScan(path, records, o);
        std::printf(" %llu (%llu) |", static_cast<unsigned long long>(m.file_bytes),
                    static_cast<unsigned long long>(m.word_bytes));
        std::fflush(stdout);
      }
      std::printf("\n");
    }
    return 0;
  }

  std::printf("## Segment bytes on disk (hot, index and blooms included) vs the raw text\n\n");
  std::printf(
      "| dataset | lines | raw MB | zstd -3 | zstd -19 | segment | seg / zstd-3 | of which index "
      "| blooms | write lines/s/core | write raw MB/s/core | scan all MB/s/core | scan message "
      "MB/s/core |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    if (!only.empty() && ("," + only + ",").find("," + d.name + ",") == std::string::npos) continue;
    std::vector<Record> records;
    std::string raw;
    for (size_t f = 0; f < d.files.size(); ++f) {
      const std::string& file = d.files[f];
      // One service per dataset; the folder holding a file is its host.
      std::vector<Record> part = testdata::LoadRecords(file, 0, d.name);
      // Files follow each other in time (an hour apart) and in sequence numbers.
      for (Record& r : part) {
        r.ts += static_cast<int64_t>(f) * 3'600'000'000'000;
        r.ingest_ts += static_cast<int64_t>(f) * 3'600'000'000'000;
        r.seq += records.size();
        records.push_back(std::move(r));
      }
      raw += testdata::RawText(file);
    }
    size_t z3 = ZstdSize(raw, 3), z19 = ZstdSize(raw, 19);
    Measure m = WriteAndScan(path, records);
    double mb = static_cast<double>(raw.size()) / 1e6;
    std::printf(
        "| %s | %llu | %.2f | %zu | %zu | %llu | %.3f | %llu | %llu | %.0f | %.1f | %.1f | %.1f "
        "|\n",
        d.name.c_str(), static_cast<unsigned long long>(m.lines), mb, z3, z19,
        static_cast<unsigned long long>(m.file_bytes),
        static_cast<double>(m.file_bytes) / static_cast<double>(z3),
        static_cast<unsigned long long>(m.index_bytes),
        static_cast<unsigned long long>(m.bloom_bytes), static_cast<double>(m.lines) / m.write_s,
        mb / m.write_s, mb / m.scan_all_s, mb / m.scan_msg_s);
    std::fflush(stdout);
    if (codecs) {
      const CodecChoice choices[] = {{Codec::kLz4, 0},  {Codec::kZstd, 1}, {Codec::kZstd, 3},
                                     {Codec::kZstd, 6}, {Codec::kZstd, 9}, {Codec::kZstd, 15}};
      for (const CodecChoice& c : choices) {
        OverrideTextCodecForBenchmark(&c);
        Measure cm = WriteAndScan(path, records);
        std::printf("|   text codec %s%s | | | | | %llu | %.3f | | | %.0f | %.1f | %.1f | %.1f |\n",
                    c.codec == Codec::kLz4 ? "lz4" : "zstd ",
                    c.codec == Codec::kLz4 ? "" : std::to_string(c.level).c_str(),
                    static_cast<unsigned long long>(cm.file_bytes),
                    static_cast<double>(cm.file_bytes) / static_cast<double>(z3),
                    static_cast<double>(cm.lines) / cm.write_s, mb / cm.write_s, mb / cm.scan_all_s,
                    mb / cm.scan_msg_s);
        std::fflush(stdout);
      }
      OverrideTextCodecForBenchmark(nullptr);
    }
  }

  if (gen_lines > 0) {
    std::string raw;
    std::vector<Record> records = Generated(gen_lines, &raw);
    size_t z3 = ZstdSize(raw, 3);
    Measure m = WriteAndScan(path, records);
    double mb = static_cast<double>(raw.size()) / 1e6;
    std::printf("\n## Generated lines (%.0f bytes each as NDJSON), one segment\n\n",
                static_cast<double>(raw.size()) / static_cast<double>(gen_lines));
    std::printf(
        "| lines | raw MB | zstd -3 | segment | seg / zstd-3 | write lines/s | scan all MB/s "
        "| scan message MB/s |\n|---|---|---|---|---|---|---|---|\n");
    std::printf("| %zu | %.1f | %zu | %llu | %.3f | %.0f | %.1f | %.1f |\n", gen_lines, mb, z3,
                static_cast<unsigned long long>(m.file_bytes),
                static_cast<double>(m.file_bytes) / static_cast<double>(z3),
                static_cast<double>(m.lines) / m.write_s, mb / m.scan_all_s, mb / m.scan_msg_s);
  }
  return 0;
}

}  // namespace
}  // namespace sawmill::segment

int main(int argc, char** argv) { return sawmill::segment::Main(argc, argv); }
