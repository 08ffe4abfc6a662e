// Segment benchmark: bytes on disk per dataset beside zstd -3 / -19 of the raw text, write
// throughput (sort + encode + compress + index + blooms + fsync), and scan throughput.
//
//   bench_segment [--codecs] [--columns] [--store] [--tiers] [--words] [--datasets a,b]
//                 [--dir DIR] [--lines N]
//
// --words: bytes of the message's word postings (index kind word_postings) per real dataset,
// under each candidate rule of which words to post, beside the segment without them
// (docs/format/index.md "Word postings" records the table and the rule chosen from it).
//
// --tiers: bytes per tier (hot as flushed, warm re-encoded with WarmWriterOptions, cold = the
// warm bytes in the object store) for each real dataset and the generated corpus, beside zstd -3
// and zstd -19 of the same raw bytes, and the candidates the warm options were chosen from
// (block rows, zstd levels, inverted indexes kept or thinned); docs/storage.md "Tiers".
//
// --store compares reading one segment opened by path, through the local object store (one file
// descriptor per segment, one pread per range), and through a store without handles (one
// GetRange, so one open() and pread, per range: what a remote store without a read cache pays).
// --codecs also compares the codec of message and field columns (LZ4, zstd 1/3/6/9): the table
// that docs/format/segment.md records. --lines sets the generated 200-byte-line batch (default
// 1,000,000). Prints markdown tables.
#include <time.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/env.h"
#include "objstore/local_directory_store.h"
#include "segment/compression_policy.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
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
bool sort_rows = true;
uint32_t time_slice_rows = WriterOptions().time_slice_rows;

struct Measure {
  uint64_t lines = 0;
  uint64_t file_bytes = 0;
  uint64_t column_bytes = 0, index_bytes = 0, bloom_bytes = 0, word_bytes = 0;
  double write_s = 0, scan_all_s = 0, scan_msg_s = 0;
};

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
  options.time_slice_rows = time_slice_rows;
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
    for (const BlockRef& r : c.blocks) m.column_bytes += r.size;
  }
  if (print_columns) {
    std::vector<std::pair<uint64_t, std::string>> sizes;
    for (const ColumnMeta& c : f.columns) {
      uint64_t stored = 0, raw = 0;
      for (const BlockRef& r : c.blocks) stored += r.size, raw += r.raw_size;
      sizes.emplace_back(stored, c.name + " (raw " + std::to_string(raw) + ")");
    }
    std::sort(sizes.rbegin(), sizes.rend());
    for (size_t i = 0; i < sizes.size() && i < 8; ++i) {
      std::printf("    column %-40s %llu\n", sizes[i].second.c_str(),
                  static_cast<unsigned long long>(sizes[i].first));
    }
  }
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
  std::fflush(stdout);
  struct Candidate {
    const char* what;
    uint32_t block_rows;
    int level;
    bool indexes;
  };
  const Candidate candidates[] = {
      {"8192 rows, zstd 9/3 (hot)", 8192, 0, true},
      {"8192 rows, zstd 19", 8192, 19, true},
      {"65536 rows, zstd 9/3", 65536, 0, true},
      {"65536 rows, zstd 15", 65536, 15, true},
      {"65536 rows, zstd 19", 65536, 19, true},
      {"65536 rows, zstd 19, thinned", 65536, 19, false},
      {"65536 rows, zstd 22, thinned", 65536, 22, false},
      {"262144 rows, zstd 19, thinned", 262144, 19, false},
  };
  for (const Candidate& c : candidates) {
    WriterOptions o;
    o.block_rows = c.block_rows;
    o.text_zstd_level = c.level;
    o.other_zstd_level = c.level;
    if (!c.indexes) o.indexed_fields = {};
    const Measure m = WriteAndScan(path, records, o);
    std::printf("|   %s | | | | | | %llu | index %llu | %.3f | write %.1f MB/s, scan %.1f MB/s |\n",
                c.what, static_cast<unsigned long long>(m.file_bytes),
                static_cast<unsigned long long>(m.index_bytes),
                static_cast<double>(m.file_bytes) / static_cast<double>(z19), mb / m.write_s,
                mb / m.scan_all_s);
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

int Main(int argc, char** argv) {
  bool codecs = false;
  bool tiers = false;
  bool words = false;
  bool store = false;
  std::string dir = "/tmp/sawmill-segment-bench";
  size_t gen_lines = 1'000'000;
  std::string only;  // comma-separated dataset names; empty: all
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--codecs") == 0) {
      codecs = true;
    } else if (std::strcmp(argv[i], "--no-sort") == 0) {
      sort_rows = false;
    } else if (std::strcmp(argv[i], "--time-slice") == 0 && i + 1 < argc) {
      time_slice_rows = static_cast<uint32_t>(std::stoul(argv[++i]));
    } else if (std::strcmp(argv[i], "--store") == 0) {
      store = true;
    } else if (std::strcmp(argv[i], "--words") == 0) {
      words = true;
    } else if (std::strcmp(argv[i], "--tiers") == 0) {
      tiers = true;
    } else if (std::strcmp(argv[i], "--columns") == 0) {
      print_columns = true;
    } else if (std::strcmp(argv[i], "--datasets") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (std::strcmp(argv[i], "--lines") == 0 && i + 1 < argc) {
      gen_lines = std::stoul(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: bench_segment [--codecs] [--columns] [--store] [--tiers] [--no-sort] "
                   "[--time-slice ROWS] [--datasets a,b] [--dir DIR] "
                   "[--lines N]\n");
      return 2;
    }
  }
  if (!Env::Default()->CreateDirs(dir).ok()) return 1;
  std::string path = dir + "/bench.seg";

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
    if (gen_lines > 0) {
      std::string raw;
      std::vector<Record> records = Generated(gen_lines, &raw);
      TierRows("generated corpus (" + std::to_string(gen_lines) + " lines)", path, records, raw);
    }
    return 0;
  }

  if (words) {
    struct Rule {
      const char* name;
      bool postings;
      index::WordPostingsRule rule;
    };
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
        {"chosen (DefaultWordPostingsRule)", true, DefaultWordPostingsRule()},
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
