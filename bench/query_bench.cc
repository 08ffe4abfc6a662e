// In-process query benchmark: the benchmark corpus (real lines, generated fields) appended to a
// storage engine on the real disk and flushed, then each issue-4 query run hot with and without
// indexes, plus 200 identical concurrent queries against one. The corpus is appended in time
// order and flushed about every half hour of log time, so segments cover successive windows. Prints
// a table; asserts nothing.
//
//   bench_query [--lines N] [--dir DIR] [--runs N] [--data DIR] [--time-slice ROWS]
//               [--no-compact] [--only a,b] [--word-postings 0|1] [--columnar 0|1]
//               [--keep] [--reuse] [--baselines 0|1] [--pack-columns-below BYTES] [--explain]
//
// --pack-columns-below sets the segment writer's pack_columns_below (format version 8: column
// blocks below that many bytes share one frame per block; hot segments default to 0).
// --time-slice sets the segment writer's time_slice_rows (0: rows sorted by service, host, ts
// over the whole segment). After loading, the segments are compacted as a running server's
// background compaction leaves them (compaction rounds with the engine's default options until
// none finds work: the ~800 half-hour flushes of 1,000,000 lines become a few segments per
// partition); --no-compact queries the flushed segments as they are (one per partition and
// half hour: the 800 segments of the figures before session 7). --only runs only the named cases
// ("rare word,rare | count"; ';' when a name holds a comma); --word-postings 0 writes the segments
// without the message's word postings (the index kind word_postings), for a before/after comparison
// on one build. Each query also runs on the record path (aggregations decode their blocks into
// records, as before issue 19's column-only aggregations), beside the default; --columnar 0 makes
// the record path the default too. --keep leaves DIR in place at the end; --reuse queries the
// segments a --keep run left in DIR (same --lines, the same options) without loading again (for
// profiling the queries alone); --baselines 0 leaves out the record-path and no-index runs;
// --explain prints each query's plan (one more run, untimed) after its row.
//
// Each row shows the rows the query evaluated (rows_scanned), how many of them it read as
// columns only and how many it counted from postings, and the compressed bytes read. The goals
// of issue 19 for the count and aggregation rows are printed as met or missed; they are the
// issue's ratios times VictoriaLogs' times at 10,000,000 lines, so at fewer lines they are only
// a rough bar.
//
// "no index" is the same engine with every index, bloom and partition pruning disabled (a
// brute-force scan of the segments); the ratio column is no-index median / indexed median.
#include <simdjson.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "corpus_generator.h"
#include "query/query_engine.h"
#include "query/time_range.h"
#include "storage/engine.h"

namespace sawmill {
namespace {

// CPU time of the whole process (every thread), ms: on a shared machine a steadier figure than
// wall time, since only one query runs at a time.
double CpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double WallMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Timing {
  double median = 0, p95 = 0;
  double cpu_median = 0;  // CpuMs per run
  uint64_t bytes = 0;
  uint64_t matched = 0;
  uint64_t scanned = 0;       // rows_scanned (memtable rows included)
  uint64_t from_columns = 0;  // of them: read as columns only
  uint64_t from_index = 0;    // rows counted from postings
};

Timing Measure(query::QueryEngine* qe, const query::SearchRequest& req, int runs) {
  std::vector<double> ms, cpu;
  Timing t;
  for (int i = 0; i < runs; ++i) {
    double start = WallMs();
    double cpu_start = CpuMs();
    auto r = qe->Search(req);
    ms.push_back(WallMs() - start);
    cpu.push_back(CpuMs() - cpu_start);
    if (!r.ok()) {
      std::fprintf(stderr, "query failed: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    t.bytes = r->stats.bytes_read_compressed;
    t.matched = r->stats.rows_matched;
    t.scanned = r->stats.rows_scanned + r->stats.memtable_rows_scanned;
    t.from_columns = r->stats.rows_from_columns;
    t.from_index = r->stats.rows_counted_from_index;
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  t.median = ms[ms.size() / 2];
  t.cpu_median = cpu[cpu.size() / 2];
  t.p95 = ms[std::min(ms.size() - 1, (ms.size() * 95 + 99) / 100 - 1)];
  return t;
}

int Main(int argc, char** argv) {
  uint64_t lines = 1'000'000;
  int runs = 9;
  std::string dir = "/tmp/sawmill_query_bench_" + std::to_string(::getpid());
  const char* shared = std::getenv("SAWMILL_SHARED_DIR");
  std::string data = std::string(shared && *shared ? shared : "../shared") + "/data/real";
  int64_t time_slice_rows = -1;     // -1: the writer's default
  int64_t pack_columns_below = -1;  // -1: the writer's default
  bool compact = true;
  std::string only;
  bool word_postings = true;
  bool columnar = true;
  bool keep = false, reuse = false, baselines = true, explain = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--explain") {
      explain = true;
      continue;
    }
    if (flag == "--compact" || flag == "--no-compact") {  // --compact: the default, kept
      compact = flag == "--compact";
      continue;
    }
    if (flag == "--keep" || flag == "--reuse") {
      (flag == "--keep" ? keep : reuse) = true;
      continue;
    }
    if (i + 1 >= argc) break;
    if (flag == "--time-slice")
      time_slice_rows = std::atoll(argv[i + 1]);
    else if (flag == "--pack-columns-below")
      pack_columns_below = std::atoll(argv[i + 1]);
    else if (flag == "--lines")
      lines = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--runs")
      runs = std::atoi(argv[i + 1]);
    else if (flag == "--dir")
      dir = argv[i + 1];
    else if (flag == "--data")
      data = argv[i + 1];
    else if (flag == "--only")
      only = argv[i + 1];
    else if (flag == "--word-postings")
      word_postings = std::atoi(argv[i + 1]) != 0;
    else if (flag == "--baselines")
      baselines = std::atoi(argv[i + 1]) != 0;
    else if (flag == "--columnar")
      columnar = std::atoi(argv[i + 1]) != 0;
    ++i;
  }
  auto pool = bench::LoadMessagePool(data);
  if (!pool.ok()) {
    std::fprintf(stderr, "%s\n", pool.status().ToString().c_str());
    return 1;
  }
  std::string corpus_path = dir + ".ndjson";
  std::FILE* f = std::fopen(corpus_path.c_str(), "w");
  auto facts = bench::GenerateCorpus(*pool, lines, f);
  std::fclose(f);
  if (!facts.ok()) return 1;

  if (!reuse) std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  int64_t now = (bench::kWindowStartSeconds + bench::kWindowSeconds + 60) * kNanosPerSecond;
  ManualClock clock(now);
  storage::EngineOptions eo;
  eo.data_dir = dir;
  eo.clock = &clock;
  eo.background_threads = false;
  eo.partitions = 16;
  if (time_slice_rows >= 0)
    eo.segment_options.time_slice_rows = static_cast<uint32_t>(time_slice_rows);
  if (pack_columns_below >= 0)
    eo.segment_options.pack_columns_below = static_cast<uint32_t>(pack_columns_below);
  if (!word_postings) {
    auto& fields = eo.segment_options.indexed_fields;
    fields.erase(std::remove(fields.begin(), fields.end(), "message"), fields.end());
  }
  auto engine_or = storage::Engine::Open(eo);
  if (!engine_or.ok()) {
    std::fprintf(stderr, "%s\n", engine_or.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<storage::Engine> engine = std::move(engine_or).value();

  double load_start = WallMs();
  simdjson::ondemand::parser parser;
  simdjson::padded_string json = simdjson::padded_string::load(corpus_path);
  simdjson::ondemand::document_stream stream;
  if (parser.iterate_many(json).get(stream)) return 1;
  std::vector<Record> batch;
  uint64_t loaded = 0;
  if (reuse) compact = false;
  for (auto doc : stream) {
    if (reuse) break;
    Record r;
    std::string_view sv;
    if (!doc["ts"].get_string().get(sv)) {
      if (auto t = query::ParseInstant(sv)) r.ts = r.ingest_ts = *t;
    }
    if (!doc["service"].get_string().get(sv)) r.service = std::string(sv);
    if (!doc["host"].get_string().get(sv)) r.host = std::string(sv);
    if (!doc["level"].get_string().get(sv)) r.level = ParseLevel(sv).value_or(Level::kUnknown);
    if (!doc["trace_id"].get_string().get(sv)) r.trace_id = std::string(sv);
    if (!doc["user_id"].get_string().get(sv)) r.user_id = std::string(sv);
    if (!doc["message"].get_string().get(sv)) r.message = std::string(sv);
    batch.push_back(std::move(r));
    if (batch.size() == 10000) {
      if (!engine->Append("default", &batch).ok()) return 1;
      loaded += batch.size();
      batch.clear();
      // Flushed about every half hour of log time, as a server flushing on size or age would.
      if (loaded % std::max<uint64_t>(10000, lines / 48 / 10000 * 10000) == 0 &&
          !engine->Flush().ok()) {
        return 1;
      }
    }
  }
  if (!reuse && !batch.empty() && engine->Append("default", &batch).ok()) {
    loaded += batch.size();
  }
  if (!engine->Flush().ok()) return 1;
  // As the server's compaction thread does: rounds until none finds segments to merge.
  const double load_ms = WallMs() - load_start;
  const uint64_t flushed_segments = engine->stats().segments;
  double compact_ms = 0;
  if (compact) {
    const double compact_start = WallMs();
    for (uint64_t before = UINT64_MAX; engine->stats().compactions != before;) {
      before = engine->stats().compactions;
      Status s = engine->CompactNow();
      if (!s.ok()) {
        std::fprintf(stderr, "compaction: %s\n", s.ToString().c_str());
        return 1;
      }
    }
    compact_ms = WallMs() - compact_start;
  }
  std::remove(corpus_path.c_str());
  storage::EngineStats es = engine->stats();
  std::printf("time_slice_rows %u%s\n", eo.segment_options.time_slice_rows,
              compact ? ", compacted as a server would" : ", not compacted (--no-compact)");
  if (compact) {
    std::printf("compaction: %llu flushed segments -> %llu in %llu rounds, %.1f s\n",
                static_cast<unsigned long long>(flushed_segments),
                static_cast<unsigned long long>(engine->stats().segments),
                static_cast<unsigned long long>(engine->stats().compactions), compact_ms / 1e3);
  }
  std::printf("loaded %llu lines in %.1f s: %llu segments, %.1f MiB (%llu bytes) on disk\n",
              static_cast<unsigned long long>(loaded), load_ms / 1e3,
              static_cast<unsigned long long>(es.segments), es.segment_bytes / 1048576.0,
              static_cast<unsigned long long>(es.segment_bytes));

  query::QueryOptions qo;
  qo.clock = &clock;
  qo.partitions = eo.partitions;
  qo.columnar = columnar;
  auto qe = query::QueryEngine::Create(engine.get(), qo);
  query::QueryOptions record_options = qo;
  record_options.columnar = false;
  auto qe_records = query::QueryEngine::Create(engine.get(), record_options);
  struct Case {
    const char* name;
    std::string q;
    double goal_ms = 0;  // issue 19: goal ratio x VictoriaLogs at 10 M lines; 0: none
  };
  std::vector<Case> cases = {
      {"trace_id needle", "trace_id=" + facts->needle_trace_id},
      {"rare word", facts->rare_word},
      {"common word", facts->common_word},
      {"rare | count", facts->rare_word + " | count", 20},
      {"common | count", facts->common_word + " | count", 0.05 * 1813},
      {"service=X level=ERROR", "service=" + facts->error_service + " level=ERROR"},
      {"count by bucket(1m), level", "* | count by bucket(1m), level", 0.1 * 911},
      {"top 10 service", "| top 10 service"},
      {"level=ERROR | top 10 service", "level=ERROR | top 10 service", 0.1 * 113},
      {"trace_id=X | count", "trace_id=" + facts->needle_trace_id + " | count", 0.5 * 6.8},
      {"service=X level=ERROR | count", "service=" + facts->error_service + " level=ERROR | count",
       0.5 * 3.6},
  };
  std::printf("\n%-30s %9s %8s %9s %9s %9s %9s %10s | %9s %8s %9s %10s | %9s %7s  %s\n",
              "query (all time; cache off)", "median ms", "cpu ms", "p95 ms", "rows_scan",
              "as column", "from idx", "bytes read", "record ms", "cpu ms", "rows_scan",
              "bytes read", "no-idx ms", "ratio", "goal (issue 19), on the median");
  for (const Case& c : cases) {
    // --only names cases separated by ';' (or ',' when no ';' is given).
    const std::string sep = only.find(';') != std::string::npos ? ";" : ",";
    if (!only.empty() &&
        (sep + only + sep).find(sep + std::string(c.name) + sep) == std::string::npos) {
      continue;
    }
    query::SearchRequest req;
    req.q = c.q;
    req.all_time = true;
    req.use_cache = false;
    Timing with = Measure(qe.get(), req, runs);
    Timing records, without;
    if (baselines) {
      records = Measure(qe_records.get(), req, std::max(3, runs / 2));
      req.use_indexes = false;
      without = Measure(qe.get(), req, std::max(3, runs / 3));
    }
    char goal[96] = "";
    if (c.goal_ms > 0) {
      std::snprintf(goal, sizeof(goal), "<= %.1f ms: %s", c.goal_ms,
                    with.median <= c.goal_ms ? "met" : "MISSED");
    }
    auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf(
        "%-30s %9.2f %8.2f %9.2f %9llu %9llu %9llu %10llu | %9.2f %8.2f %9llu %10llu | %9.1f "
        "%6.1fx  %s\n",
        c.name, with.median, with.cpu_median, with.p95, u(with.scanned), u(with.from_columns),
        u(with.from_index), u(with.bytes), records.median, records.cpu_median, u(records.scanned),
        u(records.bytes), without.median, without.median / with.median, goal);
    if (explain) {
      req.use_indexes = true;
      req.explain = true;
      auto r = qe->Search(req);
      if (r.ok()) std::printf("%s\n", r->plan.c_str());
    }
  }

  // 200 identical concurrent queries (cache on, fresh key) against one.
  query::SearchRequest one;
  one.q = "level>=WARN | count by bucket(1m), level";
  one.all_time = true;
  one.use_cache = false;
  Timing single = Measure(qe.get(), one, 3);
  one.use_cache = true;  // never asked with the cache on before: the first one executes
  double start = WallMs();
  std::vector<std::future<void>> futures;
  for (int i = 0; i < 200; ++i) {
    futures.push_back(std::async(std::launch::async, [&, i] {
      query::SearchRequest r = one;
      r.user = "u" + std::to_string(i);
      (void)qe->Search(r);
    }));
  }
  for (auto& fu : futures) fu.get();
  double storm = WallMs() - start;
  Timing hit = Measure(qe.get(), one, 5);
  std::printf(
      "\n200 identical concurrent queries: %.1f ms; one query: %.1f ms; ratio %.2f; one cache "
      "hit (a copy of the answer): %.2f ms\n",
      storm, single.median, storm / single.median, hit.median);
  engine->Close().IgnoreError();
  engine.reset();
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace sawmill

int main(int argc, char** argv) { return sawmill::Main(argc, argv); }
