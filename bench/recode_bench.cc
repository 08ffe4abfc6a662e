// bench_recode: re-encodes existing segments with other writer options and prints their bytes
// per column and the writer's CPU, to measure an encoding lever on the segments a real server
// wrote (issue 19, "bytes on disk"; docs/performance.md "Bytes at 10,000,000 lines").
//
//   bench_recode [--variant NAME]... [--dir TMP] SEGMENT...
//   bench_recode [--variant NAME]... [--dir TMP] --real
//   bench_recode --variant NAME [--no-reads] --keep OUT SEGMENT
//   bench_recode --probe N SEGMENT...
//   bench_recode --trace-reads N SEGMENT...
//   bench_recode --dump-only SEGMENT
//
// The segments are merged into one (as compaction would: MergeSegments), once per variant, and
// the output's bytes per column, index and bloom are printed beside the inputs'. --keep keeps
// the last variant's output of one input segment at OUT, as the same segment (its id), to put a
// store's segment re-encoded in its place (a copy of the store: query CPU of a format change);
// --no-reads leaves out the timed reads of each variant's output (bytes only).
// Variants are the named option sets of Variant() below; "hot" is WriterOptions() as compaction
// writes today.
// --real writes every real dataset of shared/data/real (each one segment, all its files, as
// bench_segment loads them) once per variant and prints its bytes and its message column's.
// --probe N asks the segments' trace-id filters about N trace ids drawn from their own rows
// (evenly spaced) and N random ids in none, as `trace_id=X` asks them (SegmentMayMatch, then
// BlockMayMatch of each block), and prints the blocks a lookup would read beyond those holding
// the id (the filters' false blocks), per segment and in all, with the filters' bytes.
// --trace-reads N times, in process (CPU, best of 3 after a warm pass, the readers kept open as
// a server keeps them), what reads trace ids: N present and N absent ids looked up as
// `trace_id=X` reads them (the filters, KeepRowsHolding of each block they let through, the
// rows found read whole), a few rows of every block (ReadRows of 7 rows, the trace ids alone
// and every column: a newest-first search's reads), and every block's trace ids
// (ReadColumnValues): format 26's trace ids inside their filters against 23's.
// --dump-only prints `sawmill segment dump`'s text of one segment (bench/store_columns.py reads
// it through a wrapper where no server binary of the format is built).
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "index/index_kind.h"
#include "objstore/local_directory_store.h"
#include "segment/column_encoding.h"
#include "segment/segment.h"
#include "segment/segment_merge.h"
#include "segment/segment_tools.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

bool Variant(const std::string& name, WriterOptions* o) {
  *o = WriterOptions();
  if (name == "hot") return true;
  if (name == "warm") {
    *o = WarmWriterOptions();
    return true;
  }
  // name := ["warm+"] part ("+" part)*; part := key "=" value
  size_t pos = 0;
  if (name.rfind("warm+", 0) == 0) {
    *o = WarmWriterOptions();
    pos = 5;
  }
  while (pos < name.size()) {
    size_t end = name.find('+', pos);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = part.find('=');
    if (eq == std::string::npos) return false;
    const std::string key = part.substr(0, eq);
    const long v = std::atol(part.c_str() + eq + 1);
    if (key == "rows") {
      o->block_rows = static_cast<uint32_t>(v);
    } else if (key == "slice") {
      o->time_slice_rows = static_cast<uint32_t>(v);
    } else if (key == "text") {
      o->text_zstd_level = static_cast<int>(v);
    } else if (key == "other") {
      o->other_zstd_level = static_cast<int>(v);
    } else if (key == "meta") {
      o->metadata_zstd_level = static_cast<int>(v);
    } else if (key == "layouts") {
      o->text_layouts = v != 0;
    } else if (key == "probe") {
      o->text_layout_probe = v != 0;
    } else if (key == "segblooms") {
      o->segment_blooms = v != 0;
    } else if (key == "sub") {
      o->subblock_bytes = static_cast<uint32_t>(v);
    } else if (key == "suball") {
      // Every per-row text column block over 1.5 times "sub" split, whatever it costs (the
      // message too: what sub-frames of a message block cost in bytes).
      o->subblock_always = v != 0;
    } else if (key == "version") {
      o->format_version = static_cast<uint32_t>(v);
    } else if (key == "pack") {
      o->pack_columns_below = static_cast<uint32_t>(v);
    } else if (key == "fields") {
      o->pack_fields_below = static_cast<uint32_t>(v);
    } else if (key == "packblocks") {
      o->pack_blocks_below = static_cast<uint32_t>(v);
    } else if (key == "letters") {
      // Words without a digit posted from one row on only in segments of more than this many
      // rows (WordPostingsRule::letter_words_above_rows); -1: never.
      o->word_postings.letter_words_above_rows = v < 0 ? UINT64_MAX : static_cast<uint64_t>(v);
    } else if (key == "counts") {
      // The rows per block of words too frequent to post only in segments of more than this
      // many rows (WordPostingsRule::counts_above_rows).
      o->word_postings.counts_above_rows = static_cast<uint64_t>(v);
    } else if (key == "minrows") {
      o->word_postings.min_rows = static_cast<uint32_t>(v);
    } else if (key == "listbelow") {
      // (Version 16) Posted user ids in fewer rows than this as block lists, the rest as rows
      // (ValuePostingsRule::list_below_rows); -1: every value as a block list.
      o->value_postings.list_below_rows = v < 0 ? UINT32_MAX : static_cast<uint32_t>(v);
    } else if (key == "timeref") {
      // (Version 13) 0: kTimeText stores the times themselves, not against the rows' ts.
      o->time_text_against_ts = v != 0;
    } else {
      return false;
    }
  }
  return true;
}

// "columns:" to the end of the index kinds of a DumpSegment, the sizes only.
std::string Sizes(const std::string& dump) {
  std::string out;
  size_t at = dump.find("columns:");
  size_t end = dump.find("first ");
  if (at == std::string::npos) return dump;
  out = dump.substr(at, end == std::string::npos ? std::string::npos : end - at);
  return out;
}

// The message column's stored bytes of the segment at "path" (its blocks and sub-blocks).
uint64_t MessageBytes(Env* env, const std::string& path) {
  std::string dump;
  if (!DumpSegment(env, path, 0, &dump).ok()) return 0;
  const size_t at = dump.find("\n  message ");
  if (at == std::string::npos) return 0;
  unsigned long long blocks = 0, stored = 0;
  std::sscanf(dump.c_str() + at, "\n  message %llu %llu", &blocks, &stored);
  return stored;
}

// --real: each real dataset written as one segment per variant.
int Real(Env* env, const std::string& dir, const std::vector<std::string>& variants) {
  objstore::LocalDirectoryStore store(env, dir);
  std::vector<uint64_t> totals(variants.size()), messages(variants.size());
  std::vector<double> cpus(variants.size());
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    std::vector<Record> records;
    for (const std::string& file : d.files) {
      for (Record& r : testdata::LoadRecords(file)) records.push_back(std::move(r));
    }
    for (size_t i = 0; i < records.size(); ++i) records[i].seq = i;
    SegmentInfo info;
    info.id = 1;
    info.tenant = "default";
    for (size_t v = 0; v < variants.size(); ++v) {
      WriterOptions o;
      if (!Variant(variants[v], &o)) {
        std::fprintf(stderr, "unknown variant %s\n", variants[v].c_str());
        return 2;
      }
      SegmentInfo out;
      const double cpu0 = CpuSeconds();
      Status s = WriteSegment(&store, "real.seg", info, records, o, &out);
      const double cpu = CpuSeconds() - cpu0;
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", d.name.c_str(), s.ToString().c_str());
        return 1;
      }
      const uint64_t message = MessageBytes(env, dir + "/real.seg");
      std::printf("%-28s %-30s %8zu lines %10llu bytes  message %10llu  write CPU %.2f s\n",
                  d.name.c_str(), variants[v].c_str(), records.size(),
                  static_cast<unsigned long long>(out.file_bytes),
                  static_cast<unsigned long long>(message), cpu);
      totals[v] += out.file_bytes;
      messages[v] += message;
      cpus[v] += cpu;
      env->RemoveFile(dir + "/real.seg").IgnoreError();
    }
    std::fflush(stdout);
  }
  for (size_t v = 0; v < variants.size(); ++v) {
    std::printf("%-28s %-30s %10llu bytes  message %10llu  write CPU %.2f s\n", "all",
                variants[v].c_str(), static_cast<unsigned long long>(totals[v]),
                static_cast<unsigned long long>(messages[v]), cpus[v]);
  }
  return 0;
}

// --tsv FILE: the key columns of every row of the inputs (block, ts, ingest_ts, seq, service,
// host, trace_id, user_id) as tab-separated lines, in stored order, for studying their encodings.
int Tsv(const std::vector<std::shared_ptr<SegmentReader>>& readers, const std::string& path,
        const std::string& message_dir) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return 1;
  uint32_t n = 0;
  for (const auto& r : readers) {
    for (uint32_t b = 0; b < r->blocks().size(); ++b, ++n) {
      std::vector<Record> rows;
      Status s = r->ReadBlock(
          b, kColTs | kColIngestTs | kColSeq | kColService | kColHost | kColTraceId | kColUserId,
          &rows, nullptr);
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
      }
      if (!message_dir.empty()) {
        std::vector<Record> texts;
        if (!r->ReadBlock(b, kColMessage, &texts, nullptr).ok()) return 1;
        std::string joined;
        for (const Record& x : texts) joined.append(x.message).push_back('\n');
        std::FILE* m = std::fopen((message_dir + "/" + std::to_string(n)).c_str(), "w");
        if (m == nullptr) return 1;
        std::fwrite(joined.data(), 1, joined.size(), m);
        std::fclose(m);
      }
      for (const Record& x : rows) {
        std::fprintf(f, "%u\t%lld\t%lld\t%llu\t%s\t%s\t%s\t%s\n", n, static_cast<long long>(x.ts),
                     static_cast<long long>(x.ingest_ts), static_cast<unsigned long long>(x.seq),
                     x.service.c_str(), x.host.c_str(), x.trace_id.c_str(), x.user_id.c_str());
      }
    }
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

// N trace ids of the segments' rows (every (rows / n)-th row, in stored order) into "*present"
// and N random ids in none into "*absent".
Status DrawTraceIds(const std::vector<std::shared_ptr<SegmentReader>>& readers, uint64_t n,
                    std::vector<std::string>* present, std::vector<std::string>* absent) {
  uint64_t rows = 0;
  for (const auto& r : readers) rows += r->info().rows;
  const uint64_t step = std::max<uint64_t>(1, rows / std::max<uint64_t>(1, n));
  uint64_t row = 0;
  for (const auto& r : readers) {
    for (uint32_t b = 0; b < r->blocks().size(); ++b) {
      std::vector<Record> recs;
      RETURN_IF_ERROR(r->ReadBlock(b, kColTraceId, &recs, nullptr));
      for (const Record& rec : recs) {
        if (row++ % step == 0 && present->size() < n && !rec.trace_id.empty()) {
          present->push_back(rec.trace_id);
        }
      }
    }
  }
  uint64_t x = 0x9e3779b97f4a7c15ull;
  while (absent->size() < n) {
    char buf[40];
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const uint64_t a = x;
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(a),
                  static_cast<unsigned long long>(x));
    absent->push_back(buf);
  }
  return Status::OK();
}

// --probe: the false blocks of `trace_id=X` lookups, present and absent ids.
int Probe(const std::vector<std::string>& paths,
          const std::vector<std::shared_ptr<SegmentReader>>& readers, uint64_t n) {
  uint64_t rows = 0;
  for (const auto& r : readers) rows += r->info().rows;
  std::vector<std::string> present, absent;
  std::map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> holding;  // id: (seg, block)
  const Status drawn = DrawTraceIds(readers, n, &present, &absent);
  if (!drawn.ok()) {
    std::fprintf(stderr, "%s\n", drawn.ToString().c_str());
    return 1;
  }
  // Where each present id truly is (a second pass: the ids known).
  for (const std::string& id : present) holding[id];
  for (uint32_t s = 0; s < readers.size(); ++s) {
    for (uint32_t b = 0; b < readers[s]->blocks().size(); ++b) {
      std::vector<Record> recs;
      if (!readers[s]->ReadBlock(b, kColTraceId, &recs, nullptr).ok()) return 1;
      for (const Record& r : recs) {
        auto it = holding.find(r.trace_id);
        if (it != holding.end() &&
            (it->second.empty() || it->second.back() != std::pair<uint32_t, uint32_t>{s, b})) {
          it->second.emplace_back(s, b);
        }
      }
    }
  }
  uint64_t blocks = 0;
  for (const auto& r : readers) blocks += r->blocks().size();
  std::printf("probe: %zu segments, %llu blocks, %llu rows; %zu present ids, %zu absent\n",
              readers.size(), static_cast<unsigned long long>(blocks),
              static_cast<unsigned long long>(rows), present.size(), absent.size());
  for (int kind = 0; kind < 2; ++kind) {
    const std::vector<std::string>& ids = kind == 0 ? present : absent;
    std::vector<uint64_t> false_blocks(readers.size()), true_blocks(readers.size());
    uint64_t missed = 0;
    const double cpu0 = CpuSeconds();
    for (const std::string& id : ids) {
      index::FieldPredicate p;
      p.field = "trace_id";
      p.builtin = true;
      p.op = index::FieldPredicate::Op::kEquals;
      p.value = id;
      const auto* truth = kind == 0 ? &holding[id] : nullptr;
      for (uint32_t s = 0; s < readers.size(); ++s) {
        Result<bool> segment_may = readers[s]->SegmentMayMatch(p);
        if (!segment_may.ok()) {
          std::fprintf(stderr, "%s\n", segment_may.status().ToString().c_str());
          return 1;
        }
        if (!*segment_may) {
          if (truth != nullptr) {
            for (const auto& [ts, tb] : *truth) missed += ts == s ? 1 : 0;
          }
          continue;
        }
        for (uint32_t b = 0; b < readers[s]->blocks().size(); ++b) {
          const bool holds =
              truth != nullptr && std::find(truth->begin(), truth->end(),
                                            std::pair<uint32_t, uint32_t>{s, b}) != truth->end();
          Result<bool> block_may = readers[s]->BlockMayMatch(b, p);
          if (!block_may.ok()) {
            std::fprintf(stderr, "%s\n", block_may.status().ToString().c_str());
            return 1;
          }
          if (*block_may) {
            ++(holds ? true_blocks : false_blocks)[s];
          } else if (holds) {
            ++missed;
          }
        }
      }
    }
    const double cpu = CpuSeconds() - cpu0;
    uint64_t all_false = 0, all_true = 0;
    for (uint32_t s = 0; s < readers.size(); ++s) {
      auto identity = ReadSegmentIdentity(Env::Default(), paths[s]);
      all_false += false_blocks[s];
      all_true += true_blocks[s];
      std::printf(
          "  %s %-40s v%-2u %5zu blocks: false blocks %6llu (%.3f a lookup, %.3f %% of "
          "its blocks)\n",
          kind == 0 ? "present" : "absent ", paths[s].c_str(),
          identity.ok() ? identity->format_version : 0, readers[s]->blocks().size(),
          static_cast<unsigned long long>(false_blocks[s]),
          static_cast<double>(false_blocks[s]) / static_cast<double>(ids.size()),
          100.0 * static_cast<double>(false_blocks[s]) /
              static_cast<double>(ids.size() * readers[s]->blocks().size()));
    }
    std::printf(
        "%s ids: %zu lookups, blocks holding them %llu, false blocks %llu (%.3f a lookup, "
        "%.4f %% of %llu blocks), holding blocks missed %llu; probe CPU %.1f ms\n",
        kind == 0 ? "present" : "absent", ids.size(), static_cast<unsigned long long>(all_true),
        static_cast<unsigned long long>(all_false),
        static_cast<double>(all_false) / static_cast<double>(ids.size()),
        100.0 * static_cast<double>(all_false) / static_cast<double>(ids.size() * blocks),
        static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(missed),
        cpu * 1e3);
  }
  return 0;
}

// --trace-reads: the CPU of the reads of trace ids (above).
int TraceReads(const std::vector<std::shared_ptr<SegmentReader>>& readers, uint64_t n) {
  uint64_t rows = 0, blocks = 0;
  for (const auto& r : readers) {
    rows += r->info().rows;
    blocks += r->blocks().size();
  }
  std::vector<std::string> present, absent;
  const Status drawn = DrawTraceIds(readers, n, &present, &absent);
  if (!drawn.ok()) {
    std::fprintf(stderr, "%s\n", drawn.ToString().c_str());
    return 1;
  }
  uint64_t found = 0, read_blocks = 0;
  auto lookup = [&](const std::string& id) {
    index::FieldPredicate p;
    p.field = "trace_id";
    p.builtin = true;
    p.op = index::FieldPredicate::Op::kEquals;
    p.value = id;
    for (const auto& r : readers) {
      if (!r->SegmentMayMatch(p).value_or(true)) continue;
      for (uint32_t b = 0; b < r->blocks().size(); ++b) {
        if (!r->BlockMayMatch(b, p).value_or(true)) continue;
        ++read_blocks;
        std::vector<uint32_t> kept(r->blocks()[b].rows);
        for (uint32_t i = 0; i < kept.size(); ++i) kept[i] = i;
        if (!r->KeepRowsHolding(b, kColTraceId, id, &kept, nullptr).ok()) continue;
        if (kept.empty()) continue;
        std::vector<Record> recs;
        if (r->ReadRows(b, kColAll, kept, &recs, nullptr).ok()) found += recs.size();
      }
    }
  };
  auto time = [&](const char* what, uint64_t per, const std::function<void()>& fn) {
    fn();  // warm: the filters and the blocks read once
    double best = 1e9;
    for (int pass = 0; pass < 3; ++pass) {
      const double t0 = CpuSeconds();
      fn();
      best = std::min(best, CpuSeconds() - t0);
    }
    std::printf("  %-46s %10.1f us each (%llu, %.1f ms in all; best of 3)\n", what,
                best * 1e6 / static_cast<double>(per), static_cast<unsigned long long>(per),
                best * 1e3);
  };
  std::printf("trace-reads: %zu segments, %llu blocks, %llu rows\n", readers.size(),
              static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(rows));
  found = read_blocks = 0;
  time("trace_id=X, present (a lookup)", present.size(), [&] {
    for (const std::string& id : present) lookup(id);
  });
  std::printf("    rows found %llu, blocks read %llu (4 passes)\n",
              static_cast<unsigned long long>(found), static_cast<unsigned long long>(read_blocks));
  found = read_blocks = 0;
  time("trace_id=Y, absent (a lookup)", absent.size(), [&] {
    for (const std::string& id : absent) lookup(id);
  });
  std::printf("    rows found %llu, blocks read %llu (4 passes)\n",
              static_cast<unsigned long long>(found), static_cast<unsigned long long>(read_blocks));
  for (auto [mask, what] :
       {std::pair{static_cast<uint32_t>(kColTraceId), "7 rows' trace ids (a block)"},
        {static_cast<uint32_t>(kColAll), "7 rows' every column (a block)"}}) {
    time(what, blocks, [&, mask = mask] {
      for (const auto& r : readers) {
        for (uint32_t b = 0; b < r->blocks().size(); ++b) {
          const uint32_t n_rows = r->blocks()[b].rows;
          std::vector<uint32_t> few;
          for (uint32_t i = 0; i < 7; ++i) few.push_back(n_rows / 8 * (i + 1) - 1);
          std::vector<Record> recs;
          r->ReadRows(b, mask, few, &recs, nullptr).IgnoreError();
        }
      }
    });
  }
  time("every row's trace id (a block)", blocks, [&] {
    BlockColumns columns;
    for (const auto& r : readers) {
      for (uint32_t b = 0; b < r->blocks().size(); ++b) {
        r->ReadColumnValues(b, kColTraceId, &columns, nullptr).IgnoreError();
      }
    }
  });
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> variants, inputs;
  bool real = false;
  std::string dir = "/tmp/bench-recode";
  bool dumps = false;
  std::string tsv, message_dir;
  std::string keep;
  uint64_t probe = 0, trace_reads = 0;
  bool dump_only = false;
  bool reads = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--variant") == 0 && i + 1 < argc) {
      variants.push_back(argv[++i]);
    } else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (std::strcmp(argv[i], "--keep") == 0 && i + 1 < argc) {
      keep = argv[++i];
    } else if (std::strcmp(argv[i], "--probe") == 0 && i + 1 < argc) {
      probe = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--dump-only") == 0) {
      dump_only = true;
    } else if (std::strcmp(argv[i], "--trace-reads") == 0 && i + 1 < argc) {
      trace_reads = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--no-reads") == 0) {
      reads = false;
    } else if (std::strcmp(argv[i], "--dump") == 0) {
      dumps = true;
    } else if (std::strcmp(argv[i], "--real") == 0) {
      real = true;
    } else if (std::strcmp(argv[i], "--tsv") == 0 && i + 1 < argc) {
      tsv = argv[++i];
    } else if (std::strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
      message_dir = argv[++i];
    } else {
      inputs.push_back(argv[i]);
    }
  }
  if (real) {
    if (variants.empty()) variants.push_back("hot");
    Env::Default()->CreateDirs(dir).IgnoreError();
    return Real(Env::Default(), dir, variants);
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: bench_recode [--variant V]... [--dir D] [--dump] SEGMENT...\n");
    return 2;
  }
  if (dump_only) {
    for (const auto& path : inputs) {
      std::string dump;
      const Status s = DumpSegment(Env::Default(), path, 0, &dump);
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), s.ToString().c_str());
        return 1;
      }
      std::printf("%s", dump.c_str());
    }
    return 0;
  }
  if (variants.empty()) variants.push_back("hot");
  Env* env = Env::Default();
  env->CreateDirs(dir).IgnoreError();
  std::vector<std::shared_ptr<SegmentReader>> readers;
  uint64_t in_bytes = 0, rows = 0;
  SegmentInfo info;
  for (const auto& path : inputs) {
    auto r = SegmentReader::Open(env, path);
    if (!r.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), r.status().ToString().c_str());
      return 1;
    }
    in_bytes += (*r)->info().file_bytes;
    rows += (*r)->info().rows;
    if (info.tenant.empty()) {
      info.tenant = (*r)->info().tenant;
      info.partition = (*r)->info().partition;
    }
    readers.push_back(*r);
  }
  info.id = 999999;
  if (!tsv.empty()) return Tsv(readers, tsv, message_dir);
  if (probe > 0) return Probe(inputs, readers, probe);
  if (trace_reads > 0) return TraceReads(readers, trace_reads);
  if (!keep.empty()) {
    if (readers.size() != 1) {
      std::fprintf(stderr, "--keep: one input segment\n");
      return 2;
    }
    info.id = readers[0]->info().id;
  }
  std::printf("inputs: %zu segments, %llu rows, %llu bytes (%.2f a row)\n", inputs.size(),
              static_cast<unsigned long long>(rows), static_cast<unsigned long long>(in_bytes),
              static_cast<double>(in_bytes) / static_cast<double>(rows));
  objstore::LocalDirectoryStore store(env, dir);
  for (const auto& v : variants) {
    WriterOptions o;
    if (!Variant(v, &o)) {
      std::fprintf(stderr, "unknown variant %s\n", v.c_str());
      return 2;
    }
    const std::string name = "recode.seg";
    const double cpu0 = CpuSeconds();
    SegmentInfo out;
    Status s = MergeSegments(&store, name, info, readers, o, &out);
    const double cpu = CpuSeconds() - cpu0;
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", v.c_str(), s.ToString().c_str());
      return 1;
    }
    std::printf("variant %-40s %12llu bytes  %6.2f a row  %.3fx inputs  write CPU %.2f s\n",
                v.c_str(), static_cast<unsigned long long>(out.file_bytes),
                static_cast<double>(out.file_bytes) / static_cast<double>(rows),
                static_cast<double>(out.file_bytes) / static_cast<double>(in_bytes), cpu);
    // The read side of the time, seq, level and user id columns: every block's column decoded
    // (ReadColumnValues, as an aggregation reads them), best of 5 passes, CPU. (Format 25: seq
    // alone reads the block's ts for it too; ts+seq decodes the ts once.)
    auto out_reader = SegmentReader::Open(env, dir + "/" + name);
    if (out_reader.ok() && reads) {
      for (auto [mask, what] : {std::pair<uint32_t, const char*>{kColTs, "ts"},
                                {kColSeq, "seq"},
                                {kColTs | kColSeq, "ts+seq"},
                                {kColIngestTs, "ingest_ts"},
                                {kColLevel, "level"},
                                {kColUserId, "user_id"}}) {
        double best = 1e9;
        for (int pass = 0; pass < 5; ++pass) {
          BlockColumns columns;
          const double t0 = CpuSeconds();
          for (uint32_t b = 0; b < (*out_reader)->blocks().size(); ++b) {
            (*out_reader)->ReadColumnValues(b, mask, &columns, nullptr).IgnoreError();
          }
          best = std::min(best, CpuSeconds() - t0);
        }
        std::printf("  read %-9s of every block: %.1f ms CPU (best of 5)\n", what, best * 1e3);
      }
      // The user ids' index as a search asks it (the rows of `user_id=X`): read and parsed by a
      // fresh reader's first question, then every value's rows; best of 5, CPU.
      auto values = (*out_reader)->IndexedValues("user_id");
      if (values.ok() && values->has_value() && !(*values)->empty()) {
        double first = 1e9, all = 1e9, top = 1e9;
        uint64_t rows = 0, top_rows = 0;
        std::string top_value;
        for (int pass = 0; pass < 5; ++pass) {
          auto fresh = SegmentReader::Open(env, dir + "/" + name);
          if (!fresh.ok()) break;
          double t0 = CpuSeconds();
          (*fresh)->Postings("user_id", (**values)[0]).status().IgnoreError();
          first = std::min(first, CpuSeconds() - t0);
          rows = 0;
          t0 = CpuSeconds();
          for (const std::string& value : **values) {
            auto p = (*fresh)->Postings("user_id", value);
            if (p.ok() && p->has_value()) {
              rows += (*p)->cardinality();
              if ((*p)->cardinality() > top_rows) {
                top_rows = (*p)->cardinality();
                top_value = value;
              }
            }
          }
          all = std::min(all, CpuSeconds() - t0);
          t0 = CpuSeconds();
          for (int i = 0; i < 100; ++i)
            (*fresh)->Postings("user_id", top_value).status().IgnoreError();
          top = std::min(top, (CpuSeconds() - t0) / 100);
        }
        std::printf(
            "  user_id index: read and parsed %.1f ms; the rows of all %zu values (%llu rows) "
            "%.1f ms CPU, %.2f us a value; the most frequent, %s (%llu rows), %.1f us (best of "
            "5)\n",
            first * 1e3, (*values)->size(), static_cast<unsigned long long>(rows), all * 1e3,
            all * 1e6 / static_cast<double>((*values)->size()), top_value.c_str(),
            static_cast<unsigned long long>(top_rows), top * 1e6);
      }
    }
    if (dumps) {
      std::string dump;
      if (DumpSegment(env, dir + "/" + name, 0, &dump).ok())
        std::printf("%s\n", Sizes(dump).c_str());
    }
    std::fflush(stdout);
    if (!keep.empty() && v == variants.back()) {
      Status kept = env->RenameFile(dir + "/" + name, keep);
      if (!kept.ok()) {
        std::fprintf(stderr, "--keep: %s\n", kept.ToString().c_str());
        return 1;
      }
      continue;
    }
    env->RemoveFile(dir + "/" + name).IgnoreError();
  }
  return 0;
}

}  // namespace
}  // namespace sawmill::segment

int main(int argc, char** argv) { return sawmill::segment::Main(argc, argv); }
