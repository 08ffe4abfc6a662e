#include "http/server_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "catalog/pg_catalog.h"
#include "common/config_values.h"
#include "common/tls.h"
#include "http/admin_retention_routes.h"
#include "http/connection_policy.h"
#include "http/masking_config.h"
#include "http/tenant_quotas.h"
#include "objstore/s3_store.h"
#include "storage/disk_watch.h"

namespace sawmill::http {

std::vector<ConfigOption> ServerOptions(ServerConfig* c) {
  using T = OptionType;
  return {
      {"data", T::kString, "data directory (WAL, segments, catalog); required", &c->data_dir},
      {"http", T::kString, "HTTP listen address host:port", &c->http_address},
      {"syslog", T::kString, "syslog listen address host:port (TCP and UDP); empty: off",
       &c->syslog_address},
      {"syslog_udp_buffer", T::kBytes,
       "receive buffer of the syslog UDP socket; a longer burst is dropped (and counted)", nullptr,
       &c->syslog_udp_buffer_bytes},
      {"max_body", T::kBytes, "largest request body as received (413 past it)", nullptr,
       &c->max_body_bytes},
      {"max_decoded_body", T::kBytes, "largest request body after Content-Encoding decoding",
       nullptr, &c->max_decoded_bytes},
      {"max_request_lines", T::kCount, "most lines in one request after decoding (413 past it)",
       nullptr, &c->max_request_lines},
      {"ingest_memory", T::kBytes,
       "memory budget of request bodies and their records in flight (429 when full)", nullptr,
       &c->ingest_memory_bytes},
      {"max_line", T::kBytes, "longer lines are truncated and flagged", nullptr,
       &c->max_line_bytes},
      {"max_connections", T::kCount, "open connections past which new ones get 503", nullptr,
       &c->max_connections},
      {"max_connections_per_address", T::kCount,
       "open connections per client address (IPv6: per /64) past which new ones get 429; 0: off",
       nullptr, &c->max_connections_per_address},
      {"connection_cap_exempt", T::kString,
       "comma-separated addresses or CIDR networks not subject to max_connections_per_address",
       &c->connection_cap_exempt},
      {"allowed_hosts", T::kString,
       "comma-separated Host names (name or name:port) answered besides localhost and the "
       "server's addresses; * turns the Host check off",
       &c->allowed_hosts},
      {"allowed_origins", T::kString,
       "comma-separated browser origins (https://ui.example.com) allowed cross-origin, with CORS",
       &c->allowed_origins},
      {"read_timeout", T::kDuration,
       "time to receive a whole request (headers and body) from its first byte", nullptr,
       &c->read_timeout_ms},
      {"idle_timeout", T::kDuration,
       "a connection on which no request has begun (new, or kept alive) is closed after this",
       nullptr, &c->idle_timeout_ms},
      {"workers", T::kCount, "threads that run request handlers", nullptr, &c->worker_threads},
      {"io_threads", T::kCount, "threads that run socket I/O", nullptr, &c->io_threads},
      {"query_timeout", T::kDuration,
       "a search still running after this stops and answers partial, naming the limit", nullptr,
       &c->query_timeout_ms},
      {"tail_max_sessions", T::kCount, "live-tail sessions past which new ones get 429", nullptr,
       &c->tail_max_sessions},
      {"tail_queue", T::kCount, "records queued per tail session before lines are dropped", nullptr,
       &c->tail_queue_records},
      {"tail_memory", T::kBytes,
       "memory for the queues of all tail sessions together; past it lines are dropped", nullptr,
       &c->tail_memory_bytes},
      {"heartbeat", T::kDuration, "tail heartbeat interval (WebSocket ping, SSE comment)", nullptr,
       &c->heartbeat_ms},
      {"shutdown_timeout", T::kDuration, "time allowed for in-flight requests at shutdown", nullptr,
       &c->shutdown_timeout_ms},
      {"flush_interval", T::kDuration, "a memtable this old is flushed to a segment", nullptr,
       &c->flush_interval_ms},
      {"memtable_cap", T::kBytes, "memory for all memtables; the largest flushes early", nullptr,
       &c->memtable_cap_bytes},
      {"segment_target", T::kBytes, "a memtable this big is flushed", nullptr,
       &c->segment_target_bytes},
      {"partitions", T::kCount,
       "memtables and segment streams per tenant, by hash of service and host; fixed for a store "
       "at its first start (every node of a cluster the same)",
       nullptr, &c->partitions},
      {"flush_threads", T::kCount,
       "memtables flushed to segments at once when memtables pass memtable_cap (each holds its "
       "own buffers: more drains faster, at that memory)",
       nullptr, &c->flush_threads},
      {"pressure_zstd_level", T::kCount,
       "zstd level of message text in flushes made while memtables are over memtable_cap, so "
       "that they free memory sooner (compaction rewrites them at 11); 0: the usual 9",
       nullptr, &c->pressure_zstd_level},
      {"background_nice", T::kCount,
       "nice value (0-19) of compaction, the tier mover and the disk watch's moves, so that the "
       "flush that paced ingest waits for gets the CPU first on a busy machine; 0: the "
       "process's own",
       nullptr, &c->background_nice},
      {"idempotency_window", T::kDuration, "Idempotency-Keys are kept at least this long", nullptr,
       &c->idempotency_window_ms},
      {"warm_after", T::kDuration,
       "segments whose newest line is older than this are re-encoded for size (warm tier); 0: "
       "never",
       nullptr, &c->warm_after_ms},
      {"cold_after", T::kDuration,
       "segments whose newest line is older than this move to the cold object store; 0: never",
       nullptr, &c->cold_after_ms},
      {"tier_interval", T::kDuration,
       "how often the tier mover looks for segments due to move (and sweeps superseded objects); "
       "0: never (sawmill admin tiers move still works)",
       nullptr, &c->tier_interval_ms},
      {"timezone", T::kString,
       "zone of timestamps written without one: an IANA name (Europe/Berlin), UTC or an offset "
       "(+01:00); a request's ?tz= wins",
       &c->timezone},
      {"timezone_by_service", T::kString,
       "comma-separated service=zone pairs (kafka=Europe/Berlin) for requests naming that "
       "service; a YAML mapping in --config",
       &c->timezone_by_service},
      {"timezone_by_tenant", T::kString,
       "comma-separated tenant=zone pairs for requests of that tenant (X-Scope-OrgID); a YAML "
       "mapping in --config",
       &c->timezone_by_tenant},
      {"ui_dir", T::kString,
       "serve the web UI under /ui/ from this directory (UI development: web/dist) instead of "
       "the files built into the binary",
       &c->ui_dir},
      {"idempotency_max_keys", T::kCount,
       "Idempotency-Keys kept at most (the oldest are forgotten first, counted)", nullptr,
       &c->idempotency_max_keys},
      {"compaction", T::kString,
       "on: small segments are merged in the background; off: only by `sawmill admin compact`",
       &c->compaction},
      {"compaction_text_layouts", T::kString,
       "on: compaction writes text in the warm tier's text layouts (messages about 15 % smaller, "
       "more compaction CPU, a search reading a few rows of a block decodes all of it); off: "
       "messages as marked lines",
       &c->compaction_text_layouts},
      {"catalog", T::kString,
       "the segment catalog: empty for DIR/catalog.db (SQLite), or postgresql://USER@HOST:PORT/DB "
       "for PostgreSQL (one server per catalog until cluster mode; docs/operations.md)",
       &c->catalog},
      // Cluster mode (docs/cluster.md).
      {"store", T::kString,
       "cluster mode: s3://BUCKET/PREFIX, the object store every node shares (WAL objects and "
       "segments; endpoint, region and keys as for cold_store); needs a postgresql:// catalog",
       &c->store},
      {"node_id", T::kString,
       "this node's id in the nodes table and its WAL objects' names (1-64 letters, digits, '-', "
       "'_' or '.'); empty: the one kept in DATA/node_id",
       &c->node_id},
      {"wal_object_interval", T::kDuration,
       "cluster mode: acknowledged batches are written to the store as one WAL object this often",
       nullptr, &c->wal_object_interval_ms},
      {"wal_object_size", T::kBytes,
       "cluster mode: a WAL object is written early once its batches reach this size", nullptr,
       &c->wal_object_bytes},
      {"segment_sweep_interval", T::kDuration,
       "cluster mode: how often the node holding the sweep's lease looks for segment objects in "
       "the store that no catalog row names; 0: never",
       nullptr, &c->segment_sweep_interval_ms},
      {"segment_orphan_grace", T::kDuration,
       "cluster mode: a segment object no catalog row has named for this long is deleted by the "
       "sweep (longer than node_timeout)",
       nullptr, &c->segment_orphan_grace_ms},
      // Cold tier store.
      {"cold_store", T::kString,
       "where cold segments go: empty for a directory of the data directory, or "
       "s3://BUCKET/PREFIX for an S3-compatible store",
       &c->cold_store},
      {"cold_store_endpoint", T::kString,
       "S3 endpoint URL (http(s)://host:port, path-style); empty: AWS_ENDPOINT_URL",
       &c->cold_store_endpoint},
      {"cold_store_region", T::kString, "S3 region for SigV4; empty: AWS_REGION or us-east-1",
       &c->cold_store_region},
      {"cold_store_access_key", T::kString, "S3 access key; empty: AWS_ACCESS_KEY_ID",
       &c->cold_store_access_key},
      {"cold_store_secret_key", T::kString,
       "S3 secret key; empty: AWS_SECRET_ACCESS_KEY (prefer the variable or the config file to "
       "a flag, which other users can see)",
       &c->cold_store_secret_key},
      {"cold_store_part_size", T::kBytes,
       "S3 multipart part size (at least 5MiB); larger objects go up as multipart uploads", nullptr,
       &c->cold_store_part_bytes},
      {"cold_store_retry_time", T::kDuration,
       "how long one S3 operation is retried (5xx, 429, timeouts, lost connections)", nullptr,
       &c->cold_store_retry_ms},
      {"cold_store_upload_grace", T::kDuration,
       "an unfinished S3 multipart upload under the prefix older than this is aborted (at start "
       "and every tier round); no upload of this server runs longer",
       nullptr, &c->cold_store_upload_grace_ms},
      {"cold_cache_bytes", T::kBytes,
       "local disk cache (DATA/cold-cache/) of byte ranges read from an S3 cold store, least "
       "recently used first out; 0: none",
       nullptr, &c->cold_cache_bytes},
      // Alerting (docs/alerting.md).
      {"alert_rules", T::kString,
       "YAML file of alerting rules; reloaded when it changes and on SIGHUP (a file with an "
       "error keeps the previous rules)",
       &c->alert_rules},
      {"alertmanager", T::kString,
       "Alertmanager base URL (http://host:9093) that alerts are posted to (/api/v2/alerts)",
       &c->alertmanager},
      {"alert_webhook", T::kString, "URL that alerts are posted to as JSON (Slack-compatible text)",
       &c->alert_webhook},
      {"alert_eval_interval", T::kDuration, "how often alerting conditions are evaluated", nullptr,
       &c->alert_eval_interval_ms},
      {"alert_max_groups", T::kCount,
       "groups (group_by values) per alerting rule; lines of further groups are not counted",
       nullptr, &c->alert_max_groups},
      {"alert_external_url", T::kString,
       "the server's URL as users reach it, for the search links in alerts; empty: http://<http>",
       &c->alert_external_url},
      {"audit_retention", T::kDuration,
       "audit log entries older than this are removed (never by a tenant's retention); 0: kept "
       "forever",
       nullptr, &c->audit_retention_ms},
      {"tenant_ingest_lines_per_sec", T::kCount,
       "each tenant's ingest quota in lines per second (batches without WARN+ lines are refused "
       "first, 429); 0: none",
       nullptr, &c->tenant_ingest_lines_per_sec},
      {"tenant_ingest_bytes_per_sec", T::kBytes,
       "each tenant's ingest quota in bytes of text per second; 0: none", nullptr,
       &c->tenant_ingest_bytes_per_sec},
      {"tenant_ingest_burst", T::kDuration,
       "how long a tenant may send at up to its whole quota's bucket: the bucket holds this "
       "long at the rate",
       nullptr, &c->tenant_ingest_burst_ms},
      {"tenant_max_queries", T::kCount,
       "searches and context reads one tenant may run at once (more: 429); 0: no limit", nullptr,
       &c->tenant_max_queries},
      {"tenant_max_tail_sessions", T::kCount,
       "live-tail sessions one tenant may hold open (more: 429); 0: no limit", nullptr,
       &c->tenant_max_tail_sessions},
      {"tenant_scanned_bytes_per_hour", T::kBytes,
       "bytes one tenant's queries may read over a sliding hour (more: 429 until enough of it is "
       "older than an hour); 0: no limit",
       nullptr, &c->tenant_scanned_bytes_per_hour},
      {"tenant_reader_max_range", T::kDuration,
       "how far back a query of a reader token may reach (all_time=1 included; tenant-admin and "
       "platform-admin may always; more: 403); 0: no limit",
       nullptr, &c->tenant_reader_max_range_ms},
      {"tenant_quotas", T::kString,
       "per-tenant overrides of the tenant_* quotas, a YAML mapping: tenant: {max_queries: 8, "
       "scanned_bytes_per_hour: 50GiB, ...} (docs/security.md \"Quotas\")",
       &c->tenant_quotas, nullptr, /*yaml=*/true},
      {"retention", T::kString,
       "how long lines are kept: a duration for every tenant (30d), or a YAML mapping with "
       "tenants, max_bytes and compliance rules (docs/storage.md); empty: keep everything",
       &c->retention, nullptr, /*yaml=*/true},
      {"retention_interval", T::kDuration, "how often expired segments are looked for and deleted",
       nullptr, &c->retention_interval_ms},
      {"masking", T::kString,
       "per-tenant PII masking before the WAL: a YAML mapping of tenant to detectors (card, email, "
       "us_ssn, uk_nino, ipv4, ipv6) and RE2 rules (docs/security.md); empty: nothing is masked",
       &c->masking, nullptr, /*yaml=*/true},
      {"disk_watermarks", T::kString,
       "used fractions of the data volume past which hot data moves to warm early, warm to cold "
       "(or tenants past max_bytes lose their oldest unheld data), and DEBUG then INFO ingest "
       "gets 429",
       &c->disk_watermarks},
      {"disk_check_interval", T::kDuration, "how often the data volume's free space is read",
       nullptr, &c->disk_check_interval_ms},
      // TLS (docs/security.md "TLS").
      {"tls_cert", T::kString,
       "PEM certificate (then intermediates) to serve HTTPS on the http address, and syslog "
       "over TLS; reread on SIGHUP; empty: plain HTTP",
       &c->tls_cert},
      {"tls_key", T::kString, "PEM private key of tls_cert (unencrypted); reread on SIGHUP",
       &c->tls_key},
      {"tls_client_ca", T::kString,
       "PEM CA certificates that client certificates (mTLS) must chain to", &c->tls_client_ca},
      {"tls_client_auth", T::kString,
       "client certificates: off, optional (checked when presented) or require (no valid "
       "certificate: no connection)",
       &c->tls_client_auth},
      {"tls_handshake_timeout", T::kDuration,
       "a TLS handshake must end within this from the connect, or the connection is closed",
       nullptr, &c->tls_handshake_timeout_ms},
      {"syslog_tls", T::kString,
       "syslog over TLS (RFC 5425, octet-counted frames) listen address host:port, TCP only, "
       "with tls_cert; empty: off",
       &c->syslog_tls_address},
      // Cluster nodes (docs/cluster.md "Nodes").
      {"advertise_url", T::kString,
       "the URL other nodes of a cluster reach this one at (http://host:port); empty: from the "
       "http address (the host name when it binds every interface)",
       &c->advertise_url},
      {"node_heartbeat", T::kDuration, "how often this node renews its heartbeat in the catalog",
       nullptr, &c->node_heartbeat_ms},
      {"node_timeout", T::kDuration,
       "a node whose heartbeat is older than this is dead to the others: queries stop asking it "
       "and, in cluster mode, another node takes over its unflushed WAL objects",
       nullptr, &c->node_timeout_ms},
      {"segment_refresh_interval", T::kDuration,
       "how often a cluster node reads the segments other nodes flushed from the catalog "
       "(queries also read them when they need to)",
       nullptr, &c->segment_refresh_interval_ms},
      {"cluster_secret", T::kString,
       "shared secret of the cluster's nodes (at least 16 characters), sent on their internal "
       "requests (/internal/v1/...); empty: internal routes refused",
       &c->cluster_secret},
  };
}

std::string FlagName(const ConfigOption& option) { return FlagForKey(option.key); }

std::string FormatOption(const ConfigOption& option) {
  if (option.type == OptionType::kString) return *option.text;
  uint64_t v = *option.number;
  switch (option.type) {
    case OptionType::kBytes:
      if (v != 0 && v % (1ull << 30) == 0) return std::to_string(v >> 30) + "GiB";
      if (v != 0 && v % (1ull << 20) == 0) return std::to_string(v >> 20) + "MiB";
      if (v != 0 && v % 1024 == 0) return std::to_string(v >> 10) + "KiB";
      return std::to_string(v);
    case OptionType::kDuration: return FormatMillis(v);
    default: return std::to_string(v);
  }
}

Status SetOption(const ConfigOption& option, std::string_view text) {
  switch (option.type) {
    case OptionType::kString: *option.text = std::string(text); return Status::OK();
    case OptionType::kBytes: {
      Result<uint64_t> bytes = ParseSize(text);
      if (!bytes.ok()) return bytes.status().WithContext(option.key);
      *option.number = *bytes;
      return Status::OK();
    }
    case OptionType::kDuration: {  // kept in milliseconds
      Result<int64_t> ns = ParseDuration(text);
      if (!ns.ok()) return ns.status().WithContext(option.key);
      *option.number = static_cast<uint64_t>(*ns / 1'000'000);
      return Status::OK();
    }
    case OptionType::kCount: {
      Result<uint64_t> count = ParseCount(text);
      if (!count.ok()) return count.status().WithContext(option.key);
      *option.number = *count;
      return Status::OK();
    }
  }
  return Status::Internal("unhandled option type of " + option.key);
}

Status LoadServerConfigFile(const std::string& path, const std::set<std::string>& set_by_flags,
                            ServerConfig* config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::InvalidArgument("--config: cannot read '" + path + "'");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("--config " + path + ": line " +
                                   std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return Status::OK();
  if (!root.IsMap()) {
    return Status::InvalidArgument("--config " + path + ": expected a mapping of option: value");
  }
  auto options = ServerOptions(config);
  for (const auto& item : root) {
    std::string key;
    try {
      key = item.first.as<std::string>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument("--config " + path + ": keys must be strings");
    }
    std::string normalized = key;
    for (char& c : normalized) {
      if (c == '-') c = '_';
    }
    const ConfigOption* found = nullptr;
    for (const auto& option : options) {
      if (option.key == normalized) found = &option;
    }
    if (found == nullptr) {
      return Status::InvalidArgument("--config " + path + ": line " +
                                     std::to_string(item.first.Mark().line + 1) +
                                     ": unknown option '" + key + "'");
    }
    if (set_by_flags.count(found->key) > 0) continue;  // the flag wins
    std::string value;
    if (found->yaml) {
      value = item.second.IsScalar() ? item.second.Scalar() : YAML::Dump(item.second);
    } else if (item.second.IsSequence() && found->type == OptionType::kString) {
      // A YAML list for a comma-separated option: [a, b] is "a,b".
      for (const auto& element : item.second) {
        if (!element.IsScalar()) {
          return Status::InvalidArgument("--config " + path + ": " + key +
                                         ": expected a list of values");
        }
        value += (value.empty() ? "" : ",") + element.Scalar();
      }
    } else if (item.second.IsMap() && found->type == OptionType::kString) {
      // A YAML mapping for a name=value list option: {kafka: Europe/Berlin} is
      // "kafka=Europe/Berlin".
      for (const auto& pair : item.second) {
        if (!pair.first.IsScalar() || !pair.second.IsScalar()) {
          return Status::InvalidArgument("--config " + path + ": " + key +
                                         ": expected a mapping of names to values");
        }
        if (!value.empty()) value += ',';
        value += pair.first.Scalar();
        value += '=';
        value += pair.second.Scalar();
      }
    } else if (!item.second.IsScalar()) {
      return Status::InvalidArgument("--config " + path + ": " + key + ": expected a value");
    } else {
      value = item.second.Scalar();
    }
    Status status = SetOption(*found, value);
    if (!status.ok()) {
      return status.WithContext("--config " + path + ": line " +
                                std::to_string(item.second.Mark().line + 1));
    }
    config->given.insert(found->key);
  }
  return Status::OK();
}

Result<std::map<std::string, const TimeZone*, std::less<>>> ParseZoneMap(std::string_view key,
                                                                         std::string_view text) {
  std::map<std::string, const TimeZone*, std::less<>> zones;
  for (const std::string& pair : SplitList(text)) {
    const size_t eq = pair.find('=');
    std::string name = pair.substr(0, eq == std::string::npos ? 0 : eq);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (eq == std::string::npos || name.empty()) {
      return Status::InvalidArgument(std::string(key) + ": '" + pair +
                                     "' is not name=zone (e.g. kafka=Europe/Berlin)");
    }
    std::string zone_name = pair.substr(eq + 1);
    while (!zone_name.empty() && zone_name.front() == ' ') zone_name.erase(0, 1);
    auto zone = TimeZone::Find(zone_name);
    if (!zone.ok()) return zone.status().WithContext(std::string(key) + ": " + name);
    zones[name] = *zone;
  }
  return zones;
}

Status ValidateServerConfig(const ServerConfig& c) {
  if (auto zone = TimeZone::Find(c.timezone); !zone.ok()) {
    return zone.status().WithContext("timezone");
  }
  if (auto zones = ParseZoneMap("timezone_by_service", c.timezone_by_service); !zones.ok()) {
    return zones.status();
  }
  if (auto zones = ParseZoneMap("timezone_by_tenant", c.timezone_by_tenant); !zones.ok()) {
    return zones.status();
  }
  if (std::error_code ec; !c.ui_dir.empty() && !std::filesystem::is_directory(c.ui_dir, ec)) {
    return Status::InvalidArgument("ui_dir: '" + c.ui_dir + "' is not a directory");
  }
  auto at_least = [](const char* key, uint64_t value, uint64_t min, const char* shown) {
    if (value >= min) return Status::OK();
    return Status::InvalidArgument(std::string(key) + ": must be at least " + shown);
  };
  if (!c.store.empty()) {
    objstore::S3Options s3;
    RETURN_IF_ERROR(objstore::ParseS3Url(c.store, &s3).WithContext("store"));
    if (!catalog::IsPostgresUrl(c.catalog)) {
      return Status::InvalidArgument(
          "store: a cluster node's catalog must be PostgreSQL (--catalog postgresql://...), "
          "which every node shares; " +
          std::string(c.catalog.empty() ? "without --catalog the catalog is DIR/catalog.db"
                                        : "'" + c.catalog + "' is not a postgresql:// URL") +
          " (for S3 with one server, use --cold-store)");
    }
    if (!c.cold_store.empty()) {
      return Status::InvalidArgument(
          "cold_store: not used with store (a cluster node keeps every segment in the store)");
    }
    RETURN_IF_ERROR(at_least("wal_object_interval", c.wal_object_interval_ms, 10, "10ms"));
    RETURN_IF_ERROR(at_least("wal_object_size", c.wal_object_bytes, 64 << 10, "64KiB"));
    RETURN_IF_ERROR(at_least("node_timeout", c.node_timeout_ms, 3000, "3s"));
    if (c.segment_orphan_grace_ms <= c.node_timeout_ms) {
      return Status::InvalidArgument(
          "segment_orphan_grace: must be longer than node_timeout (" +
          std::to_string(c.node_timeout_ms) +
          "ms): a node stalled for less may still register a segment it uploaded");
    }
    // A node's view lags the catalog by up to its refresh interval, so a query may start on a
    // compaction's inputs that long after their swap, and then run for query_timeout.
    if (c.segment_orphan_grace_ms < c.query_timeout_ms + c.segment_refresh_interval_ms) {
      return Status::InvalidArgument(
          "segment_orphan_grace: must be at least query_timeout + segment_refresh_interval (" +
          std::to_string(c.query_timeout_ms) + "ms + " +
          std::to_string(c.segment_refresh_interval_ms) +
          "ms): the inputs of a compaction or warm move are deleted as orphans, and a query "
          "on another node whose view has not yet seen the swap may still start on them");
    }
  }
  if (!c.cold_store.empty()) {
    objstore::S3Options s3;
    RETURN_IF_ERROR(objstore::ParseS3Url(c.cold_store, &s3).WithContext("cold_store"));
    RETURN_IF_ERROR(at_least("cold_store_part_size", c.cold_store_part_bytes, 5ull << 20, "5MiB"));
  }
  RETURN_IF_ERROR(at_least("max_body", c.max_body_bytes, 1024, "1KiB"));
  RETURN_IF_ERROR(at_least("max_decoded_body", c.max_decoded_bytes, c.max_body_bytes, "max_body"));
  RETURN_IF_ERROR(at_least("max_line", c.max_line_bytes, 64, "64"));
  RETURN_IF_ERROR(at_least("max_request_lines", c.max_request_lines, 1, "1"));
  RETURN_IF_ERROR(at_least("ingest_memory", c.ingest_memory_bytes, 1 << 20, "1MiB"));
  RETURN_IF_ERROR(at_least("max_connections", c.max_connections, 1, "1"));
  RETURN_IF_ERROR(at_least("syslog_udp_buffer", c.syslog_udp_buffer_bytes, 4096, "4KiB"));
  if (c.syslog_udp_buffer_bytes > (1ull << 30)) {
    return Status::InvalidArgument("syslog_udp_buffer: at most 1GiB");
  }
  RETURN_IF_ERROR(at_least("read_timeout", c.read_timeout_ms, 100, "100ms"));
  RETURN_IF_ERROR(at_least("idle_timeout", c.idle_timeout_ms, 100, "100ms"));
  RETURN_IF_ERROR(at_least("workers", c.worker_threads, 1, "1"));
  RETURN_IF_ERROR(at_least("io_threads", c.io_threads, 1, "1"));
  RETURN_IF_ERROR(at_least("query_timeout", c.query_timeout_ms, 10, "10ms"));
  RETURN_IF_ERROR(at_least("tail_queue", c.tail_queue_records, 1, "1"));
  RETURN_IF_ERROR(at_least("heartbeat", c.heartbeat_ms, 100, "100ms"));
  RETURN_IF_ERROR(at_least("node_heartbeat", c.node_heartbeat_ms, 100, "100ms"));
  RETURN_IF_ERROR(at_least("segment_refresh_interval", c.segment_refresh_interval_ms, 10, "10ms"));
  if (c.node_timeout_ms <= c.node_heartbeat_ms) {
    return Status::InvalidArgument("node_timeout: must be longer than node_heartbeat (" +
                                   std::to_string(c.node_heartbeat_ms) + "ms)");
  }
  if (!c.advertise_url.empty() && c.advertise_url.rfind("http://", 0) != 0 &&
      c.advertise_url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument(
        "advertise_url: expected http://host:port or "
        "https://host:port, got '" +
        c.advertise_url + "'");
  }
  if (!c.cluster_secret.empty() && c.cluster_secret.size() < 16) {
    return Status::InvalidArgument("cluster_secret: must be at least 16 characters (got " +
                                   std::to_string(c.cluster_secret.size()) + ")");
  }
  RETURN_IF_ERROR(at_least("alert_eval_interval", c.alert_eval_interval_ms, 1000, "1s"));
  RETURN_IF_ERROR(at_least("alert_max_groups", c.alert_max_groups, 1, "1"));
  RETURN_IF_ERROR(at_least("flush_interval", c.flush_interval_ms, 100, "100ms"));
  RETURN_IF_ERROR(at_least("flush_threads", c.flush_threads, 1, "1"));
  if (c.pressure_zstd_level > 19) {
    return Status::InvalidArgument("pressure_zstd_level: 0 to 19 (got " +
                                   std::to_string(c.pressure_zstd_level) + ")");
  }
  if (c.background_nice > 19) {
    return Status::InvalidArgument("background_nice: 0 to 19 (got " +
                                   std::to_string(c.background_nice) + ")");
  }
  RETURN_IF_ERROR(at_least("partitions", c.partitions, 1, "1"));
  if (c.partitions > 4096) {
    return Status::InvalidArgument("partitions: at most 4096 (got " + std::to_string(c.partitions) +
                                   ")");
  }
  RETURN_IF_ERROR(at_least("idempotency_window", c.idempotency_window_ms, 60'000, "1m"));
  RETURN_IF_ERROR(at_least("idempotency_max_keys", c.idempotency_max_keys, 1, "1"));
  RETURN_IF_ERROR(at_least("retention_interval", c.retention_interval_ms, 100, "100ms"));
  if (auto retention = ParseRetentionConfig(c.retention); !retention.ok()) {
    return retention.status();
  }
  if (auto masking = ParseMaskingConfig(c.masking); !masking.ok()) return masking.status();
  if (auto quotas = ParseTenantQuotas(c.tenant_quotas); !quotas.ok()) return quotas.status();
  {
    double warm, cold, shed;
    RETURN_IF_ERROR(storage::ParseWatermarks(c.disk_watermarks, &warm, &cold, &shed));
  }
  RETURN_IF_ERROR(at_least("disk_check_interval", c.disk_check_interval_ms, 100, "100ms"));
  // TLS: the files themselves are read (and their errors named) when the server starts.
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return Status::InvalidArgument(c.tls_cert.empty() ? "tls_key is set but tls_cert is not"
                                                      : "tls_cert is set but tls_key is not");
  }
  if (auto mode = tls::ParseClientAuth(c.tls_client_auth); !mode.ok()) return mode.status();
  if (c.tls_cert.empty() && (c.tls_client_auth != "off" || !c.tls_client_ca.empty())) {
    return Status::InvalidArgument(
        "tls_client_auth and tls_client_ca need tls_cert and tls_key: client certificates are "
        "asked for in the TLS handshake");
  }
  if (!c.syslog_tls_address.empty() && c.tls_cert.empty()) {
    return Status::InvalidArgument("syslog_tls needs tls_cert and tls_key");
  }
  RETURN_IF_ERROR(at_least("tls_handshake_timeout", c.tls_handshake_timeout_ms, 100, "100ms"));
  if (c.compaction != "on" && c.compaction != "off") {
    return Status::InvalidArgument("compaction: '" + c.compaction + "' is not on or off");
  }
  if (c.compaction_text_layouts != "on" && c.compaction_text_layouts != "off") {
    return Status::InvalidArgument("compaction_text_layouts: '" + c.compaction_text_layouts +
                                   "' is not on or off");
  }
  if (auto exempt = NetworkList::Parse(SplitList(c.connection_cap_exempt)); !exempt.ok()) {
    return exempt.status().WithContext("connection_cap_exempt");
  }
  for (const std::string& entry : SplitList(c.allowed_hosts)) {
    if (entry.find('/') != std::string::npos || entry.find(' ') != std::string::npos) {
      return Status::InvalidArgument("allowed_hosts: '" + entry +
                                     "' is not a host name or name:port (no scheme, no path)");
    }
  }
  for (const std::string& entry : SplitList(c.allowed_origins)) {
    bool scheme = entry.rfind("http://", 0) == 0 || entry.rfind("https://", 0) == 0;
    if (entry != "*" && (!scheme || entry.find('/', entry.find("//") + 2) != std::string::npos)) {
      return Status::InvalidArgument("allowed_origins: '" + entry +
                                     "' is not an origin like https://ui.example.com");
    }
  }
  if (c.worker_threads > 1024 || c.io_threads > 256) {
    return Status::InvalidArgument("workers: at most 1024 (io_threads: at most 256)");
  }
  if (c.read_timeout_ms > 86'400'000 || c.idle_timeout_ms > 86'400'000 ||
      c.heartbeat_ms > 3'600'000 || c.shutdown_timeout_ms > 86'400'000 ||
      c.query_timeout_ms > 86'400'000) {
    return Status::InvalidArgument("timeouts: at most 24h (heartbeat: at most 1h)");
  }
  return Status::OK();
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
      item.remove_prefix(1);
    }
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
      item.remove_suffix(1);
    }
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

Status ParseHostPort(std::string_view text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not host:port");
  }
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || value > 65535) {
    return Status::InvalidArgument("'" + std::string(text) + "': the port must be 0 to 65535");
  }
  *host = h.empty() ? "0.0.0.0" : h == "localhost" ? "127.0.0.1" : std::string(h);
  *port = static_cast<uint16_t>(value);
  return Status::OK();
}

}  // namespace sawmill::http
