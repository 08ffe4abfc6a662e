// Write-path benchmark of the storage engine (WAL group commit + memtable + flush + segment and
// index build), on the real disk through the POSIX Env. Prints a table; asserts nothing.
//
//   bench_storage [--dir DIR] [--lines N] [--batch N] [--real-lines N]
//   bench_storage --flush-cpu RUNS --corpus NDJSON [--lines N] [--batch N] [--text-level L]
//                 [--dir DIR] [--keep]
//
// --flush-cpu: the CPU of flushes alone, as a server under memory pressure makes them (issue 19,
// ack p99: the flush rate sets it). The first --lines corpus lines (normalised as the server
// does, bench/corpus_records.h) are appended in batches of --batch (default 13,400: a 4 MiB
// body) to a fresh engine without background threads (the full chunks packed as they fill),
// then Engine::Flush writes every partition's memtable (one flush thread) and the process's CPU
// seconds of that Flush alone are printed, RUNS times, with the segments' bytes; --text-level
// sets the text columns' zstd level (default 1: what a flush under pressure writes; 0: the
// writer's own). Under `perf record` the flushes are the part worth reading. --keep leaves
// the last run's segments in DIR (to compare bytes between builds).
// "lines/s/core" divides by the process CPU time (all threads), "lines/s" by wall time. Each
// Append of a batch waits for its own fdatasync (one sync per batch). Baselines in the same run:
// the bare cost of writing the same bytes with one fdatasync per batch, and the engine with its
// segments flushed at the end rather than in the background.
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/env.h"
#include "corpus_records.h"
#include "segment/testdata.h"
#include "storage/engine.h"
#include "storage/record_chunk.h"

namespace sawmill {
namespace {

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
double WallSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::vector<Record> GeneratedLines(size_t n) {
  std::mt19937_64 rng(42);
  static const char* kWords[] = {
      "GET",  "POST",     "/api/v1/orders", "status=200", "took",    "ms",       "user", "cache",
      "miss", "upstream", "timeout",        "retrying",   "payment", "accepted", "id=",  "shard"};
  std::vector<Record> out(n);
  for (size_t i = 0; i < n; ++i) {
    Record& r = out[i];
    r.service = "svc-" + std::to_string(rng() % 12);
    r.host = "host-" + std::to_string(rng() % 40);
    r.level = static_cast<Level>(1 + rng() % 6);
    r.trace_id = std::to_string(rng());
    std::string m;
    while (m.size() < 200) {
      m += kWords[rng() % 16];
      if (rng() % 3 == 0) m += std::to_string(rng() % 100000);
      m.push_back(' ');
    }
    m.resize(200);
    r.message = std::move(m);
  }
  return out;
}

// Message and field bytes: what a segment's raw_bytes counts.
uint64_t RawBytes(const std::vector<Record>& lines) {
  uint64_t n = 0;
  for (const Record& r : lines) {
    n += r.message.size();
    for (const auto& [k, v] : r.fields) n += k.size() + v.size();
  }
  return n;
}

struct Result {
  double wall = 0, cpu = 0;
  double append_wall = 0, append_cpu = 0;  // WAL + memtable only, before the final Flush
  uint64_t lines = 0, bytes = 0, segments = 0, segment_bytes = 0;
};

// Appends "lines" in batches through a fresh engine in "dir", then Flush + Close.
Result RunEngine(const std::string& dir, const std::vector<Record>& lines, size_t batch,
                 bool background, size_t writers = 1) {
  std::filesystem::remove_all(dir);
  storage::EngineOptions options;
  options.data_dir = dir;
  options.background_threads = background;
  auto engine = storage::Engine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "open: %s\n", engine.status().ToString().c_str());
    std::exit(1);
  }
  Result r;
  const double wall0 = WallSeconds(), cpu0 = CpuSeconds();
  // Writer w appends batches w, w + writers, w + 2 * writers, ...
  auto write = [&](size_t w) {
    std::vector<Record> b;
    for (size_t i = w * batch; i < lines.size(); i += batch * writers) {
      b.assign(lines.begin() + static_cast<std::ptrdiff_t>(i),
               lines.begin() + static_cast<std::ptrdiff_t>(std::min(lines.size(), i + batch)));
      Status s = (*engine)->Append("bench", &b);
      if (!s.ok()) {
        std::fprintf(stderr, "append: %s\n", s.ToString().c_str());
        std::exit(1);
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 0; w < writers; ++w) threads.emplace_back(write, w);
  for (auto& t : threads) t.join();
  r.append_wall = WallSeconds() - wall0;
  r.append_cpu = CpuSeconds() - cpu0;
  Status s = (*engine)->Flush();
  if (!s.ok()) std::fprintf(stderr, "flush: %s\n", s.ToString().c_str());
  r.wall = WallSeconds() - wall0;
  r.cpu = CpuSeconds() - cpu0;
  auto st = (*engine)->stats();
  r.segments = st.segments;
  r.segment_bytes = st.segment_bytes;
  (*engine)->Close().IgnoreError();
  r.lines = lines.size();
  r.bytes = RawBytes(lines);
  return r;
}

// The floor: the same payload bytes appended to one file with an fdatasync per batch.
Result RunSyncBaseline(const std::string& dir, const std::vector<Record>& lines, size_t batch) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto file = Env::Default()->NewWritableFile(dir + "/baseline.log");
  Result r;
  const double wall0 = WallSeconds(), cpu0 = CpuSeconds();
  std::string buf;
  for (size_t i = 0; i < lines.size(); i += batch) {
    buf.clear();
    for (size_t j = i; j < std::min(lines.size(), i + batch); ++j) buf += lines[j].message;
    (*file)->Append(buf).IgnoreError();
    (*file)->Sync().IgnoreError();
  }
  r.wall = WallSeconds() - wall0;
  r.cpu = CpuSeconds() - cpu0;
  r.lines = lines.size();
  for (const Record& rec : lines) r.bytes += rec.message.size();
  return r;
}

void Row(const std::string& name, const Result& r) {
  const double append_core = r.append_cpu > 0 ? r.lines / r.append_cpu : 0;
  const double append_wall = r.append_wall > 0 ? r.lines / r.append_wall : 0;
  std::printf("| %-42s | %9llu | %12.0f | %14.0f | %12.0f | %14.0f | %8.1f | %8llu | %8.3f |\n",
              name.c_str(), static_cast<unsigned long long>(r.lines), r.lines / r.wall,
              r.lines / r.cpu, append_wall, append_core, r.bytes / r.wall / 1e6,
              static_cast<unsigned long long>(r.segments),
              r.bytes ? static_cast<double>(r.segment_bytes) / static_cast<double>(r.bytes) : 0.0);
}

// --flush-cpu: the CPU seconds of Engine::Flush of "lines" appended in batches of "batch", with
// the text columns at "text_level" (0: the writer's own), "runs" times.
int FlushCpu(const std::string& dir, const std::vector<Record>& lines, size_t batch, int text_level,
             int runs, bool keep) {
  std::printf(
      "| run | lines | segments | segment bytes | chunks held bytes | append CPU s | flush CPU s | "
      "flush wall s |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  double total = 0;
  for (int run = 1; run <= runs; ++run) {
    std::filesystem::remove_all(dir);
    storage::EngineOptions options;
    options.data_dir = dir;
    options.background_threads = false;
    options.flush_threads = 1;
    options.memtable_cap_bytes = 64ull << 30;  // nothing flushes before Flush
    options.segment_target_bytes = 64ull << 30;
    options.segment_options.text_zstd_level = text_level;
    auto engine = storage::Engine::Open(options);
    if (!engine.ok()) {
      std::fprintf(stderr, "open: %s\n", engine.status().ToString().c_str());
      return 1;
    }
    const double cpu0 = CpuSeconds();
    std::vector<Record> b;
    for (size_t i = 0; i < lines.size(); i += batch) {
      b.assign(lines.begin() + static_cast<std::ptrdiff_t>(i),
               lines.begin() + static_cast<std::ptrdiff_t>(std::min(lines.size(), i + batch)));
      Status s = (*engine)->Append("bench", &b);
      if (!s.ok()) {
        std::fprintf(stderr, "append: %s\n", s.ToString().c_str());
        return 1;
      }
    }
    // What the memtables' chunks hold (packed as they filled) when the flush starts.
    const int64_t held = storage::RecordChunk::HeldBytes();
    const double cpu1 = CpuSeconds(), wall1 = WallSeconds();
    Status s = (*engine)->Flush();
    const double cpu2 = CpuSeconds(), wall2 = WallSeconds();
    if (!s.ok()) {
      std::fprintf(stderr, "flush: %s\n", s.ToString().c_str());
      return 1;
    }
    auto st = (*engine)->stats();
    (*engine)->Close().IgnoreError();
    total += cpu2 - cpu1;
    std::printf("| %d | %zu | %llu | %llu | %lld | %.2f | %.2f | %.2f |\n", run, lines.size(),
                static_cast<unsigned long long>(st.segments),
                static_cast<unsigned long long>(st.segment_bytes), static_cast<long long>(held),
                cpu1 - cpu0, cpu2 - cpu1, wall2 - wall1);
    std::fflush(stdout);
  }
  std::printf("\nflush CPU s, mean of %d: %.3f\n", runs, total / runs);
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace sawmill

int main(int argc, char** argv) {
  using namespace sawmill;  // NOLINT
  std::string dir = "/tmp/sawmill_storage_bench_" + std::to_string(::getpid());
  size_t lines = 1000000, batch = 0, real_lines = 200000;
  int flush_runs = 0, text_level = 1;
  bool keep = false;
  std::string corpus;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--keep")) {
      keep = true;
      continue;
    }
    if (i + 1 >= argc) break;
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--lines")) lines = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--real-lines")) real_lines = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--flush-cpu")) flush_runs = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--text-level")) text_level = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--corpus")) corpus = argv[i + 1];
    ++i;
  }
  if (flush_runs > 0) {
    if (corpus.empty()) {
      std::fprintf(stderr, "--flush-cpu needs --corpus NDJSON\n");
      return 2;
    }
    const std::vector<Record> records = bench::CorpusRecords(corpus, lines, nullptr);
    if (records.empty()) return 1;
    return FlushCpu(dir, records, batch == 0 ? 13400 : batch, text_level, flush_runs, keep);
  }
  if (batch == 0) batch = 1000;
  std::printf("Storage write path: Append(batch of %zu, one fdatasync each) + flush to segments\n",
              batch);
  std::printf("| %-42s | %9s | %12s | %14s | %12s | %14s | %8s | %8s | %8s |\n", "workload",
              "lines", "lines/s", "lines/s/core", "WAL+mem /s", "WAL+mem /core", "MB/s", "segments",
              "seg/raw");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(44, '-').c_str(),
              std::string(11, '-').c_str(), std::string(14, '-').c_str(),
              std::string(16, '-').c_str(), std::string(14, '-').c_str(),
              std::string(16, '-').c_str(), std::string(10, '-').c_str(),
              std::string(10, '-').c_str(), std::string(10, '-').c_str());
  auto generated = GeneratedLines(lines);
  Row("baseline: write+fdatasync only", RunSyncBaseline(dir, generated, batch));
  Row("generated 200 B, flush at end", RunEngine(dir, generated, batch, false));
  Row("generated 200 B, background flush", RunEngine(dir, generated, batch, true));
  Row("generated 200 B, 4 writers (group commit)", RunEngine(dir, generated, batch, true, 4));
  for (const auto& ds : segment::testdata::RealDatasets()) {
    std::vector<Record> recs;
    for (const auto& f : ds.files) {
      auto more = segment::testdata::LoadRecords(f, real_lines - recs.size());
      recs.insert(recs.end(), std::make_move_iterator(more.begin()),
                  std::make_move_iterator(more.end()));
      if (recs.size() >= real_lines) break;
    }
    if (recs.empty()) continue;
    for (Record& r : recs) r.seq = 0, r.ingest_ts = 0;
    Row(ds.name, RunEngine(dir, recs, batch, true));
  }
  std::filesystem::remove_all(dir);
  std::printf(
      "\nlines/s: wall clock, final flush included. WAL+mem /s: wall clock of the Append "
      "phase.\nlines/s/core: lines per CPU-second of the whole process (all threads), flush and "
      "segment/index build included.\nWAL+mem /core: the same for the Append phase alone (with "
      "background flush, segment building overlaps it).\nseg/raw: segment file bytes / (message + "
      "field) bytes.\n");
  return 0;
}
