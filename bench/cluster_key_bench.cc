// The PostgreSQL cost of an Idempotency-Key on a cluster node, and of the shared audit chain
// under several nodes (docs/cluster.md "Idempotency-Keys across nodes", "The audit log across
// nodes"). In-process, on a real PostgreSQL given by URL (e.g. the ctest fixture pg_server's:
// build/pg-test-server/url) and a directory as the shared store:
//
//   bench_cluster_keys URL [BATCHES] [LINES]
//
// 1. One cluster node (ClusterNode + engine, WAL object interval 2 ms, background threads) takes
//    BATCHES batches of LINES lines without a key and BATCHES with one, alternating, one at a
//    time; a keyed batch goes the way the HTTP route sends it (FindIdempotencyKey, then
//    AppendIdempotent). Prints ms per batch (mean, p50, p99) of each, the catalog calls per keyed
//    batch, and the PostgreSQL transactions of the database per batch (pg_stat_database
//    xact_commit, which counts read-only statements too).
// 2. The catalog work of a keyed batch alone, before and after it became one statement per call.
// 3. The audit chain: 1 and then 3 catalog connections (nodes) appending 300 entries each at
//    once (AppendAuditChained): appends/s and ms per append (p50, p99).
// Each run uses a schema of its own, dropped at the end.
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/pg_catalog.h"
#include "cluster/cluster_node.h"
#include "objstore/local_directory_store.h"
#include "storage/engine.h"

namespace sawmill {
namespace {

using Clock_ = std::chrono::steady_clock;

double Ms(Clock_::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Summary {
  double mean = 0, p50 = 0, p99 = 0;
};

Summary Summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double total = 0;
  for (double x : v) total += x;
  s.mean = total / static_cast<double>(v.size());
  s.p50 = v[v.size() / 2];
  s.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  return s;
}

bool Sql(const std::string& url, const std::string& sql, std::string* out = nullptr) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::fprintf(stderr, "cannot connect: %s\n", PQerrorMessage(conn));
    PQfinish(conn);
    return false;
  }
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) std::fprintf(stderr, "%s: %s\n", sql.c_str(), PQresultErrorMessage(r));
  if (ok && out != nullptr && PQntuples(r) > 0) *out = PQgetvalue(r, 0, 0);
  PQclear(r);
  PQfinish(conn);
  return ok;
}

// Committed transactions of the current database so far (the statistics collector's view,
// flushed first).
long long Commits(const std::string& url) {
  std::string v;
  Sql(url, "SELECT pg_stat_force_next_flush()");  // PostgreSQL 15+; harmless error before
  Sql(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", &v);
  return v.empty() ? 0 : std::stoll(v);
}

std::vector<Record> Batch(int lines, int b) {
  std::vector<Record> batch;
  for (int i = 0; i < lines; ++i) {
    Record r;
    r.service = "svc" + std::to_string(i % 4);
    r.host = "host" + std::to_string(b % 16);
    r.level = Level::kInfo;
    r.message = "batch " + std::to_string(b) + " line " + std::to_string(i) +
                " GET /api/v1/items?id=" + std::to_string(b * 1000 + i) + " 200";
    batch.push_back(std::move(r));
  }
  return batch;
}

int KeyCost(const std::string& url, int batches, int lines) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("sawmill_key_bench_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "store");
  auto store =
      std::make_shared<objstore::LocalDirectoryStore>(Env::Default(), (dir / "store").string());
  cluster::ClusterNodeOptions options;
  options.catalog_url = url;
  options.registry.id = "bench-a";
  options.registry.url = "http://bench-a.invalid";
  options.wal_store = store;
  options.wal.interval_ns = 2 * kNanosPerMilli;
  options.segment_sweep_interval_ns = 0;
  auto node = cluster::ClusterNode::Open(std::move(options));
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", node.status().ToString().c_str());
    return 1;
  }
  storage::EngineOptions engine_options;
  engine_options.data_dir = (dir / "bench-a").string();
  (*node)->Configure(&engine_options, store);
  auto engine = storage::Engine::Open(engine_options);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  (*node)->Start(engine->get());
  std::vector<double> plain, keyed;
  int b = 0;
  // One batch, keyed or not, the way the HTTP route sends it; its milliseconds.
  auto send = [&](bool with_key) -> double {
    std::vector<Record> batch = Batch(lines, b);
    const std::string key = "bench-key-" + std::to_string(b);
    ++b;
    const auto start = Clock_::now();
    Status s;
    if (with_key) {
      if ((*engine)->FindIdempotencyKey("default", key).has_value()) {
        s = Status::AlreadyExists(key);
      } else {
        storage::IdempotencyKey k{key, static_cast<uint64_t>(b), "ok", 0, 0, 0};
        s = (*engine)->AppendIdempotent("default", &batch, k);
      }
    } else {
      s = (*engine)->Append("default", &batch);
    }
    if (!s.ok()) {
      std::fprintf(stderr, "batch %d: %s\n", b, s.ToString().c_str());
      std::exit(1);
    }
    return Ms(Clock_::now() - start);
  };
  for (int i = 0; i < 20; ++i) send(i % 2 == 1);  // connections and seq blocks warm up
  // Latency: alternating, so that both kinds see the same machine.
  for (int i = 0; i < 2 * batches; ++i) {
    const bool with_key = i % 2 == 1;
    (with_key ? keyed : plain).push_back(send(with_key));
  }
  // Transactions: each kind alone, the database's count read after its backends reported
  // (PostgreSQL 15+ reports an idle backend's counts within 10 s). Heartbeats and the other
  // background statements of the node are in both.
  double tx_per[2] = {0, 0};
  for (int with_key = 0; with_key < 2; ++with_key) {
    std::this_thread::sleep_for(std::chrono::seconds(11));
    const long long before = Commits(url);
    const auto start = Clock_::now();
    for (int i = 0; i < batches; ++i) send(with_key == 1);
    const auto spent = Clock_::now() - start;
    std::this_thread::sleep_for(std::chrono::seconds(11));
    // The background's share: the same time without batches.
    const long long after = Commits(url);
    std::this_thread::sleep_for(spent);
    std::this_thread::sleep_for(std::chrono::seconds(11));
    const long long idle = Commits(url) - after;
    tx_per[with_key] = static_cast<double>(after - before - idle) / batches;
  }
  const Summary p = Summarize(plain), k = Summarize(keyed);
  std::printf("## Idempotency-Key on a cluster node (%d batches of %d lines each way)\n\n", batches,
              lines);
  std::printf("| batch | ms mean | ms p50 | ms p99 | PostgreSQL transactions per batch |\n");
  std::printf("|---|---|---|---|---|\n");
  std::printf("| no key | %.2f | %.2f | %.2f | %.2f |\n", p.mean, p.p50, p.p99, tx_per[0]);
  std::printf("| with key | %.2f | %.2f | %.2f | %.2f |\n", k.mean, k.p50, k.p99, tx_per[1]);
  std::printf(
      "\n(transactions: pg_stat_database.xact_commit of the database while one kind is sent, "
      "less the same time idle after it; read-only statements count as transactions)\n\n");
  (*node)->Stop();
  (*engine)->Close().IgnoreError();
  (*node)->registry()->Stop(/*remove=*/true);
  engine->reset();
  node->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

// The catalog work of one keyed batch alone (look-up, claim, completion), the way it was
// (every call a transaction, completion also expiring old rows: a commit hook forces that path)
// and as it is now (one statement each), alternating in one run.
int ClaimCost(const std::string& url, int batches) {
  auto opened = catalog::OpenPostgresCatalog(url);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  catalog::Catalog& c = **opened;
  const int64_t now = 1'000'000'000'000;
  if (!c.Heartbeat({"bench-b", "http://bench-b.invalid", 1, now}).ok()) return 1;
  std::vector<double> before, after;
  for (int i = 0; i < 2 * batches + 20; ++i) {
    const bool old_way = i % 2 == 0;
    c.SetCommitHook(old_way ? std::function<Status()>([] { return Status::OK(); }) : nullptr);
    catalog::IdempotencyClaimRow row;
    row.tenant = "default";
    row.key = "claim-" + std::to_string(i);
    row.body_hash = 1;
    row.node = "bench-b";
    row.node_started_ns = 1;
    row.state = std::string(catalog::kIdempotencyPending);
    row.created_ns = now + i;
    const auto start = Clock_::now();
    auto found = c.GetIdempotencyKey(row.tenant, row.key);
    auto claimed = c.ClaimIdempotencyKey(row, 0, 0);
    row.answer = "ok";
    Status done = c.CompleteIdempotencyKey(row, false, old_way ? now - 1 : 0);
    const double ms = Ms(Clock_::now() - start);
    if (!found.ok() || !claimed.ok() || !done.ok()) {
      std::fprintf(stderr, "claim %d failed\n", i);
      return 1;
    }
    if (i >= 20) (old_way ? before : after).push_back(ms);
  }
  c.SetCommitHook(nullptr);
  const Summary b = Summarize(before), a = Summarize(after);
  std::printf("## The catalog work of one keyed batch alone (%d each way, alternating)\n\n",
              batches);
  std::printf("| path | round trips (from the code) | ms mean | ms p50 | ms p99 |\n");
  std::printf("|---|---|---|---|---|\n");
  std::printf("| before: a transaction each, expiry in the completion | 8 | %.2f | %.2f | %.2f |\n",
              b.mean, b.p50, b.p99);
  std::printf("| now: one statement each, expiry in the trim round | 3 | %.2f | %.2f | %.2f |\n\n",
              a.mean, a.p50, a.p99);
  return 0;
}

int AuditCost(const std::string& url) {
  std::printf("## The shared audit chain (AppendAuditChained)\n\n");
  std::printf("| nodes | appends | appends/s | ms p50 | ms p99 |\n|---|---|---|---|---|\n");
  constexpr int kPerNode = 300;
  for (int nodes : {1, 3}) {
    std::vector<std::unique_ptr<catalog::Catalog>> catalogs;
    for (int n = 0; n < nodes; ++n) {
      auto c = catalog::OpenPostgresCatalog(url);
      if (!c.ok()) {
        std::fprintf(stderr, "%s\n", c.status().ToString().c_str());
        return 1;
      }
      catalogs.push_back(std::move(*c));
    }
    std::vector<std::vector<double>> lat(static_cast<size_t>(nodes));
    std::atomic<int> failed{0};
    const auto start = Clock_::now();
    std::vector<std::thread> threads;
    for (int n = 0; n < nodes; ++n) {
      threads.emplace_back([&, n] {
        for (int i = 0; i < kPerNode; ++i) {
          catalog::AuditRow row;
          row.at_ns = 1;
          row.who = "bench-" + std::to_string(n);
          row.action = "search";
          row.query = "service=api | count";
          const auto t = Clock_::now();
          auto r = catalogs[static_cast<size_t>(n)]->AppendAuditChained(
              row, 0, [](const catalog::AuditRow& a) { return std::to_string(a.seq) + a.who; });
          lat[static_cast<size_t>(n)].push_back(Ms(Clock_::now() - t));
          if (!r.ok()) failed.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    const double seconds = Ms(Clock_::now() - start) / 1000.0;
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    const Summary s = Summarize(all);
    std::printf("| %d | %d | %.0f | %.2f | %.2f |\n", nodes, nodes * kPerNode,
                static_cast<double>(nodes * kPerNode) / seconds, s.p50, s.p99);
    if (failed.load() > 0) std::fprintf(stderr, "%d appends failed\n", failed.load());
  }
  std::printf("\n");
  return 0;
}

}  // namespace
}  // namespace sawmill

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s postgresql://URL [BATCHES] [LINES]\n", argv[0]);
    return 2;
  }
  const std::string base = argv[1];
  const int batches = argc > 2 ? std::atoi(argv[2]) : 300;
  const int lines = argc > 3 ? std::atoi(argv[3]) : 100;
  const std::string schema = "keybench" + std::to_string(::getpid());
  if (!sawmill::Sql(base, "CREATE SCHEMA " + schema)) return 1;
  const std::string url = base + (base.find('?') == std::string::npos ? "?" : "&") +
                          "options=-csearch_path%3D" + schema;
  int rc = sawmill::KeyCost(url, batches, lines);
  if (rc == 0) rc = sawmill::ClaimCost(url, batches);
  if (rc == 0) rc = sawmill::AuditCost(url);
  sawmill::Sql(base, "DROP SCHEMA " + schema + " CASCADE");
  return rc;
}
