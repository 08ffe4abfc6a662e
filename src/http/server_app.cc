#include "http/server_app.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "auth/audit_log.h"
#include "auth/token_store.h"
#include "catalog/pg_catalog.h"
#include "catalog/sqlite_catalog.h"
#include "cluster/fanout.h"
#include "cluster/job_leases.h"
#include "cluster/segment_refresh.h"
#include "common/config_values.h"
#include "common/mutex.h"
#include "common/tls.h"
#include "http/admin_retention_routes.h"
#include "http/admin_tier_routes.h"
#include "http/alert_routes.h"
#include "http/api_routes.h"
#include "http/auth_gate.h"
#include "http/cluster_mode.h"
#include "http/cold_store.h"
#include "http/export_routes.h"
#include "http/http_server.h"
#include "http/internal_routes.h"
#include "http/loki_read_routes.h"
#include "http/masking_config.h"
#include "http/shipper_handlers.h"
#include "http/shipper_routes.h"
#include "http/tenant_limits.h"
#include "http/tenant_quotas.h"
#include "http/tenant_routes.h"
#include "http/ui_routes.h"
#include "ingest/masking.h"
#include "ingest/syslog_server.h"
#include "ingest/tenant_quota.h"
#include "storage/disk_watch.h"
#include "storage/job_gate.h"

namespace sawmill::http {

namespace {

// Waits for SIGTERM/SIGINT on its own thread (the signals are blocked everywhere else).
class SignalWaiter {
 public:
  SignalWaiter() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGUSR1);
    sigaddset(&set_, SIGHUP);  // reloads the alerting rules file and the TLS certificate
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);  // inherited by every thread started later
    thread_ = std::thread([this] {
      int count = 0;
      while (true) {
        int signal = 0;
        if (sigwait(&set_, &signal) != 0) continue;
        if (signal == SIGUSR1) return;  // our own wake-up at exit
        if (signal == SIGHUP) {
          hups_.fetch_add(1);
          std::vector<std::function<void()>> handlers;
          {
            MutexLock lock(&mu_);
            handlers = hup_handlers_;
          }
          for (const auto& handler : handlers) handler();
          continue;
        }
        if (++count > 1) {
          std::fprintf(stderr, "sawmill: second signal, exiting now\n");
          std::_Exit(1);
        }
        spdlog::info("received {}, shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
        {
          MutexLock lock(&mu_);
          stop_ = true;
        }
        cv_.NotifyAll();
      }
    });
  }
  ~SignalWaiter() {
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
  // SIGHUPs received so far.
  int hups() const { return hups_.load(); }
  // Runs "handler" on the signal thread at each SIGHUP from now on.
  void OnHup(std::function<void()> handler) {
    MutexLock lock(&mu_);
    hup_handlers_.push_back(std::move(handler));
  }
  bool stop_requested() {
    MutexLock lock(&mu_);
    return stop_;
  }
  void Wait() {
    UniqueLock lock(&mu_);
    while (!stop_) cv_.Wait(&lock);
  }
  // Waits up to "timeout"; true once a stop was requested.
  bool WaitFor(std::chrono::milliseconds timeout) {
    UniqueLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) cv_.WaitUntil(&lock, deadline);
    return stop_;
  }

 private:
  sigset_t set_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> hup_handlers_ GUARDED_BY(mu_);
  std::atomic<int> hups_{0};
  std::thread thread_;
};

// A server that listens beyond loopback must check tokens, unless told --insecure-no-auth. Reads
// the catalog before the engine opens it (only when the address is not loopback).
Status CheckBindNeedsAuth(const ServerConfig& config, const std::string& address) {
  if (config.insecure_no_auth || address == "localhost" || IsLoopbackAddress(address)) {
    return Status::OK();
  }
  const std::string path = !config.catalog.empty()
                               ? config.catalog
                               : (std::filesystem::path(config.data_dir) / "catalog.db").string();
  std::error_code ec;
  if (catalog::IsPostgresUrl(path) || std::filesystem::exists(path, ec)) {
    auto catalog = catalog::OpenCatalog(path);
    if (!catalog.ok()) return Status::OK();  // the engine reports it when it opens the catalog
    auto tokens = (*catalog)->ListTokens();
    if (tokens.ok() && !tokens->empty()) return Status::OK();
  }
  const std::string shown = address.empty() ? "every interface" : address;
  return Status::FailedPrecondition(
      "refusing to listen on " + shown +
      " without authentication: no API token exists, so anyone who can connect could read, "
      "write and administer every tenant. Start it once on 127.0.0.1, create a platform-admin "
      "token (sawmill admin token create --name admin --role platform-admin), then restart it "
      "here; or pass --insecure-no-auth to accept an open server (docs/security.md)");
}

}  // namespace

std::string WelcomeText(const std::string& cli, const std::string& url,
                        const std::string& data_dir) {
  // The command line's default server needs no --server; any other address does.
  const std::string server = url == "http://127.0.0.1:9640" ? "" : " --server " + url;
  std::error_code ec;
  std::filesystem::path data = std::filesystem::absolute(data_dir, ec);
  std::string out;
  out += "\nSawmill is ready at " + url + "/\n";
  out += "Data (write-ahead log, segments, catalog): " + (ec ? data_dir : data.string()) +
         "\n  (stop the server and delete it to start over)\n";
  out += "Try, in another terminal:\n";
  out += "  echo '{\"service\":\"payments\",\"level\":\"error\",\"msg\":\"card declined\"}' | " +
         cli + " ingest" + server + "\n";
  out += "  " + cli + " search" + server + " --since 1h 'level>=ERROR'\n";
  out += "  " + cli + " tail" + server + " --level=WARN\n";
  out +=
      "Another address for the command line: --server URL or SAWMILL_SERVER=URL. "
      "Ctrl-C stops the server; every acknowledged line is kept.\n\n";
  return out;
}

int RunServer(const ServerConfig& configured, const RunOptions& run) {
  // A cluster node's cluster-wide settings are the cluster's, from its catalog (docs/cluster.md
  // "Cluster-wide settings"): settled before anything uses them.
  ServerConfig config = configured;
  std::vector<std::string> adopted;
  if (Status settled = SettleClusterSettings(&config, &adopted); !settled.ok()) {
    // A refusal says what it is; any other error (the catalog's) says where it happened.
    const bool refused = settled.code() == StatusCode::kFailedPrecondition;
    std::fprintf(
        stderr, "sawmill server: %s%s\n",
        refused ? "" : "while settling the cluster-wide settings: ", settled.message().c_str());
    return 1;
  }
  for (const std::string& line : adopted) spdlog::info("cluster-wide setting: {}", line);
  HttpServerOptions http_options;
  Status status = ParseHostPort(config.http_address, &http_options.address, &http_options.port);
  if (!status.ok()) {
    std::fprintf(stderr, "sawmill server: --http: %s\n", status.message().c_str());
    return 2;
  }
  http_options.max_body_bytes = config.max_body_bytes;
  http_options.max_decoded_bytes = config.max_decoded_bytes;
  http_options.max_request_lines = config.max_request_lines;
  http_options.ingest_memory_bytes = config.ingest_memory_bytes;
  http_options.max_connections = config.max_connections;
  http_options.max_connections_per_address = config.max_connections_per_address;
  http_options.connection_cap_exempt = SplitList(config.connection_cap_exempt);
  http_options.allowed_hosts = SplitList(config.allowed_hosts);
  // Other nodes send the host of this node's advertised URL (docs/cluster.md "Nodes"): accepted
  // where the Host check is on (a loopback bind, or allowed_hosts given; adding it elsewhere
  // would turn the check on).
  if (std::string host = cluster::AdvertisedHost(config.advertise_url, http_options.address);
      !host.empty() &&
      (!http_options.allowed_hosts.empty() || http_options.address == "localhost" ||
       IsLoopbackAddress(http_options.address))) {
    http_options.allowed_hosts.push_back(host);
  }
  http_options.allowed_origins = SplitList(config.allowed_origins);
  http_options.read_timeout_ms = static_cast<int>(config.read_timeout_ms);
  http_options.idle_timeout_ms = static_cast<int>(config.idle_timeout_ms);
  http_options.worker_threads = static_cast<int>(config.worker_threads);
  http_options.io_threads = static_cast<int>(config.io_threads);
  http_options.heartbeat_ms = static_cast<int>(config.heartbeat_ms);
  // HTTPS and syslog over TLS share one context, reloaded on SIGHUP (docs/security.md "TLS").
  std::shared_ptr<tls::ServerTls> server_tls;
  if (!config.tls_cert.empty()) {
    tls::ServerTlsOptions tls_options;
    tls_options.cert_file = config.tls_cert;
    tls_options.key_file = config.tls_key;
    tls_options.client_ca_file = config.tls_client_ca;
    tls_options.client_auth = tls::ParseClientAuth(config.tls_client_auth).value();  // validated
    auto created = tls::ServerTls::Create(std::move(tls_options));
    if (!created.ok()) {
      std::fprintf(stderr, "sawmill server: %s\n", created.status().message().c_str());
      return 2;
    }
    server_tls = std::move(*created);
    http_options.tls = server_tls;
    http_options.tls_handshake_timeout_ms = static_cast<int>(config.tls_handshake_timeout_ms);
    spdlog::info("tls: serving {} (client certificates: {})", server_tls->Describe(),
                 config.tls_client_auth);
  }
  const std::string scheme = server_tls ? "https" : "http";

  SignalWaiter signals;  // before any other thread starts, so that they inherit the mask
  if (server_tls) {
    signals.OnHup([tls = server_tls.get()] {
      if (Status reloaded = tls->Reload(); reloaded.ok()) {
        spdlog::info("tls: reloaded on SIGHUP; new connections get {}", tls->Describe());
      } else {
        spdlog::error("tls: reload on SIGHUP failed, still serving the previous certificate: {}",
                      reloaded.message());
      }
    });
  }

  ApiState state;
  state.options.max_line_bytes = config.max_line_bytes;
  Router router;
  RegisterApiRoutes(&router, &state);
  std::atomic<storage::Retention*> retention_routes{nullptr};  // set once the engine is open
  RegisterRetentionRoutes(&router, &retention_routes);
  // Disk pressure past the shed watermark refuses the lowest levels at every door (set once the
  // engine is open).
  std::atomic<storage::DiskWatch*> disk_watch{nullptr};
  state.pipeline.AddAdmitHook(
      [&disk_watch](const ingest::BatchInfo& batch, std::vector<Record>* records) -> Status {
        storage::DiskWatch* watch = disk_watch.load();
        return watch != nullptr ? watch->Admit(batch.tenant, *records) : Status::OK();
      });
  {
    // Zones of timestamps written without one; ValidateServerConfig has checked every name.
    ingest::PipelineOptions pipeline_options = state.pipeline.options();
    auto zone = TimeZone::Find(config.timezone);
    auto by_service = ParseZoneMap("timezone_by_service", config.timezone_by_service);
    auto by_tenant = ParseZoneMap("timezone_by_tenant", config.timezone_by_tenant);
    for (const Status& status : {zone.status(), by_service.status(), by_tenant.status()}) {
      if (!status.ok()) {
        std::fprintf(stderr, "sawmill server: %s\n", status.message().c_str());
        return 2;
      }
    }
    pipeline_options.zone = *zone;
    pipeline_options.zone_by_service = std::move(by_service).value();
    pipeline_options.zone_by_tenant = std::move(by_tenant).value();
    state.pipeline.set_options(pipeline_options);
  }
  // Before the shipper routes: a browser asking for "/" goes to the UI, shippers keep "/".
  RegisterUiRoutes(&router, UiSource{run.ui_files, config.ui_dir}, HandleElasticsearchApi);
  RegisterShipperRoutes(&router, &state.pipeline);
  // Alerting (docs/alerting.md): set once the engine is open; the listener counts every
  // acknowledged batch into the rules from then on.
  std::atomic<AlertService*> alert_service{nullptr};
  RegisterAlertRoutes(&router, &state, &alert_service);
  state.pipeline.AddListener(
      [&alert_service](const ingest::BatchInfo& batch, const std::vector<Record>& records) {
        if (AlertService* alerts = alert_service.load()) {
          alerts->engine()->OnBatch(batch.tenant, records);
        }
      });
  // Identity: one gate for every route and tail session (docs/security.md).
  AuthGate gate(state.clock);
  gate.set_audit_retention(static_cast<int64_t>(
      std::min<uint64_t>(config.audit_retention_ms, INT64_MAX / 1'000'000) * 1'000'000));
  RegisterAuthRoutes(&router, &gate, state.clock);
  // Per-tenant quotas (docs/security.md "Quotas"): ingest before the WAL, queries, tail sessions,
  // bytes scanned per hour, how far back a reader reaches. Each is the tenant's override (set
  // through the API, else in tenant_quotas) or the server-wide tenant_* default, asked on every
  // batch and query so that a change applies at once.
  QuotaValues quota_defaults;
  quota_defaults[QuotaKey::kIngestLinesPerSec] = config.tenant_ingest_lines_per_sec;
  quota_defaults[QuotaKey::kIngestBytesPerSec] = config.tenant_ingest_bytes_per_sec;
  quota_defaults[QuotaKey::kIngestBurst] = config.tenant_ingest_burst_ms;
  quota_defaults[QuotaKey::kMaxQueries] = config.tenant_max_queries;
  quota_defaults[QuotaKey::kMaxTailSessions] = config.tenant_max_tail_sessions;
  quota_defaults[QuotaKey::kScannedBytesPerHour] = config.tenant_scanned_bytes_per_hour;
  quota_defaults[QuotaKey::kReaderMaxRange] = config.tenant_reader_max_range_ms;
  auto configured_quotas = ParseTenantQuotas(config.tenant_quotas);  // validated with the config
  TenantQuotaTable quota_table(quota_defaults,
                               configured_quotas.ok()
                                   ? std::move(configured_quotas).value()
                                   : std::map<std::string, QuotaValues, std::less<>>(),
                               state.clock);
  ingest::TenantQuotas quotas(state.clock, [&quota_table](std::string_view tenant) {
    ingest::TenantQuotaOptions o;
    o.lines_per_sec = quota_table.Get(tenant, QuotaKey::kIngestLinesPerSec);
    o.bytes_per_sec = quota_table.Get(tenant, QuotaKey::kIngestBytesPerSec);
    o.burst_ns = static_cast<int64_t>(std::min<uint64_t>(
                     quota_table.Get(tenant, QuotaKey::kIngestBurst), INT64_MAX / 1'000'000)) *
                 1'000'000;
    return o;
  });
  state.pipeline.AddAdmitHook(
      [&quotas](const ingest::BatchInfo& batch, std::vector<Record>* records) {
        return quotas.Admit(batch.tenant, *records);
      });
  auto quota_of = [&quota_table](QuotaKey key) {
    return [&quota_table, key](std::string_view tenant) { return quota_table.Get(tenant, key); };
  };
  // PII masking (docs/security.md "PII masking"): after the quotas, before the WAL.
  auto masking_rules = ParseMaskingConfig(config.masking);  // checked by ValidateServerConfig
  auto masking =
      masking_rules.ok() ? ingest::TenantMasking::Create(*masking_rules) : masking_rules.status();
  if (!masking.ok()) {
    std::fprintf(stderr, "sawmill server: %s\n", masking.status().message().c_str());
    return 2;
  }
  if ((*masking)->enabled()) {
    state.pipeline.AddAdmitHook(
        [m = masking->get()](const ingest::BatchInfo& batch, std::vector<Record>* records) {
          return m->Admit(batch, records);
        });
  }
  state.masking = masking->get();
  TenantLimiter query_limiter("concurrent queries", "tenant_max_queries",
                              quota_of(QuotaKey::kMaxQueries));
  TenantLimiter tail_limiter("tail sessions", "tenant_max_tail_sessions",
                             quota_of(QuotaKey::kMaxTailSessions));
  ScanQuota scan_quota(state.clock, quota_of(QuotaKey::kScannedBytesPerHour));
  state.query_limiter = &query_limiter;
  RegisterTenantRoutes(&router, &state,
                       TenantQuotaState{&quota_table, &query_limiter, &tail_limiter, &scan_quota});
  http_options.authorize = [&gate](HttpRequest* request, std::string_view pattern) {
    return gate.Authorize(request, pattern);
  };
  http_options.audit = [&gate](const HttpRequest& request, std::string_view pattern,
                               const HttpResponse& response) {
    gate.Audit(request, pattern, response);
  };
  if (Status refused = CheckBindNeedsAuth(config, http_options.address); !refused.ok()) {
    std::fprintf(stderr, "sawmill server: %s\n", refused.message().c_str());
    return 2;
  }
  RegisterAdminTierRoutes(&router, &state);
  RegisterLokiReadRoutes(&router, &state);
  RegisterExportRoutes(&router, &state);
  // Cluster nodes (docs/cluster.md): the registry is set once the engine's catalog is open.
  ClusterRouteState cluster_routes;
  cluster_routes.secret = config.cluster_secret;
  // Live tail across nodes (docs/cluster.md "Live tail"): this node's acknowledged batches for
  // the other nodes' sessions.
  cluster_routes.feed_source = cluster::FeedSource::Create({});
  state.pipeline.AddListener(
      [source = cluster_routes.feed_source.get()](const ingest::BatchInfo& batch,
                                                  const std::vector<Record>& records) {
        source->Publish(batch.tenant, records);
      });
  RegisterClusterRoutes(&router, &state, &cluster_routes);

  tail::TailHubOptions hub_options;
  hub_options.max_sessions = config.tail_max_sessions;
  hub_options.queue_records = config.tail_queue_records;
  hub_options.total_queue_bytes = config.tail_memory_bytes;
  hub_options.queue_bytes = std::min<uint64_t>(hub_options.queue_bytes, config.tail_memory_bytes);
  std::unique_ptr<tail::TailHub> hub = tail::TailHub::Create(hub_options);
  // Live tail sees every acknowledged batch, whatever door it came through.
  state.pipeline.AddListener(
      [tail_hub = hub.get()](const ingest::BatchInfo& batch, const std::vector<Record>& records) {
        tail_hub->Publish(batch.tenant, records);
      });
  TailSubscriber subscriber =
      [&state, &tail_limiter, tail_hub = hub.get()](
          const HttpRequest& request) -> Result<std::shared_ptr<tail::TailSession>> {
    if (state.stopping.load()) return Status::Unavailable("the server is stopping");
    auto slot = tail_limiter.Acquire(request.tenant);
    if (!slot.ok()) return slot.status();
    auto session = tail_hub->Subscribe(request.tenant, request.Query("q"));
    if (!session.ok() || *slot == nullptr) return session;
    // The tenant's slot is held as long as the session is.
    std::shared_ptr<tail::TailSession> held = *session;
    return std::shared_ptr<tail::TailSession>(held.get(),
                                              [held, slot = *slot](tail::TailSession*) mutable {
                                                held.reset();
                                                slot.reset();
                                              });
  };

  http_options.framed_tails["/loki/api/v1/tail"] = LokiTailSubscriber(&state, hub.get());

  // Memtables past 1.5 x memtable_cap mean flushing is behind: between the cap and 1.5 x it the
  // engine paces Appends to the flush rate (storage/append_pacer.h), so they pass it only when
  // flushing stalls. Engine::Append would wait for flushes at twice the cap, holding the
  // request. Refuse it before it is held instead (docs/operations.md "Memory").
  http_options.storage_room = [&state, cap = config.memtable_cap_bytes](uint64_t) {
    storage::Engine* engine = state.engine.load();
    if (engine == nullptr) return std::string();
    const uint64_t held = engine->stats().memtable_bytes;
    const uint64_t most = cap + cap / 2;
    if (held < most) return std::string();
    return "memtables hold " + std::to_string(held >> 20) + " MiB, the most ingestion may " +
           "fill (1.5 x memtable_cap = " + std::to_string(most >> 20) +
           " MiB): flushing to segments is behind";
  };

  HttpServer server(http_options, &router, subscriber);
  status = server.Start();
  if (!status.ok()) {
    std::fprintf(stderr, "sawmill server: %s\n", status.message().c_str());
    return 1;
  }
  spdlog::info("listening on {}://{}:{}/ (data in {})", scheme, http_options.address, server.port(),
               config.data_dir);

  auto cold_store = OpenColdStore(config);
  if (!cold_store.ok()) {
    std::fprintf(stderr, "sawmill server: cold store: %s\n", cold_store.status().message().c_str());
    server.StopAccepting();
    server.Stop();
    return 1;
  }
  storage::EngineOptions engine_options;
  engine_options.data_dir = config.data_dir;
  engine_options.catalog_path = config.catalog;
  engine_options.flush_interval_ns = static_cast<int64_t>(config.flush_interval_ms) * 1'000'000;
  engine_options.memtable_cap_bytes = config.memtable_cap_bytes;
  engine_options.segment_target_bytes = config.segment_target_bytes;
  engine_options.partitions = static_cast<uint32_t>(config.partitions);  // validated <= 4096
  engine_options.flush_threads = static_cast<int>(std::min<uint64_t>(config.flush_threads, 64));
  engine_options.pressure_text_zstd_level = static_cast<int>(config.pressure_zstd_level);
  engine_options.background_nice = static_cast<int>(config.background_nice);  // validated <= 19
  engine_options.idempotency_window_ns = static_cast<int64_t>(std::min<uint64_t>(
                                             config.idempotency_window_ms, INT64_MAX / 1'000'000)) *
                                         1'000'000;
  engine_options.idempotency_max_keys = config.idempotency_max_keys;
  engine_options.background_compaction = config.compaction == "on";
  engine_options.compaction_text_layouts = config.compaction_text_layouts == "on";
  engine_options.warm_after_ns = MillisToNanos(config.warm_after_ms);
  engine_options.cold_after_ns = MillisToNanos(config.cold_after_ms);
  engine_options.tier_interval_ns = MillisToNanos(config.tier_interval_ms);
  // A cluster node merges and re-encodes only segments older than any running query.
  engine_options.shared_settle_ns = MillisToNanos(config.query_timeout_ms);
  // nullptr (no --cold-store): the engine keeps cold segments in DIR/cold.
  engine_options.cold_store = std::move(cold_store).value();
  // Background jobs run on the node holding their lease in the catalog (docs/cluster.md
  // "Background work by lease"); the leases exist once the node registered (rounds before are
  // skipped). The storage engine's compaction and tier rounds ask through storage/job_gate.h,
  // set before its threads start and unset when this function returns.
  std::atomic<cluster::JobLeases*> job_leases{nullptr};
  std::unique_ptr<cluster::JobLeases> job_leases_owner;
  auto job_gate = [&job_leases](std::string_view job) {
    cluster::JobLeases* leases = job_leases.load();
    return leases != nullptr && leases->Claim(job);
  };
  storage::SetJobGate(job_gate);
  // A round whose node lost the lease meanwhile abandons it before its next commit step.
  storage::SetJobLeaseCheck([&job_leases](std::string_view job) {
    cluster::JobLeases* leases = job_leases.load();
    return leases != nullptr && leases->StillHeld(job);
  });
  // Compaction and tier moves claim leases per partition (storage/job_gate.h), from the same
  // leases; none before the node registered.
  storage::SetPartitionLeases(
      [&job_leases]() -> storage::PartitionLeases* { return job_leases.load(); });
  struct UnsetJobGate {
    ~UnsetJobGate() {
      storage::SetJobGate(nullptr);
      storage::SetJobLeaseCheck(nullptr);
      storage::SetPartitionLeases(nullptr);
    }
  } unset_job_gate;
  // The node's registry settings (docs/cluster.md "Nodes"): a cluster node starts its registry
  // before the engine opens (below); any other server after, on the engine's catalog.
  auto registry_options =
      NodeRegistryOptionsFor(config, scheme, http_options.address, server.port());
  if (!registry_options.ok()) {
    std::fprintf(stderr, "sawmill server: %s\n", registry_options.status().ToString().c_str());
    server.StopAccepting();
    server.Stop();
    return 1;
  }
  // Cluster mode (--store; docs/cluster.md): WAL objects and segments in the shared store.
  auto cluster_node = OpenClusterNode(config, *registry_options, &engine_options);
  if (!cluster_node.ok()) {
    std::fprintf(stderr, "sawmill server: cluster node: %s\n",
                 cluster_node.status().ToString().c_str());
    server.StopAccepting();
    server.Stop();
    return 1;
  }
  auto opened = storage::Engine::Open(engine_options);
  if (!opened.ok()) {
    std::fprintf(stderr, "sawmill server: cannot open %s: %s\n", config.data_dir.c_str(),
                 opened.status().ToString().c_str());
    server.StopAccepting();
    server.Stop();
    return 1;
  }
  std::unique_ptr<storage::Engine> engine = std::move(*opened);
  if (*cluster_node) (*cluster_node)->Start(engine.get());
  query::QueryOptions query_options;
  query_options.partitions = engine_options.partitions;  // lets a service+host query prune
  query_options.max_query_ns = static_cast<int64_t>(config.query_timeout_ms) * 1'000'000;
  std::unique_ptr<query::QueryEngine> query_engine =
      query::QueryEngine::Create(engine.get(), query_options);
  // Cluster fan-out (docs/cluster.md "Read path"): while other live nodes exist, each search
  // also asks them for their memtables' part; with none (the embedded single node) nothing
  // changes.
  cluster::FanoutOptions fanout_options;
  fanout_options.secret = config.cluster_secret;
  fanout_options.max_wait_ns = MillisToNanos(config.query_timeout_ms);
  cluster::Fanout fanout(
      [&cluster_routes] {
        cluster::NodeRegistry* registry = cluster_routes.registry.load();
        return registry != nullptr ? registry->Peers() : std::vector<catalog::NodeRow>();
      },
      fanout_options);
  // The segment view (docs/cluster.md "The segment view"): a cluster node keeps every node's
  // flushed segments from the catalog, and each search brings it up to what the other nodes'
  // answers need; every server prunes the catalog's old segment changes.
  cluster::SegmentRefreshOptions refresh_options;
  refresh_options.apply = *cluster_node != nullptr;
  refresh_options.interval_ns = MillisToNanos(config.segment_refresh_interval_ms);
  if (*cluster_node) {
    // The takeover generations each view read covers (docs/cluster.md "Fenced answers").
    refresh_options.before_apply = [node = cluster_node->get()](bool changes) {
      node->NoteViewRead(changes);
    };
  }
  std::unique_ptr<cluster::SegmentRefresh> segment_refresh;
  if (engine->catalog() != nullptr) {
    segment_refresh =
        std::make_unique<cluster::SegmentRefresh>(engine->catalog(), engine.get(), refresh_options);
    segment_refresh->Start();
  }
  cluster::ViewCatchUp catch_up;
  if (*cluster_node && segment_refresh) {
    catch_up = [refresh = segment_refresh.get()](uint64_t at_least, int64_t timeout_ns,
                                                 std::string* error) {
      return refresh->CatchUp(at_least, timeout_ns, error);
    };
  }
  // A cluster node checks, after its snapshot, that no answering node was taken over while the
  // query ran (docs/cluster.md "Fenced answers").
  cluster::AnswerCheck answer_check;
  if (*cluster_node) {
    cluster::ClusterNode* node = cluster_node->get();
    answer_check.self = node->id();
    answer_check.read_takeovers = [node] { return node->ReadTakeovers(); };
    answer_check.known_takeovers = [node] { return node->KnownTakeovers(); };
    answer_check.fresh_ns = node->registry()->may_look_dead_after_ns();
  }
  cluster::FanoutQueryEngine fanout_engine(query_engine.get(), &fanout, std::move(catch_up),
                                           std::move(answer_check));
  // What the routes use: the tenant's scan quota and role limits first (tenant_limits.h).
  QuotaQueryEngine quota_engine(&fanout_engine, &scan_quota, quota_of(QuotaKey::kReaderMaxRange),
                                state.clock);
  // What starts from here on; each is stopped by shut_down if it started.
  std::unique_ptr<storage::Retention> retention;
  std::unique_ptr<storage::DiskWatch> watch;
  std::unique_ptr<AlertService> alerts;
  std::unique_ptr<cluster::PeerFeeds> peer_feeds;  // other nodes' lines for the tail sessions
  // A cluster node's registry runs since before the engine opened (cluster_node.h); any other
  // server's starts below.
  std::unique_ptr<cluster::NodeRegistry> own_registry;
  cluster::NodeRegistry* registry = *cluster_node ? (*cluster_node)->registry() : nullptr;
  std::unique_ptr<ingest::SyslogServer> syslog, syslog_tls;
  // Stops what started, in the order docs/operations.md promises, and closes the engine: the
  // shutdown after a signal, and after a part that cannot start once the engine is open (before,
  // such a start closed the engine with retention, the disk watch, alerting and the node's
  // registration still running). Its exit code: 1 when the engine did not close cleanly.
  // "aborted": a start that failed; a cluster node then keeps its row in the nodes table, so that
  // once it looks dead (node_timeout) another node takes over the WAL objects a failed close may
  // leave (docs/cluster.md: a node without a row is not taken over).
  auto shut_down = [&](bool aborted) {
    state.stopping.store(true);
    // A compaction round or a tier move in progress (niced, possibly minutes from its end on a
    // busy machine) is abandoned at its next block, before the disk watch and the engine are
    // stopped, which wait for it (docs/storage.md "Stopping").
    engine->StopBackgroundWork();
    // Out of the nodes table first, so that other nodes stop asking this one.
    cluster_routes.registry.store(nullptr);
    cluster_routes.local_query.store(nullptr);
    // The other nodes' feeds end (they reconnect elsewhere).
    cluster_routes.feed_source->Shutdown();
    if (peer_feeds) peer_feeds->Stop();
    if (registry != nullptr) registry->Stop(/*remove=*/!(aborted && *cluster_node));
    if (syslog) syslog->Stop();
    if (syslog_tls) syslog_tls->Stop();
    server.StopAccepting();
    if (!server.WaitIdle(static_cast<int>(config.shutdown_timeout_ms))) {
      spdlog::warn("{} requests still in flight after {} ms; closing anyway", server.in_flight(),
                   config.shutdown_timeout_ms);
    }
    state.sink.Stop();
    // Alerting stops before the engine closes: its last states go to the catalog.
    alert_service.store(nullptr);
    if (alerts) alerts->engine()->Stop();
    if (watch) watch->Stop();
    engine->SetTierPolicy(nullptr);    // the mover no longer asks the retention about tenants
    if (retention) retention->Stop();  // a round in progress finishes first
    // The jobs' leases are given up (while the engine's catalog is open) so that another node
    // takes the jobs at once; no background round starts here any more.
    storage::SetJobGate([](std::string_view) { return false; });
    job_leases.store(nullptr);
    if (job_leases_owner) job_leases_owner->Stop(/*release=*/true);
    if (Status flushed = scan_quota.Flush(); !flushed.ok()) {
      spdlog::warn("scan quota: could not store the bytes scanned per tenant: {}",
                   flushed.ToString());
    }
    if (*cluster_node) (*cluster_node)->Stop();  // no takeover while the engine closes
    if (segment_refresh) segment_refresh->Stop();
    int exit_code = 0;
    if (Status closed = engine->Close(); !closed.ok()) {
      spdlog::error("closing the storage engine: {}", closed.ToString());
      exit_code = 1;
    }
    hub->Shutdown();
    server.CloseTailSessions(2000);
    server.Stop();
    spdlog::info("stopped");
    return exit_code;
  };
  // A part that cannot start once the engine is open: says why ("what"), shuts down what started
  // and gives the exit code "code".
  auto abort_start = [&](const std::string& what, int code) {
    std::fprintf(stderr, "sawmill server: %s\n", what.c_str());
    shut_down(/*aborted=*/true);
    return code;
  };
  std::unique_ptr<auth::TokenStore> tokens;
  std::unique_ptr<auth::AuditLog> audit_log;
  {
    Status status = engine->catalog() == nullptr
                        ? Status::Internal("the storage engine has no catalog for API tokens")
                        : Status::OK();
    if (status.ok()) {
      auto opened_tokens = auth::TokenStore::Open(engine->catalog(), Clock::Real());
      auto opened_log = auth::AuditLog::Open(engine->catalog(), Clock::Real());
      status = !opened_tokens.ok() ? opened_tokens.status() : opened_log.status();
      if (status.ok()) {
        tokens = std::move(*opened_tokens);
        audit_log = std::move(*opened_log);
        status = quota_table.Attach(engine->catalog());
      }
      // The bytes scanned in the last hour, as stored before a restart.
      if (status.ok()) status = scan_quota.Attach(engine->catalog());
    }
    if (!status.ok()) return abort_start(status.ToString(), 1);
    gate.Attach(tokens.get(), audit_log.get());
    spdlog::info(tokens->enabled()
                     ? "API tokens: required on every route but /healthz and /readyz"
                     : "API tokens: none exist, so none is required (docs/security.md)");
  }
  // Retention and holds (docs/storage.md): ValidateServerConfig has checked the policy.
  {
    storage::RetentionOptions retention_options;
    retention_options.engine = engine.get();
    auto policy = ParseRetentionConfig(config.retention);
    Result<std::unique_ptr<storage::Retention>> started = policy.status();
    if (policy.ok()) {
      retention_options.config = std::move(policy).value();
      retention_options.matcher = QueryHoldMatcher();
      retention_options.default_warm_after_ns = engine_options.warm_after_ns;
      retention_options.default_cold_after_ns = engine_options.cold_after_ns;
      retention_options.job_gate = job_gate;
      retention_options.interval_ns = static_cast<int64_t>(std::min<uint64_t>(
                                          config.retention_interval_ms, INT64_MAX / 1'000'000)) *
                                      1'000'000;
      started = storage::Retention::Start(std::move(retention_options));
    }
    if (!started.ok()) return abort_start(started.status().message(), 1);
    retention = std::move(*started);
    retention_routes.store(retention.get());
    // The tier mover reads each tenant's warm_after / cold_after from the retention policies.
    engine->SetTierPolicy(retention->TierAges());
  }
  {
    storage::DiskWatchOptions watch_options;
    watch_options.engine = engine.get();
    watch_options.retention = retention.get();
    watch_options.nice = engine_options.background_nice;
    Status parsed = storage::ParseWatermarks(config.disk_watermarks, &watch_options.warm,
                                             &watch_options.cold, &watch_options.shed);
    watch_options.interval_ns =
        static_cast<int64_t>(std::min<uint64_t>(config.disk_check_interval_ms, 86'400'000)) *
        1'000'000;
    // Past the cold watermark, warm segments go to the cold store when it is off this volume
    // (an S3 store); without one, tenants past max_bytes shrink.
    watch_options.move_to_cold = !config.cold_store.empty();
    Result<std::unique_ptr<storage::DiskWatch>> started = parsed;
    if (parsed.ok()) started = storage::DiskWatch::Start(std::move(watch_options));
    if (!started.ok()) return abort_start(started.status().message(), 1);
    watch = std::move(*started);
    disk_watch.store(watch.get());
  }
  state.engine.store(engine.get());
  state.query.store(&quota_engine);
  state.sink.SetEngine(engine.get());
  {
    const bool any = http_options.address.empty() || http_options.address == "0.0.0.0" ||
                     http_options.address == "::";
    auto started = StartAlerting(
        config,
        scheme + "://" + (any ? std::string("127.0.0.1") : http_options.address) + ":" +
            std::to_string(server.port()),
        engine.get(), query_engine.get(), [&signals] { return signals.hups(); }, &quota_engine);
    if (!started.ok()) return abort_start(started.status().message(), 2);
    alerts = std::move(*started);
    alert_service.store(alerts.get());
  }
  // The node registers itself in the catalog and heartbeats (docs/cluster.md "Nodes"); the
  // embedded single node too, harmlessly (one live node: nothing fans out).
  {
    Result<std::unique_ptr<cluster::NodeRegistry>> started =
        std::unique_ptr<cluster::NodeRegistry>();
    if (registry == nullptr) {
      started = cluster::NodeRegistry::Start(engine->catalog(), *registry_options);
    }
    if (!started.ok()) return abort_start(started.status().ToString(), 1);
    if (registry == nullptr) {
      own_registry = std::move(*started);
      registry = own_registry.get();
    }
    cluster_routes.registry.store(registry);
    cluster_routes.local_query.store(query_engine.get());
    cluster::PeerFeedOptions feed_options;
    feed_options.secret = config.cluster_secret;
    peer_feeds = std::make_unique<cluster::PeerFeeds>(
        [&cluster_routes] {
          cluster::NodeRegistry* r = cluster_routes.registry.load();
          return r != nullptr ? r->Peers() : std::vector<catalog::NodeRow>();
        },
        hub.get(), feed_options);
    cluster::JobLeaseOptions lease_options;
    lease_options.holder = registry->id() + "#" + std::to_string(registry->incarnation());
    lease_options.node_id = registry->id();
    job_leases_owner = std::make_unique<cluster::JobLeases>(engine->catalog(), lease_options);
    job_leases.store(job_leases_owner.get());
  }
  state.ready.store(true);
  spdlog::info("ready: write-ahead log replayed");
  if (!config.syslog_address.empty()) {
    ingest::SyslogServerOptions syslog_options;
    syslog_options.udp_receive_buffer_bytes = config.syslog_udp_buffer_bytes;
    auto started =
        ingest::SyslogServer::Start(config.syslog_address, &state.pipeline, syslog_options);
    if (!started.ok()) return abort_start("--syslog: " + started.status().message(), 1);
    syslog = std::move(*started);  // SyslogServer::Start logged where it listens
  }
  // Syslog over TLS (RFC 5425) on its own port, with the HTTPS listener's context (and reload).
  if (!config.syslog_tls_address.empty()) {
    ingest::SyslogServerOptions syslog_options;
    syslog_options.tls = server_tls;
    syslog_options.tls_handshake_timeout_ms = static_cast<int>(config.tls_handshake_timeout_ms);
    // Two threads (each connection on its own strand): handshakes go on while one thread waits
    // for storage to take a batch.
    syslog_options.threads = 2;
    auto started =
        ingest::SyslogServer::Start(config.syslog_tls_address, &state.pipeline, syslog_options);
    if (!started.ok()) return abort_start("--syslog-tls: " + started.status().message(), 1);
    syslog_tls = std::move(*started);
  }

  if (!run.welcome_cli.empty()) {
    // All interfaces: the command line on this machine reaches the server on loopback.
    const std::string& address = http_options.address;
    std::string host = address;
    if (address.empty() || address == "0.0.0.0" || address == "::") {
      host = "127.0.0.1";
    } else if (address.find(':') != std::string::npos && address.front() != '[') {
      host = "[" + address + "]";
    }
    std::string text =
        WelcomeText(run.welcome_cli, scheme + "://" + host + ":" + std::to_string(server.port()),
                    config.data_dir);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }

  // Until a signal: the per-tenant stored-bytes gauges are refreshed every 30 s.
  while (!signals.WaitFor(std::chrono::seconds(30))) {
    if (Status refreshed = RefreshTenantMetrics(&state); !refreshed.ok()) {
      spdlog::warn("tenant metrics: {}", refreshed.ToString());
    }
  }

  return shut_down(/*aborted=*/false);
}

}  // namespace sawmill::http
