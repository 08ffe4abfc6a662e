// The write-ahead log of a data directory: a numbered series of files in DIR/wal, one of them
// open for appending. Owns group commit (concurrent committers share one write and one
// fdatasync), rotation, replay at start-up and deletion of files whose records are all in
// registered segments.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/env.h"
#include "common/mutex.h"
#include "sawmill/status.h"
#include "wal/log_writer.h"
#include "wal/wal_sink.h"

namespace sawmill::wal {

struct WalOptions {
  uint64_t file_bytes = 64ull << 20;  // rotate once the open file reaches this size
  // A commit group stops growing at this many payload bytes (bounds latency and memory).
  uint64_t max_group_bytes = 8ull << 20;
};

// One logical record waiting to be committed. Owned by the committing thread.
struct WalBatch {
  // EncodeBatch output. Commit overwrites its first 8 bytes (when it has them) with base_seq.
  std::string payload;
  uint64_t count = 0;       // seqs the batch takes
  uint64_t base_seq = 0;    // set by Commit: the batch holds seqs [base_seq, base_seq + count)
  void* context = nullptr;  // handed to the apply function untouched
  // A cluster node's claim on the batch's Idempotency-Key in the shared catalog (docs/cluster.md
  // "Idempotency-Keys across nodes"), as made: the WAL object holding the batch is registered
  // only while the claim is still this one, so that a node that stalled past node_timeout and
  // lost it acknowledges nothing another node may store too. Empty key: no claim (the local WAL
  // ignores it).
  struct KeyClaim {
    std::string tenant, key, node;
    int64_t node_started_ns = 0, created_ns = 0;
  } key_claim;
  // Time ranges of the batch's records (ts and ingest_ts, ns), kept per WAL file in the synced
  // sizes file so that damage found later can name the time it affects. min > max: unknown.
  int64_t min_ts = std::numeric_limits<int64_t>::max();
  int64_t max_ts = std::numeric_limits<int64_t>::min();
  int64_t min_ingest_ts = std::numeric_limits<int64_t>::max();
  int64_t max_ingest_ts = std::numeric_limits<int64_t>::min();
  // Internal to the manager.
  Status status;
  bool done = false;
};

// Damage found while reading the WAL: a skipped record, or a tail the reader could not use.
struct WalDamage {
  std::string file;  // name inside the WAL directory, e.g. "000012.log"
  uint64_t offset = 0;
  uint64_t bytes = 0;
  // checksum | bad_length | bad_type | orphan_fragment | undecodable | read_error | unreadable
  // (a record or a file the reader skipped), truncated (the file ends, or its data becomes
  // unreadable, before the size the WAL synced and acknowledged), torn_tail (an unusable tail
  // past that size, or in a file whose synced size is not known).
  std::string kind;
  std::string detail;  // human-readable, with file and offset
  // False when nothing acknowledged can have been lost: a torn tail past the synced size (the
  // write that a crash interrupted was never acknowledged).
  bool acknowledged_loss = true;
  // The time ranges of every record synced into the file (from the synced sizes file);
  // range_known false: not known, the damage may concern any time.
  bool range_known = false;
  int64_t min_ts = 0, max_ts = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
};

struct WalStats {
  uint64_t commits = 0;          // batches acknowledged
  uint64_t syncs = 0;            // fdatasyncs of log files
  uint64_t bytes = 0;            // bytes of the live log files
  uint64_t files = 0;            // live log files
  uint64_t corrupt_records = 0;  // damaged records skipped by replay
  uint64_t damage = 0;           // damage found by replay (records, truncations, torn tails)
};

// Thread-safe. The local implementation of WalSink (wal_sink.h).
class WalManager final : public WalSink {
 public:
  // Called by the commit leader, once per durable batch, in seq order, with no other apply
  // running. Must not call back into the manager.
  using ApplyFn = WalSink::ApplyFn;
  // Called by Replay with each intact logical record, in log order. Sets "*max_seq" to the
  // highest seq the payload holds. A non-OK status (DataLoss) counts the record as corrupt.
  using ReplayFn = WalSink::ReplayFn;

  // Lists the log files in "dir" (creating it if missing). Nothing is opened for writing until
  // Replay has run. "*env" and "*clock" must outlive the manager.
  static Result<std::unique_ptr<WalManager>> Open(Env* env, Clock* clock, std::string dir,
                                                  WalOptions options, ApplyFn apply);
  ~WalManager() override;

  // Replays every existing log file, oldest first, then opens a new log file for appending.
  // Damaged records are skipped, counted (sawmill_wal_corrupt_records_total) and logged.
  // Every damaged record and unusable tail is logged, counted (sawmill_wal_damage_total{kind})
  // and listed in damage_found().
  // Returns the highest seq seen (0 if none). Errors: only from creating the new log file.
  // REQUIRES: called once, before Commit.
  Result<uint64_t> Replay(const ReplayFn& fn) override;

  // What Replay found. REQUIRES: Replay returned.
  const std::vector<WalDamage>& damage_found() const override { return damage_; }

  // OK while commits succeed. After a commit failed (disk full or an I/O error) and until one
  // succeeds again: Unavailable "not accepting writes: disk full (...)". When no commit was tried
  // for a second, this probes the disk with a small synced write of its own (at most once a
  // second), so that readiness recovers once space is freed even if no client writes.
  Status WriteHealth() override;

  // The next seq Commit hands out. REQUIRES: before the first Commit.
  void SetNextSeq(uint64_t seq) override;

  // Assigns the batch its seqs, writes it with whatever other batches are waiting, syncs, and
  // applies it. Returns once the batch is durable and applied, or has failed.
  // Errors: Unavailable when the log cannot be written or synced (nothing of the batch is
  // acknowledged; the log moves to a new file) or after Close.
  Status Commit(WalBatch* batch) override;

  // Deletes every log file, other than the open one, whose records all have seqs below
  // "min_unflushed_seq" (that is, are in registered segments). Returns how many were deleted.
  int DeleteObsoleteFiles(uint64_t min_unflushed_seq) override;

  // Finishes queued commits, syncs and closes the open file. Later Commits fail.
  Status Close() override;

  WalStats stats() const override;
  uint64_t next_seq() const override;

 private:
  struct FileInfo {
    uint64_t max_seq = 0;
    uint64_t bytes = 0;  // synced (for the open file: as of the last successful commit)
    // Time ranges of the records synced into the file; min > max: none or not known.
    int64_t min_ts = std::numeric_limits<int64_t>::max();
    int64_t max_ts = std::numeric_limits<int64_t>::min();
    int64_t min_ingest_ts = std::numeric_limits<int64_t>::max();
    int64_t max_ingest_ts = std::numeric_limits<int64_t>::min();
    bool ranges_complete = true;  // every batch in the file came with its time ranges
  };

  WalManager(Env* env, Clock* clock, std::string dir, WalOptions options, ApplyFn apply);
  std::string FileName(uint32_t log_number) const;
  // Opens log file "next_log_number_" for writing. No writer may be open.
  Status OpenNewFileLocked() REQUIRES(mu_);
  void CloseWriterLocked() REQUIRES(mu_);
  // The synced sizes file (DIR/wal/SYNCED, docs/format/wal.md): one entry per commit group,
  // appended after the sync and before the acknowledgement; rewritten when a log file opens.
  void RewriteSyncedLocked() REQUIRES(mu_);
  void AppendSyncedLocked(uint32_t log_number, const FileInfo& info) REQUIRES(mu_);
  // Records damage: log line, metrics, damage_.
  void AddDamage(WalDamage damage);
  // Checks a replayed file's unusable tail against the synced size known for it.
  void CheckTail(uint32_t number, const std::string& path, uint64_t file_size, uint64_t valid_end,
                 const FileInfo* recorded, const FileInfo& replayed);

  Env* const env_;
  Clock* const clock_;
  const std::string dir_;
  const WalOptions options_;
  const ApplyFn apply_;

  mutable Mutex mu_;
  CondVar cv_;
  std::deque<WalBatch*> queue_ GUARDED_BY(mu_);
  std::map<uint32_t, FileInfo> files_ GUARDED_BY(mu_);  // includes the open file
  std::unique_ptr<WritableFile> file_ GUARDED_BY(mu_);  // null when broken/closed
  std::unique_ptr<LogWriter> writer_ GUARDED_BY(mu_);
  uint32_t next_log_number_ GUARDED_BY(mu_) = 1;
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  bool replayed_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  bool leader_busy_ GUARDED_BY(mu_) = false;
  WalStats stats_ GUARDED_BY(mu_);
  std::string group_buffer_;                                   // used only by the current leader
  std::unique_ptr<WritableFile> synced_file_ GUARDED_BY(mu_);  // null when unusable
  int64_t synced_retry_ns_ GUARDED_BY(mu_) = 0;                // last rewrite after a failure
  std::vector<WalDamage> damage_;                              // written by Replay only
  // Set when a commit fails, cleared when one succeeds (WriteHealth).
  std::string write_failure_ GUARDED_BY(mu_);
  uint64_t refused_batches_ GUARDED_BY(mu_) = 0;  // since write_failure_ was set
  int64_t last_attempt_ns_ GUARDED_BY(mu_) = 0;   // monotonic, of the last failed commit/probe
  int64_t last_failure_log_ns_ GUARDED_BY(mu_) = 0;
};

}  // namespace sawmill::wal
