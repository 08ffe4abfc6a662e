// The options of `sawmill server`, declared once: each has a YAML key (--config FILE), a flag
// (--key-with-dashes) and a description. Flags win over the file; the file wins over defaults.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/timezone.h"
#include "sawmill/status.h"

namespace sawmill::http {

struct ServerConfig {
  std::string data_dir;                           // data
  std::string http_address = "127.0.0.1:9640";    // http
  std::string syslog_address;                     // syslog ("" = off)
  uint64_t syslog_udp_buffer_bytes = 8ull << 20;  // SO_RCVBUF of the syslog UDP socket
  uint64_t max_body_bytes = 64ull << 20;
  uint64_t max_decoded_bytes = 64ull << 20;
  uint64_t max_request_lines = 100'000;
  uint64_t ingest_memory_bytes = 256ull << 20;
  uint64_t max_line_bytes = 256 * 1024;
  uint64_t max_connections = 4096;
  uint64_t max_connections_per_address = 256;             // 0: no cap
  std::string connection_cap_exempt = "127.0.0.0/8,::1";  // comma-separated addresses/networks
  std::string allowed_hosts;                              // comma-separated Host names
  std::string allowed_origins;                            // comma-separated browser origins
  uint64_t read_timeout_ms = 30'000;
  uint64_t idle_timeout_ms = 60'000;
  uint64_t worker_threads = 16;
  uint64_t io_threads = 2;
  uint64_t query_timeout_ms = 60'000;  // a search stops here and answers partial
  uint64_t tail_max_sessions = 2000;
  uint64_t tail_queue_records = 10'000;
  uint64_t tail_memory_bytes = 64ull << 20;
  uint64_t heartbeat_ms = 15'000;
  uint64_t shutdown_timeout_ms = 30'000;
  uint64_t flush_interval_ms = 30'000;
  uint64_t memtable_cap_bytes = 256ull << 20;
  uint64_t segment_target_bytes = 64ull << 20;
  // Memtables and segment streams per tenant (storage::EngineOptions::partitions): fixed for
  // a store by its first start (recorded in the catalog; docs/cluster.md "One partition count
  // per store").
  uint64_t partitions = 16;
  // Memtables flushed at once under pressure (and by a flush of all). One: each running flush
  // holds 25-45 MiB of writer state (zstd context, a block's words and bloom hashes, sort keys),
  // which at 2 was the largest part of the peak RSS once flushes ran during ingest (issue 19,
  // docs/performance.md "Peak RSS at 10,000,000 lines"); 2 empties memtables faster on an idle
  // second core at that memory.
  uint64_t flush_threads = 1;
  // The zstd level of the text of flushes made over memtable_cap (storage::EngineOptions::
  // pressure_text_zstd_level; 0: flushes keep the usual 9 under pressure too).
  uint64_t pressure_zstd_level = 1;
  // The nice value of the background work no acknowledgement waits for: compaction, the tier
  // mover, the disk watch's moves (storage::EngineOptions::background_nice; 0: the process's).
  uint64_t background_nice = 10;
  uint64_t idempotency_window_ms = 24ull * 3'600'000;
  uint64_t idempotency_max_keys = 1'000'000;
  std::string compaction = "on";  // "off": segments merge only on `sawmill admin compact`
  // "on": compaction writes text columns in the warm tier's text layouts, each block's picked by
  // a probe (storage::EngineOptions::compaction_text_layouts): smaller messages, more compaction
  // CPU, and a search reading a few rows of a block renders all of it (docs/performance.md
  // "Session 14: text layouts picked by a probe", "Session 15").
  std::string compaction_text_layouts = "off";
  // Storage tiers (docs/storage.md "Tiers"): ages after which segments go warm / cold (0: never)
  // and the background tier mover's period (0: off; `sawmill admin tiers move` still works).
  uint64_t warm_after_ms = 3ull * 24 * 3'600'000;
  uint64_t cold_after_ms = 30ull * 24 * 3'600'000;
  uint64_t tier_interval_ms = 600'000;
  // Zones of timestamps written without one (docs/ingest.md "Time zones"): the default, and
  // "name=zone,name=zone" overrides by the service a request names and by tenant.
  std::string timezone = "UTC";
  std::string timezone_by_service;
  std::string timezone_by_tenant;

  // Where the segment catalog lives: empty for DIR/catalog.db (SQLite), or a postgresql:// URL
  // (docs/operations.md "Catalog in PostgreSQL").
  std::string catalog;

  // ---- Cluster mode (docs/cluster.md) ----
  // "s3://bucket/prefix": this server is a node of a cluster whose nodes share the catalog
  // (which must then be PostgreSQL) and this store (WAL objects and segments). Endpoint, region
  // and keys: the cold_store_* settings below. "" : one server on its own data directory.
  std::string store;
  std::string node_id;                     // any node ("" : the one kept in DATA/node_id)
  uint64_t wal_object_interval_ms = 200;   // a node's WAL object is sealed this often...
  uint64_t wal_object_bytes = 4ull << 20;  // ...or at this size
  // Orphan segment objects in the store (docs/cluster.md "Orphan segment objects"): swept this
  // often (0: never) once no catalog row has named them for the grace.
  uint64_t segment_sweep_interval_ms = 5 * 60 * 1000;
  uint64_t segment_orphan_grace_ms = 60 * 60 * 1000;

  // ---- Cold tier store (docs/operations.md "Cold store on S3") ----
  // "" keeps cold segments in a directory of the data directory; "s3://bucket/prefix" puts them
  // in an S3 bucket. Endpoint, region and keys left empty come from AWS_ENDPOINT_URL,
  // AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
  std::string cold_store;
  std::string cold_store_endpoint;
  std::string cold_store_region;
  std::string cold_store_access_key;
  std::string cold_store_secret_key;
  uint64_t cold_store_part_bytes = 16ull << 20;  // objects larger go up as multipart uploads
  uint64_t cold_store_retry_ms = 60'000;         // retries of one S3 operation stop after this
  // Unfinished multipart uploads under the prefix older than this are aborted.
  uint64_t cold_store_upload_grace_ms = 3'600'000;
  // Bytes of cold object ranges kept on local disk (DATA/cold-cache/) so a second query over
  // cold data reads nothing from S3; 0: no cache.
  uint64_t cold_cache_bytes = 1ull << 30;

  std::string ui_dir;  // "": the web UI built into the binary (docs/ui.md)

  // Alerting (docs/alerting.md).
  std::string alert_rules;   // rules file ("" = none; rules may still come through the API)
  std::string alertmanager;  // Alertmanager base URL ("" = none)
  std::string alert_webhook;
  uint64_t alert_eval_interval_ms = 10'000;
  uint64_t alert_max_groups = 10'000;
  std::string alert_external_url;
  // Identity (docs/security.md).
  uint64_t audit_retention_ms = 400ull * 24 * 3'600'000;  // 0: kept forever
  // --insecure-no-auth (a flag only, no YAML key): listen beyond loopback with no token.
  bool insecure_no_auth = false;
  // Per-tenant quotas (docs/security.md "Quotas"); 0: no limit.
  uint64_t tenant_ingest_lines_per_sec = 0;
  uint64_t tenant_ingest_bytes_per_sec = 0;
  uint64_t tenant_ingest_burst_ms = 10'000;
  uint64_t tenant_max_queries = 0;             // concurrent searches and context reads
  uint64_t tenant_max_tail_sessions = 0;       // open live-tail sessions
  uint64_t tenant_scanned_bytes_per_hour = 0;  // bytes read by queries, sliding hour
  uint64_t tenant_reader_max_range_ms = 0;     // how far back a reader's query reaches
  std::string tenant_quotas;                   // YAML: tenant -> {quota: value} overrides
  // Retention and holds (docs/storage.md "Retention and holds"): the policy as YAML ("" keeps
  // everything), and how often expired segments are looked for.
  std::string retention;
  uint64_t retention_interval_ms = 60'000;
  // PII masking before the WAL (docs/security.md "PII masking"): per-tenant rule sets as YAML
  // (http/masking_config.h); "" masks nothing.
  std::string masking;
  // Disk pressure (docs/storage.md "Disk pressure"): used fractions of the data volume past
  // which hot moves to warm early, warm to cold (or tenants past max_bytes shrink), and DEBUG
  // then INFO ingest is refused; and how often the volume is checked.
  std::string disk_watermarks = "80%,90%,95%";
  uint64_t disk_check_interval_ms = 5'000;
  // TLS (docs/security.md "TLS"): HTTPS on http_address when tls_cert and tls_key are set;
  // client certificates (mTLS) per tls_client_auth ("off", "optional", "require") against
  // tls_client_ca; syslog over TLS on its own address. The files are reread on SIGHUP.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string tls_client_auth = "off";
  uint64_t tls_handshake_timeout_ms = 10'000;
  std::string syslog_tls_address;  // syslog_tls ("" = off)
  // Cluster nodes (docs/cluster.md "Nodes"): where the other nodes reach this one ("": from the
  // http address), how often it heartbeats in the catalog and after how long without a heartbeat
  // a node is dead (in cluster mode: its WAL objects are taken over); the secret that nodes'
  // internal requests carry (/internal/v1/...).
  std::string advertise_url;
  uint64_t node_heartbeat_ms = 2'000;
  uint64_t node_timeout_ms = 10'000;
  // A cluster node's refresh of its view of every node's segments from the catalog
  // (docs/cluster.md "The segment view"); queries also refresh it when they need to.
  uint64_t segment_refresh_interval_ms = 1'000;
  std::string cluster_secret;

  // The keys given by a flag or the --config file (not left at their defaults): a cluster node
  // takes a cluster-wide setting not given from the catalog (docs/cluster.md "Cluster-wide
  // settings"), and is refused when a given one differs from it.
  std::set<std::string> given;
};

enum class OptionType { kString, kBytes, kDuration, kCount };

struct ConfigOption {
  std::string key;  // YAML key; the flag is "--" + key with '_' replaced by '-'
  OptionType type;
  std::string description;
  std::string* text = nullptr;  // kString
  uint64_t* number = nullptr;   // others (bytes, milliseconds, count)
  // kString only: the value is YAML; --config keeps its node (a mapping, a list) as YAML text.
  bool yaml = false;
};

// The option table, bound to "*config" (which must outlive the result).
std::vector<ConfigOption> ServerOptions(ServerConfig* config);

// "--max-body" for "max_body".
std::string FlagName(const ConfigOption& option);

// The option's current value as a flag would take it: "64MiB", "30s", "1024", "127.0.0.1:9640".
std::string FormatOption(const ConfigOption& option);

// Parses "text" into the option with the shared value syntax (common/config_values.h): sizes
// "64MiB", "256KiB", "1GiB", "10MB" or plain bytes; durations "500ms", "30s", "5m", "1h30m" or
// plain seconds (kept in milliseconds); counts as plain integers.
// Errors: InvalidArgument naming the option, what was expected and the value.
Status SetOption(const ConfigOption& option, std::string_view text);

// Reads a YAML mapping of option keys from "path" into "*config" (each key read is added to
// config->given), skipping the keys in "set_by_flags". Errors: InvalidArgument for an unreadable
// file, bad YAML (with line and column), an unknown key or a bad value (naming the key).
Status LoadServerConfigFile(const std::string& path, const std::set<std::string>& set_by_flags,
                            ServerConfig* config);

// Checks the values make sense together (e.g. workers >= 1, heartbeat >= 100ms).
// Errors: InvalidArgument naming the option.
Status ValidateServerConfig(const ServerConfig& config);

// The "name=zone" pairs of timezone_by_service/timezone_by_tenant ("kafka=Europe/Berlin,
// zk=+01:00"), each zone found with TimeZone::Find. Errors: InvalidArgument naming "key", the pair
// and why.
Result<std::map<std::string, const TimeZone*, std::less<>>> ParseZoneMap(std::string_view key,
                                                                         std::string_view text);

// Splits a comma-separated list option ("a, b,c"), dropping blanks.
std::vector<std::string> SplitList(std::string_view text);

// Splits "host:port" ("127.0.0.1:9640", "[::1]:9640", ":9640" = all interfaces,
// "localhost:9640"). Errors: InvalidArgument.
Status ParseHostPort(std::string_view text, std::string* host, uint16_t* port);

}  // namespace sawmill::http
