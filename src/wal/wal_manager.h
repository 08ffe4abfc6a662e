// The write-ahead log of a data directory: a numbered series of files in DIR/wal, one of them
// open for appending. Owns group commit (concurrent committers share one write and one
// fdatasync), rotation, replay at start-up and deletion of files whose records are all in
// registered segments.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/env.h"
#include "sawmill/status.h"
#include "wal/log_writer.h"

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
  // Internal to the manager.
  Status status;
  bool done = false;
};

struct WalStats {
  uint64_t commits = 0;          // batches acknowledged
  uint64_t syncs = 0;            // fdatasyncs of log files
  uint64_t bytes = 0;            // bytes of the live log files
  uint64_t files = 0;            // live log files
  uint64_t corrupt_records = 0;  // damaged records skipped by replay
};

// Thread-safe.
class WalManager {
 public:
  // Called by the commit leader, once per durable batch, in seq order, with no other apply
  // running. Must not call back into the manager.
  using ApplyFn = std::function<void(WalBatch& batch)>;
  // Called by Replay with each intact logical record, in log order. Sets "*max_seq" to the
  // highest seq the payload holds. A non-OK status (DataLoss) counts the record as corrupt.
  using ReplayFn = std::function<Status(std::string_view payload, uint64_t* max_seq)>;

  // Lists the log files in "dir" (creating it if missing). Nothing is opened for writing until
  // Replay has run. "*env" and "*clock" must outlive the manager.
  static Result<std::unique_ptr<WalManager>> Open(Env* env, Clock* clock, std::string dir,
                                                  WalOptions options, ApplyFn apply);
  ~WalManager();

  // Replays every existing log file, oldest first, then opens a new log file for appending.
  // Damaged records are skipped, counted (sawmill_wal_corrupt_records_total) and logged.
  // Returns the highest seq seen (0 if none). Errors: only from creating the new log file.
  // REQUIRES: called once, before Commit.
  Result<uint64_t> Replay(const ReplayFn& fn);

  // The next seq Commit hands out. REQUIRES: before the first Commit.
  void SetNextSeq(uint64_t seq);

  // Assigns the batch its seqs, writes it with whatever other batches are waiting, syncs, and
  // applies it. Returns once the batch is durable and applied, or has failed.
  // Errors: Unavailable when the log cannot be written or synced (nothing of the batch is
  // acknowledged; the log moves to a new file) or after Close.
  Status Commit(WalBatch* batch);

  // Deletes every log file, other than the open one, whose records all have seqs below
  // "min_unflushed_seq" (that is, are in registered segments). Returns how many were deleted.
  int DeleteObsoleteFiles(uint64_t min_unflushed_seq);

  // Finishes queued commits, syncs and closes the open file. Later Commits fail.
  Status Close();

  WalStats stats() const;
  uint64_t next_seq() const;

 private:
  struct FileInfo {
    uint64_t max_seq = 0;
    uint64_t bytes = 0;
  };

  WalManager(Env* env, Clock* clock, std::string dir, WalOptions options, ApplyFn apply);
  std::string FileName(uint32_t log_number) const;
  // Opens log file "next_log_number_" for writing. REQUIRES: mu_ held; no writer open.
  Status OpenNewFileLocked();
  void CloseWriterLocked();

  Env* const env_;
  Clock* const clock_;
  const std::string dir_;
  const WalOptions options_;
  const ApplyFn apply_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WalBatch*> queue_;         // GUARDED_BY(mu_)
  std::map<uint32_t, FileInfo> files_;  // GUARDED_BY(mu_); includes the open file
  std::unique_ptr<WritableFile> file_;  // GUARDED_BY(mu_); null when broken/closed
  std::unique_ptr<LogWriter> writer_;   // GUARDED_BY(mu_)
  uint32_t next_log_number_ = 1;        // GUARDED_BY(mu_)
  uint64_t next_seq_ = 1;               // GUARDED_BY(mu_)
  bool replayed_ = false;               // GUARDED_BY(mu_)
  bool closed_ = false;                 // GUARDED_BY(mu_)
  bool leader_busy_ = false;            // GUARDED_BY(mu_)
  WalStats stats_;                      // GUARDED_BY(mu_)
  std::string group_buffer_;            // used only by the current leader
};

}  // namespace sawmill::wal
