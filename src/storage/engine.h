// CONTRACT between the storage engine (src/storage, with src/wal and src/catalog) and its users
// (src/query, src/http, the server command). The storage owner implements it.
//
// Write path: Append -> WAL (group commit, fdatasync) -> memtable per (tenant, partition).
// A record is durable and visible to GetSnapshot() when Append returns OK.
// Memtables flush to segments (64 MiB or 30 s, or Flush()); segments are registered in the
// catalog (SQLite) before the WAL files that held their records are deleted.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/env.h"
#include "objstore/object_store.h"
#include "sawmill/record.h"
#include "sawmill/status.h"
#include "segment/segment.h"
#include "storage/record_chunk.h"
#include "wal/wal_sink.h"

namespace sawmill::catalog {
class Catalog;
struct SegmentChanges;
}  // namespace sawmill::catalog

namespace sawmill::storage {

// What a cluster node's memtable answer stands on (docs/cluster.md "Fenced answers"), carried
// with the answer so that the querying node can check, once every answer is in, that no other
// node took this one's WAL objects over in the meantime.
struct MemtableFence {
  bool set = false;  // false: no fence (not a cluster node, or a node of an older build)
  // This node's takeover generation (catalog::Catalog::ReadWalTakeovers) as it last confirmed
  // it, having learnt which of its WAL objects were taken over up to it and holding none of
  // their rows: a larger generation in the catalog means it was taken over since.
  uint64_t takeover_generation = 0;
  // How old its newest heartbeat was at the check, with none missed (no gap past halfway to
  // node_timeout) since that confirmation; INT64_MAX: not known.
  int64_t heartbeat_age_ns = INT64_MAX;
  // What this node knows of every node's takeover generation, as of its segment view's last
  // read of the catalog, and covering every claim of this node whose lines the answer may hold
  // (cluster::ClusterNode::KnownTakeovers): lets the querying node check the answers when it
  // cannot read the catalog itself. Unset when a claim of this node is newer than that read.
  bool knows_takeovers = false;
  std::map<std::string, uint64_t> takeovers;

  friend bool operator==(const MemtableFence&, const MemtableFence&) = default;
};

struct EngineOptions {
  std::string data_dir;      // DIR: DIR/wal, DIR/segments/<tier>/..., DIR/catalog.db
  Env* env = nullptr;        // nullptr: Env::Default()
  Clock* clock = nullptr;    // nullptr: Clock::Real()
  uint32_t partitions = 16;  // partition = PartitionOf(service, host, partitions)
  uint64_t memtable_cap_bytes = 512ull << 20;   // global; the largest memtable flushes early
  uint64_t segment_target_bytes = 64ull << 20;  // a memtable this big is flushed
  int64_t flush_interval_ns = 30'000'000'000;   // a memtable this old is flushed
  uint64_t wal_file_bytes = 64ull << 20;        // WAL rotation
  bool background_threads = true;               // false: flush/compaction only when called (tests)
  bool background_compaction = true;  // false: segments merge only on CompactNow (admin compact)
  segment::WriterOptions segment_options;
  // Compaction: merge segments of one (tenant, partition) smaller than this...
  uint64_t compaction_small_bytes = 16ull << 20;
  // ...when at least this many exist.
  uint32_t compaction_min_inputs = 4;
  // Compaction reads and writes at most about this many bytes per second (yields to ingestion).
  uint64_t compaction_bytes_per_sec = 64ull << 20;
  // Compaction waits while the memtables hold more than half memtable_cap_bytes (ingestion
  // first), but not in a (tenant, partition) whose small segments have piled up to this many:
  // that one is merged all the same (at background_nice), so that a sustained overload cannot
  // grow the segments without bound (docs/storage.md "Compaction"). 0: no such bound (waits for
  // as long as the pressure lasts, as before session 20).
  uint32_t compaction_pressure_inputs = 32;
  // The nice value (0..19, higher: less CPU when the machine is busy) of the engine's threads
  // whose work no acknowledgement waits for: compaction (merges and re-encodes) and the tier
  // mover. The flush thread, which frees the memtables paced acknowledgements wait for, keeps
  // the process's (docs/storage.md "Backpressure"). 0: the process's own.
  int background_nice = 10;
  // Compaction writes text columns in the text layouts (the warm tier's lines, digit-split and
  // prefix-split), each block's picked by a probe (WriterOptions::text_layout_probe). Off: the
  // message of a compacted segment is 15 % smaller, but a search reading a few rows of a block
  // decodes all of it (`trace_id=X` 1.2 -> 4.2 ms CPU at 1 M; docs/performance.md "Session 14:
  // text layouts picked by a probe").
  bool compaction_text_layouts = false;
  // When memtables hold twice memtable_cap_bytes (flushing cannot keep up, e.g. the disk is
  // failing), Append waits up to this long for flushes, then returns Unavailable.
  int64_t append_stall_ns = 30'000'000'000;
  // Memtables flushed at once under pressure (and by Engine::Flush), each on its own thread
  // (docs/storage.md "Backpressure"): a flush is CPU-bound (encoding, indexes, zstd), so one
  // thread per core empties memtables that many times faster. Each running flush holds its own
  // block and index buffers. A cluster node (shared_store, node_id) too (docs/cluster.md
  // "Exactly once across nodes"); `sawmill server` ships 1 (src/http/server_config.h).
  int flush_threads = 2;
  // The zstd level of the text columns (the message above all) of a flush that starts while the
  // memtables hold more than memtable_cap_bytes (writers are being paced: the flush rate sets
  // how long each acknowledgement waits, and zstd at the default 9 was 43 % of the flush
  // thread's CPU at 10 M lines). Compaction rewrites such segments at its own level (11) where it
  // merges them (a partition with compaction_min_inputs small segments); until then, or where it
  // does not, they cost their bytes (+1.7 % of the store at 10 M lines) (docs/storage.md
  // "Backpressure"). 0: pressure changes no level. Only ever lowers the level segment_options would
  // use.
  int pressure_text_zstd_level = 1;
  // A segment flushed under pressure at that level is re-encoded alone (when no merge takes it)
  // only once its partition is quiet: its memtables empty and no flush of it for this long, so
  // that a partition still getting a trickle of lines (flushed every flush_interval_ns) does
  // not have it encoded three times, flushed, re-encoded and merged with the next flushes
  // (docs/storage.md "Backpressure").
  int64_t recode_quiet_ns = 60'000'000'000;
  // A flush round that lasts (a sustained overload keeps the memtables over the cap, so the
  // memory round goes on) trims the WAL at least this often meanwhile, as far as every memtable
  // not yet flushed allows (docs/storage.md "Backpressure").
  int64_t wal_trim_interval_ns = 5'000'000'000;
  // Between memtable_cap_bytes and 1.5 x it, Append is paced (storage/append_pacer.h): writers
  // are admitted one after another at about the rate flushes free memory, so that each waits a
  // little instead of some waiting seconds at the limit. false: no pacing (as before). All of an
  // Append's waits together (twice the cap, 1.5 x it, its paced slot) last at most
  // append_stall_ns: a paced Append whose slot lies beyond it goes on at that deadline.
  bool pace_appends = true;
  // Idempotency-Keys (AppendIdempotent) are remembered at least this long after their batch was
  // acknowledged, across restarts and flushes (docs/api.md, "Idempotency-Key")...
  int64_t idempotency_window_ns = 24 * 3600 * 1'000'000'000ll;
  // ...unless more are remembered than this: then the oldest are forgotten first, each one
  // logged and counted (sawmill_idempotency_keys_evicted_total{reason="capacity"}).
  size_t idempotency_max_keys = 1'000'000;
  // The catalog: a SQLite file, or a postgresql:// URL (catalog/pg_catalog.h); empty:
  // DIR/catalog.db. SQLite does its own I/O, so an Env other than
  // the default (e.g. FaultInjectionEnv) needs a real path here, or gets an in-memory catalog.
  std::string catalog_path;

  // ---- Tiers (docs/storage.md "Tiers"; tier_mover.h) ----
  // The cold tier's object store; nullptr: a LocalDirectoryStore at DIR/cold. Cold segments
  // are the objects "<tenant>/<id>.seg" in it (a store for s3://bucket/prefix keeps them under
  // prefix/).
  std::shared_ptr<objstore::ObjectStore> cold_store;
  // A segment whose newest record (max_ts) is older than this goes warm / cold; 0: never.
  int64_t warm_after_ns = 3 * 24 * 3600 * 1'000'000'000ll;
  int64_t cold_after_ns = 30 * 24 * 3600 * 1'000'000'000ll;
  // The background tier mover's period (moves due segments, then sweeps superseded objects no
  // row names); 0: no background mover (MoveTiers and RunTiersNow only). Needs
  // background_threads.
  int64_t tier_interval_ns = 600 * 1'000'000'000ll;
  // How warm (and so cold) segments are written: larger blocks, stronger zstd, and no inverted
  // index where blooms serve (docs/storage.md "Tiers" has the measurements).
  segment::WriterOptions warm_segment_options = segment::WarmWriterOptions();

  // ---- A cluster node (docs/cluster.md; src/cluster/cluster_node.h) ----
  // Makes the engine's write-ahead step from the engine's apply function; null: the local WAL
  // in DIR/wal. A cluster node's writes WAL objects to the shared store.
  std::function<Result<std::unique_ptr<wal::WalSink>>(wal::WalSink::ApplyFn apply)> wal_factory;
  // True (a cluster node): "cold_store" is the store every node shares. A flush writes its
  // segment there (tier "hot", store "cold", object "<tenant>/<id>.seg") instead of into DIR, the
  // catalog is opened shared (a PostgreSQL catalog without its exclusive lock), and start-up
  // reconciles only DIR (other nodes write the shared store meanwhile). Compaction outputs and
  // warm copies are written to the shared store too; their inputs' objects are not deleted by
  // this node (other nodes may be reading them) but left to the orphan sweep
  // (docs/cluster.md "Compaction and tier moves on cluster nodes"); there is no cold tier.
  bool shared_store = false;
  // A cluster node merges and re-encodes only segments it has known for at least this long
  // (the server sets its query_timeout): no query still running can then hold their lines in a
  // peer's memtable answer while it reads the output.
  int64_t shared_settle_ns = 60 * 1'000'000'000ll;
  // A cluster node's compaction merges only segments flushed by one node whose seqs lie within
  // a span narrower than this (the WAL objects' seq block, cluster::WalObjectOptions::seq_block):
  // every other node's seqs are in blocks at least that wide, so the output's seq range, which
  // WAL replay and takeover skip as stored, holds no seq of another node (docs/cluster.md).
  uint64_t shared_merge_seq_span = 1'000'000;

  // ---- A cluster node's segment view (docs/cluster.md "The segment view") ----
  // The node's id (cluster::NodeRegistry::id): its flushes are registered under it
  // (Catalog::RegisterSegment), and ApplySegmentChanges leaves its own flushes to the flusher.
  // "": not a cluster node.
  std::string node_id;
  // The node registry's node_timeout (cluster::NodeRegistry::node_timeout_ns): a node whose
  // heartbeat is older is gone, and its pending Idempotency-Key claims may be taken once none of
  // its WAL objects is unreplayed (docs/cluster.md "Idempotency-Keys across nodes"). Also the
  // margin after shared_settle_ns once a node left or was fenced before its segments it had not
  // confirmed are merged (docs/cluster.md "Compaction and tier moves on cluster nodes").
  int64_t node_timeout_ns = 10 * 1'000'000'000ll;
  // The housekeeping round of the shared Idempotency-Key claims (on the node holding the job
  // lease "idempotency_claims"): rows past idempotency_window, and done rows past
  // idempotency_max_keys, oldest first. 0: never.
  int64_t idempotency_trim_interval_ns = 60 * 1'000'000'000ll;
  // The newest segment format version this node reads and writes; 0: this build's
  // (segment::kFormatVersion). Tests set a lower one to play a node of a previous build in a
  // rolling upgrade (docs/cluster.md "Format version in a rolling upgrade"): it then neither
  // writes nor opens a newer segment (it answers partial naming it, as that build would).
  uint32_t newest_format_version = 0;
  // Tests: wraps the catalog the engine opened (e.g. one that loses answers); null: none.
  std::function<std::unique_ptr<catalog::Catalog>(std::unique_ptr<catalog::Catalog>)> wrap_catalog;
  // A cluster node's fence on its memtable answers (Engine::MemtableAnswerFence; set by
  // cluster::ClusterNode::Configure); null: none.
  std::function<Result<MemtableFence>()> memtable_answer_fence;
};

// A segment as of a snapshot. The reader is opened lazily and shared.
struct SegmentHandle {
  segment::SegmentInfo info;
  std::string path;
  std::string tier;  // "hot", "warm", "cold"
  // Where the segment's bytes are, as the catalog says: the object store ("local": the data
  // directory) and the object's name in it (for "local", relative to the data directory).
  std::string store;
  std::string object;
  // A cluster node's flush (docs/cluster.md "Exactly once across nodes"): the node it came
  // from and the catalog change that registered it; "" and 0 for any other segment.
  std::string node;
  uint64_t registered = 0;
  // Opens (once) and returns the reader. Errors as SegmentReader::Open.
  std::function<Result<std::shared_ptr<segment::SegmentReader>>()> open;
};

// Acknowledged records not yet in a segment, frozen at snapshot time. Each chunk is immutable.
// A chunk is read as records (`for (const Record& r : *chunk)`, storage/record_chunk.h).
struct MemtableView {
  uint32_t partition = 0;
  std::vector<std::shared_ptr<const RecordChunk>> chunks;
};

// A consistent view for one query: segments registered in the catalog plus memtable contents,
// with no record in both and none missing. Holding it keeps its segment files readable even if
// compaction replaces them meanwhile.
struct Snapshot {
  std::string tenant;
  std::vector<SegmentHandle> segments;
  std::vector<MemtableView> memtables;
  // A cluster node (docs/cluster.md "Exactly once across nodes"), as of this snapshot: the
  // highest catalog change that registered a segment of this node whose memtable is no longer
  // in "memtables", and the ids of this node's segments being registered (their memtables still
  // are). 0 and empty elsewhere.
  uint64_t registered_through = 0;
  std::vector<uint64_t> registering;
};

// One segment as the catalog lists it, for operators (GET /api/v1/admin/segments).
struct SegmentStatus {
  uint64_t id = 0;
  std::string tenant;
  uint32_t partition = 0;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  int64_t min_ts = 0, max_ts = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
  uint64_t min_seq = 0, max_seq = 0;
  std::string tier;
  std::string store;  // the object store ("local": the data directory)
  std::string path;   // relative to the data directory
  std::string state;  // "active", "corrupt" (still queried; searches warn), "missing"
};

// An Idempotency-Key and what it stands for, kept with the batch it was sent with.
struct IdempotencyKey {
  std::string key;         // as the client sent it (the tenant is separate)
  uint64_t body_hash = 0;  // identifies the batch's content: a retry has the same
  std::string answer;      // what the client was told (opaque to storage; keep it small)
  // Set by the engine:
  uint64_t first_seq = 0;  // the batch's records have seqs [first_seq, first_seq + count)
  uint64_t count = 0;
  int64_t created_ns = 0;  // when the batch was acknowledged (wall clock)
};

struct EngineStats {
  uint64_t memtable_bytes = 0;
  uint64_t segments = 0;
  uint64_t segment_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t wal_corrupt_records = 0;
  uint64_t flushes = 0;
  uint64_t pressure_flushes = 0;  // of them, written at pressure_text_zstd_level
  uint64_t compactions = 0;
  uint64_t next_seq = 0;
};

// Damage found in the write-ahead log at start-up (docs/operations.md, "WAL damage"), kept in
// the catalog until an operator acknowledges it.
struct WalDamageEntry {
  uint64_t id = 0;
  std::string file;  // WAL file name inside DIR/wal
  uint64_t offset = 0;
  uint64_t bytes = 0;
  std::string kind;  // checksum, bad_length, ..., truncated, torn_tail (docs/format/wal.md)
  std::string detail;
  bool acknowledged_loss = true;  // false: provably nothing acknowledged was lost
  // The ts and ingest_ts ranges it concerns; range_known false: may concern any time.
  bool range_known = false;
  int64_t min_ts = 0, max_ts = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
  int64_t first_seen_ns = 0;
  int64_t acked_ns = 0;  // 0: not acknowledged

  // True when a query over [from_ns, to_ns) on ts (or ingest_ts) may have missed its records.
  bool Overlaps(int64_t from_ns, int64_t to_ns, bool on_ts) const {
    if (!range_known) return true;
    const int64_t lo = on_ts ? min_ts : min_ingest_ts;
    const int64_t hi = on_ts ? max_ts : max_ingest_ts;
    return lo < to_ns && hi >= from_ns;
  }
};

// What a tier move did (Engine::MoveTiers).
struct TierMoveReport {
  std::string to;              // "warm" or "cold"
  uint64_t to_warm = 0;        // transitions hot -> warm
  uint64_t to_cold = 0;        // transitions warm -> cold
  uint64_t failed = 0;         // 1 when a transition failed (the move stops there)
  uint64_t bytes_read = 0;     // bytes of the segments moved
  uint64_t bytes_written = 0;  // bytes of what they became
  std::string error;           // why it failed
};

// Bytes and segments of one tier (of one tenant, or all), for `sawmill admin tiers`.
struct TierUsage {
  std::string tier;
  std::string tenant;  // "" for every tenant
  uint64_t segments = 0;
  uint64_t bytes = 0;
  uint64_t rows = 0;
  int64_t oldest_ts = 0;  // min_ts of its oldest segment; 0 when empty
  int64_t newest_ts = 0;  // max_ts of its newest segment
};

// Thread-safe.
class Engine {
 public:
  virtual ~Engine() = default;

  // Opens or creates the data directory, reconciles the catalog with the files, replays the WAL
  // into memtables, and starts background flush/compaction if asked.
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);

  // Fills in seq (unique, increasing), ingest_ts (clock now, if 0), ts (== ingest_ts, if 0) and
  // tenant of every record, writes them to the WAL, waits for the shared fdatasync, then makes
  // them visible. Concurrent callers share one sync.
  // Errors: Unavailable when the WAL cannot be written (disk full) or the engine is closing;
  // nothing of a failed batch is acknowledged.
  virtual Status Append(std::string_view tenant, std::vector<Record>* records) = 0;

  // Append, with "key" written into the same WAL record as the batch, so that the key is
  // remembered (FindIdempotencyKey) once the batch is acknowledged, after a crash (WAL replay
  // rebuilds it) and after a flush (the catalog keeps it), for the idempotency window. Only
  // key.key, key.body_hash and key.answer are read. "records" may be empty (the key is still
  // remembered). Errors: as Append; AlreadyExists when the tenant has this key already
  // (acknowledged, or being appended right now); nothing is stored then.
  virtual Status AppendIdempotent(std::string_view tenant, std::vector<Record>* records,
                                  const IdempotencyKey& key) = 0;
  // The key of an acknowledged batch of "tenant", if it is within the idempotency window.
  virtual std::optional<IdempotencyKey> FindIdempotencyKey(std::string_view tenant,
                                                           std::string_view key) const = 0;

  // Flushes every memtable and returns when the segments are registered in the catalog.
  virtual Status Flush() = 0;
  // Runs one round of compaction now (tests and admin).
  virtual Status CompactNow() = 0;

  virtual std::shared_ptr<const Snapshot> GetSnapshot(std::string_view tenant) const = 0;

  // The query engine found a corrupt block: mark the segment corrupt in the catalog (it stays
  // readable except for that block), count it and log it.
  virtual void ReportCorruption(uint64_t segment_id, const Status& status) = 0;
  // The segments retention retired (Catalog::ListRetiredSegments). A query that found a
  // segment's bytes gone (NotFound) skips it without calling its answer partial when it is
  // among them: its lines expired. On a cluster node another node's retention round deletes
  // shared segments that this node's view still names until its next refresh (docs/cluster.md
  // "Retention of shared segments"). Reads the catalog: a query calls it only after a read
  // failed, and keeps the answer (query/executor.cc). Errors: the catalog's (the query then
  // says it is partial). Engines without a catalog: none.
  virtual Result<std::set<uint64_t>> RetiredSegmentIds() { return std::set<uint64_t>(); }

  // The store's segment format version (docs/cluster.md "Format version in a rolling
  // upgrade"): raises it to the newest this node writes once every live node reads that one
  // (catalog::Catalog::RaiseFormatVersion), and from then on writes new segments in the version
  // the catalog records. Returns the version this node writes. Once it writes its newest, one
  // read of the setting (a cluster node: to log, once, that the store was raised past it while
  // it looked dead). The cluster node's rounds call it every heartbeat interval. Engines
  // without a catalog: 0.
  virtual Result<uint32_t> RaiseWriteFormat() { return uint32_t{0}; }

  // Asked after taking the snapshot of an answer for another node's query (its memtables,
  // docs/cluster.md "Fenced flush"): OK when the snapshot's memtables hold only rows this node
  // still answers for. A cluster node that was found dead while it stalled, and whose WAL
  // objects were taken over, holds rows the taker answers for until its next flush: Unavailable
  // then, and the querying node reports its answer partial, naming this one.
  // Returns what the answer stands on (MemtableFence: unset without a fence), which the
  // querying node checks (and a node its own memtables in a query it coordinates).
  virtual Result<MemtableFence> MemtableAnswerFence() { return MemtableFence{}; }

  virtual EngineStats stats() const = 0;

  // Every segment the catalog holds, in every state, by id. Engines without a catalog answer
  // FailedPrecondition.
  virtual Result<std::vector<SegmentStatus>> ListSegments() const {
    return Status::FailedPrecondition("this engine keeps no segment catalog");
  }

  // OK while the WAL takes writes; Unavailable "not accepting writes: disk full (...)" while
  // appends fail and until one succeeds again (or a probe write does). For /readyz.
  virtual Status WriteHealth() { return Status::OK(); }
  // WAL damage entries, oldest first; "unacknowledged_only": those not yet acknowledged.
  virtual Result<std::vector<WalDamageEntry>> ListWalDamage(bool unacknowledged_only) {
    (void)unacknowledged_only;
    return std::vector<WalDamageEntry>{};
  }
  // Acknowledges entry "id" (0: all); returns how many changed. Errors: NotFound for an unknown
  // id.
  virtual Result<uint64_t> AcknowledgeWalDamage(uint64_t id) {
    (void)id;
    return uint64_t{0};
  }

  // The engine's catalog, for features that keep tables of their own in it (alerting state,
  // docs/alerting.md); null for engines without one. Valid until the engine is destroyed.
  virtual catalog::Catalog* catalog() { return nullptr; }

  // ---- Retention (storage/retention.h; docs/storage.md "Retention") ----

  // catalog() above also holds retention's holds, policies and record.

  // Deletes the segments "ids" catalog-first: marks them busy (compaction leaves them alone),
  // calls "commit" with their catalog rows as the engine holds them (commit removes the rows
  // from the catalog in one transaction, e.g. Catalog::RetireSegments), and only when commit
  // returns OK drops them from new snapshots and deletes their bytes once the last running
  // query lets go. A crash after commit leaves files without rows, which reconciliation
  // deletes. Errors: FailedPrecondition naming a segment that is not registered or busy
  // (compacting, being deleted), and commit's error; nothing is deleted then.
  virtual Status RetireSegments(
      const std::vector<uint64_t>& ids,
      const std::function<Status(const std::vector<SegmentStatus>& rows)>& commit) {
    (void)ids;
    (void)commit;
    return Status::FailedPrecondition("this engine keeps no segment catalog");
  }
  // Free and total bytes of the volume that holds the data directory (Env::GetDiskUsage).
  virtual Result<DiskUsage> DataDiskUsage() {
    return Status::FailedPrecondition("this engine has no data directory");
  }

  // ---- Tiers (docs/storage.md "Tiers") ----
  // Moves every segment whose newest record is older than now - "older_than_ns" to "to"
  // ("warm" or "cold"), one atomic transition per segment. Errors: InvalidArgument for another
  // tier; FailedPrecondition for engines without tiers. A failed transition is in the report.
  virtual Result<TierMoveReport> MoveTiers(int64_t older_than_ns, std::string_view to) {
    (void)older_than_ns;
    (void)to;
    return Status::FailedPrecondition("this engine has no storage tiers");
  }
  // One row per tier (hot, warm, cold, in that order) for every tenant (tenant ""), then one per
  // tier and tenant that has segments there.
  virtual Result<std::vector<TierUsage>> ListTierUsage() const {
    return Status::FailedPrecondition("this engine has no storage tiers");
  }
  // The background tier round now (tests, with a ManualClock): the due moves, then the sweep of
  // superseded objects. Returns the first error.
  virtual Status RunTiersNow() { return Status::OK(); }
  // Disk pressure (storage/disk_watch.h): moves segments one tier on to "to" ("warm": hot
  // ones; "cold": warm ones), those with the oldest newest record first, asking "enough" before
  // each and stopping when it says so. Errors: as MoveTiers.
  virtual Result<TierMoveReport> MoveTiersOldestFirst(std::string_view to,
                                                      const std::function<bool()>& enough) {
    (void)to;
    (void)enough;
    return Status::FailedPrecondition("this engine has no storage tiers");
  }
  // Per-tenant tier ages (the retention policies' warm_after and cold_after, docs/storage.md):
  // the background round asks "policy" once per tenant and round; it sets either to -1 to keep
  // the engine's warm_after_ns / cold_after_ns, 0 for never. Unset: the engine's for everyone.
  using TierPolicy =
      std::function<void(std::string_view tenant, int64_t* warm_after_ns, int64_t* cold_after_ns)>;
  virtual void SetTierPolicy(TierPolicy policy) { (void)policy; }

  // ---- A cluster node (docs/cluster.md) ----
  // Runs "fn" while no flush trims the write-ahead log, and returns what it returns: a node
  // taking over another's WAL objects applies their batches in "fn", and a trim decided before
  // they were applied would delete them.
  virtual Status WithoutWalTrim(const std::function<Status()>& fn) { return fn(); }

  // ---- A cluster node's segment view (docs/cluster.md "The segment view") ----
  // Applies the catalog's segment changes (Catalog::ListSegmentChanges, in order) to the
  // segments snapshots see: segments other nodes flushed or changed are added or rewritten
  // (read through the shared store's cache, opened when a query first needs them), removed ones
  // dropped without deleting their objects (whoever removed the row does), and, for a full
  // answer, every segment it does not name and that was registered by then is dropped. This
  // node's own flushes are left to its flusher, which adds each in the same step as it drops
  // its memtable. Errors: FailedPrecondition for an engine that is no cluster node.
  virtual Status ApplySegmentChanges(const catalog::SegmentChanges& changes) {
    (void)changes;
    return Status::FailedPrecondition("this engine keeps no view of other nodes' segments");
  }
  // A number that grows each time this node's view must be replaced by a full listing of the
  // catalog's segments: a swap of its own (compaction, warm move) whose outcome stayed unknown
  // may have committed while the view passed its changes and left them to the swap
  // (docs/cluster.md "Compaction and tier moves on cluster nodes"). The segment refresh reads
  // the whole table when it differs from the last one it satisfied.
  virtual uint64_t FullSegmentViewWanted() { return 0; }
  // A cluster node: the change number through which every registration of its flushes has
  // left its memtables (catalog::NodeRow::confirmed_through); 0 for other engines.
  virtual uint64_t ConfirmedThrough() { return 0; }

  // Ends the compaction and the tier moves in progress and starts no new one (a server
  // stopping, docs/storage.md "Stopping"): a merge, a warm re-encoding or a read-back stops at
  // its next block, its half-written output is removed and its inputs stay registered as they
  // were (the next start does the work again); a move to cold stops before the next segment.
  // Appends, flushes and queries go on. Close calls it first. Idempotent.
  virtual void StopBackgroundWork() {}

  // Stops background work, syncs the WAL. Further Appends return Unavailable.
  virtual Status Close() = 0;
};

}  // namespace sawmill::storage
