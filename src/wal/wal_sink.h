// The storage engine's write-ahead step as one interface (docs/storage.md "Engine parts",
// docs/cluster.md "Write path"): the local WAL in DIR/wal (wal_manager.h) and a cluster node's
// WAL objects in the shared object store (src/cluster/wal_object_writer.h) both implement it, so
// the engine's write path (Append -> Commit -> apply to memtables) is the same for both.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::wal {

struct WalBatch;
struct WalDamage;
struct WalStats;

// CONTRACT (every implementation)
// Threading: thread-safe; Commit is called by many request threads at once.
// Durable when Commit returns OK: the batch survives the loss of this process (the local WAL:
//   synced to the data directory's disk; WAL objects: in the object store and registered in
//   the catalog), and it has been applied (ApplyFn) before Commit returns.
// Errors: Unavailable when the batch could not be made durable (nothing of it is acknowledged,
//   nothing of it was applied) or after Close.
class WalSink {
 public:
  // Called once per durable batch, in seq order, with no other apply running. A batch whose
  // "context" is null was not committed by this process (a WAL object taken over from another
  // node): the callee decodes "payload" (wal/record_batch.h) itself. Must not call back into the
  // sink.
  using ApplyFn = std::function<void(WalBatch& batch)>;
  // Called by Replay with each intact logical record, in log order. Sets "*max_seq" to the
  // highest seq the payload holds. A non-OK status (DataLoss) counts the record as corrupt.
  using ReplayFn = std::function<Status(std::string_view payload, uint64_t* max_seq)>;

  virtual ~WalSink() = default;

  // Replays every record not yet known to be in segments, oldest first, then opens for
  // appending. Returns the highest seq seen (0 if none). REQUIRES: called once, before Commit.
  virtual Result<uint64_t> Replay(const ReplayFn& fn) = 0;
  // What Replay found damaged. REQUIRES: Replay returned.
  virtual const std::vector<WalDamage>& damage_found() const = 0;
  // OK while commits succeed; Unavailable naming why while they fail (for /readyz).
  virtual Status WriteHealth() = 0;
  // Seqs handed out from now on are at least "seq". REQUIRES: before the first Commit.
  virtual void SetNextSeq(uint64_t seq) = 0;
  // Assigns the batch its seqs (base_seq), makes it durable with whatever other batches are
  // waiting, applies it, and returns. See the contract above.
  virtual Status Commit(WalBatch* batch) = 0;
  // Drops what only holds records with seqs below "min_unflushed_seq" (they are in registered
  // segments). Returns how many files or objects went.
  virtual int DeleteObsoleteFiles(uint64_t min_unflushed_seq) = 0;
  // Finishes queued commits and closes. Later Commits fail.
  virtual Status Close() = 0;
  virtual WalStats stats() const = 0;
  // The next seq Commit would hand out (a lower bound for a sink that allocates blocks).
  virtual uint64_t next_seq() const = 0;
};

}  // namespace sawmill::wal
