// A cluster node's write-ahead log (docs/cluster.md "Write path"): acknowledged batches go into
// WAL objects in the object store every node shares, instead of into files on this node's disk.
//
// Commit puts the batch into the open buffer; the buffer is sealed every "interval" (from its
// first batch) or at "max_bytes", written with one PUT as wal/<node>/<first>-<last>.wal (the
// WAL file format of docs/format/wal.md: records with CRCs, one log number), then registered in
// the catalog (table wal_objects) in one transaction; only then are its batches applied (put
// into memtables) and their Commits return OK. A PUT or registration that keeps failing past
// "persist_deadline" fails every batch of the buffer with Unavailable (503): nothing of them
// is acknowledged. Seqs come from the catalog in blocks (Catalog::AllocateSeqs), so they are
// unique across the cluster.
//
// Once the engine has flushed a WAL object's records into registered segments
// (DeleteObsoleteFiles), its row is marked flushed and removed, then the object is deleted;
// a crash in between leaves a row marked flushed (cleaned at the next start) or an object no
// row names (an orphan, deleted by the start-up sweep of wal/<node>/).
//
// Takeover: TakeOver claims the unflushed objects of nodes found dead (Catalog::
// ClaimWalObjects), reads them and applies their batches (WalBatch::context null); from then on
// this node answers for them as for its own. Every later change of their rows checks this node
// still owns them (fencing).
//
// Fenced flush (docs/cluster.md "Fenced flush"): PrepareFence makes the fence with which the
// engine's flusher registers a flushed segment (Catalog::RegisterSegment) in
// one catalog transaction that succeeds only while this node (this incarnation) still owns the
// objects holding the segment's rows, and marks flushed, in the same transaction, the objects
// whose records are then all in segments. When it fails, the objects found taken over are
// "lost": their seq ranges (LostSeqs) are left out of every later flush (the taker stores
// them), logged and counted. A later incarnation of this node's id takes everything: this
// writer then refuses every write.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "objstore/object_store.h"
#include "sawmill/status.h"
#include "storage/flush_fence.h"
#include "wal/wal_manager.h"
#include "wal/wal_sink.h"

namespace sawmill::cluster {

struct WalObjectOptions {
  std::string node;         // this node's id (object names, rows)
  int64_t incarnation = 0;  // this process's (NodeRegistry::incarnation): the fence of flushes
  int64_t interval_ns = 200 * kNanosPerMilli;          // seal the open buffer this long after
  uint64_t max_bytes = 4ull << 20;                     // its first batch, or at this size
  uint64_t seq_block = 1'000'000;                      // seqs taken from the catalog at once
  int64_t persist_deadline_ns = 10 * kNanosPerSecond;  // PUT + register retried this long
};

// The object name of a WAL object: wal/<node>/<first>-<last>.wal, seqs zero-padded to 20
// digits so that names sort by seq.
std::string WalObjectName(const std::string& node, uint64_t first_seq, uint64_t last_seq);

// Reads the logical records of a WAL object's bytes, in order. Damage (a bad checksum, a torn
// record) stops nothing: the record is skipped and described in "*damage" (may be null).
std::vector<std::string> ReadWalObjectRecords(const std::string& name, const std::string& data,
                                              std::vector<wal::WalDamage>* damage);

// Thread-safe (WalSink's contract).
class WalObjectWriter final : public wal::WalSink, public storage::FlushFence {
 public:
  // "catalog" and "clock" must outlive the writer; "catalog" should be a connection of its own
  // (its calls are on the acknowledgement path).
  static Result<std::unique_ptr<WalObjectWriter>> Open(catalog::Catalog* catalog,
                                                       std::shared_ptr<objstore::ObjectStore> store,
                                                       Clock* clock, WalObjectOptions options,
                                                       ApplyFn apply);
  ~WalObjectWriter() override;

  // Replays the unflushed objects this node answers for (its own and those it took over
  // before a restart), oldest first; cleans up rows already marked flushed; deletes the objects
  // under wal/<node>/ no row names (orphans of a crash). Then starts the sealer.
  Result<uint64_t> Replay(const ReplayFn& fn) override;
  const std::vector<wal::WalDamage>& damage_found() const override { return damage_; }
  Status WriteHealth() override;
  void SetNextSeq(uint64_t seq) override;
  Status Commit(wal::WalBatch* batch) override;
  int DeleteObsoleteFiles(uint64_t min_unflushed_seq) override;
  Status Close() override;
  wal::WalStats stats() const override;
  uint64_t next_seq() const override;

  // Claims at most "limit" unflushed objects of "dead" nodes (whose heartbeat is older than
  // "alive_since_ns"), applies their batches and answers for them from then on. Returns how
  // many objects were taken over. The caller must keep the engine from trimming meanwhile
  // (Engine::WithoutWalTrim): a trim decided before the batches were applied would delete them.
  // "own_generation": this node's takeover generation as it confirmed it, having learnt which
  // of its objects were lost up to it; the claim takes nothing (FailedPrecondition) when the
  // catalog's is above it (Catalog::ClaimWalObjects "to_generation").
  Result<size_t> TakeOver(const std::vector<std::string>& dead, int64_t alive_since_ns,
                          size_t limit, std::optional<uint64_t> own_generation = std::nullopt);

  // The fence of the engine's flushes (storage::FlushFence; see above).
  Status PrepareFence(const std::vector<uint64_t>& seqs,
                      const std::function<uint64_t()>& min_unflushed_after,
                      catalog::Catalog::WalFence* fence) override;
  void Fenced(catalog::Catalog* catalog, const catalog::Catalog::WalFence& fence) override;
  std::vector<std::pair<uint64_t, uint64_t>> LostSeqs() const override;

  // After a gap in this node's heartbeats (NodeRegistry::Own): reads which of the objects it
  // answers for were taken over meanwhile (or all, when a later incarnation of its id started);
  // they become lost (LostSeqs), logged and counted. Errors: the catalog's (nothing learnt).
  Status CheckOwnership();
  // How many seq ranges of objects taken over from this node may still be in its memtables
  // (pruned as flushes drop them), or SIZE_MAX when a later incarnation took everything: while
  // any, this node's memtables hold rows another node answers for.
  size_t LostRangesHeld() const;

  const std::string& node() const { return options_.node; }

 private:
  struct Group {
    std::vector<wal::WalBatch*> batches;
    std::string data;
    uint64_t first_seq = 0, last_seq = 0;
    int64_t min_ingest_ts = 0, max_ingest_ts = 0;
    int64_t opened_ns = 0;  // monotonic, when its first batch came
  };

  WalObjectWriter(catalog::Catalog* catalog, std::shared_ptr<objstore::ObjectStore> store,
                  Clock* clock, WalObjectOptions options, ApplyFn apply);
  void SealerThread();
  // PUTs and registers "group" (retrying until persist_deadline); the row on success.
  Result<catalog::WalObjectRow> Persist(const Group& group);
  // The registration of "row" was refused (FailedPrecondition "why"): a batch's Idempotency-Key
  // claim is no longer this node's. Deletes the object; returns the batches' Unavailable.
  Status ClaimLost(const catalog::WalObjectRow& row, const Status& why);
  // Reads a whole object (retrying a failing store a few times).
  Result<std::string> ReadObject(const std::string& name);
  Status Unavailable(const std::string& why) const;
  // After a fenced registration failed: which objects of "owned" another node (or a later
  // incarnation) answers for now; they leave owned_ for lost_.
  // Errors: the catalog's, when it could not say which objects this node still owns (the ones
  // named in "lost" are lost all the same).
  Status FindLost(catalog::Catalog* catalog, const std::vector<catalog::WalObjectRow>& owned,
                  const std::vector<std::string>& lost);

  catalog::Catalog* const catalog_;
  const std::shared_ptr<objstore::ObjectStore> store_;
  Clock* const clock_;
  const WalObjectOptions options_;
  const ApplyFn apply_;

  mutable Mutex mu_;
  CondVar work_cv_;  // the sealer: a batch came, or closing
  CondVar done_cv_;  // committers: a group finished
  Group open_ GUARDED_BY(mu_);
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  uint64_t block_end_ GUARDED_BY(mu_) = 0;  // next_seq_ < block_end_: in an allocated block
  uint64_t floor_ GUARDED_BY(mu_) = 1;
  bool replayed_ GUARDED_BY(mu_) = false;
  bool closing_ GUARDED_BY(mu_) = false;
  std::string failure_ GUARDED_BY(mu_);  // why the last group failed; "" when it succeeded
  // The objects this node answers for whose batches are applied, oldest first.
  std::deque<catalog::WalObjectRow> owned_ GUARDED_BY(mu_);
  // Seq ranges of objects taken over from this node while it held their records (see above);
  // pruned once no memtable holds such seqs, and cleared for an object taken back.
  std::vector<std::pair<uint64_t, uint64_t>> lost_ GUARDED_BY(mu_);
  // A later incarnation of this node's id registered: every object is its, no more writes.
  bool superseded_ GUARDED_BY(mu_) = false;
  wal::WalStats stats_ GUARDED_BY(mu_);

  Mutex apply_mu_;                      // one apply at a time (the sealer's and a takeover's)
  Mutex trim_mu_;                       // DeleteObsoleteFiles and TakeOver
  std::vector<wal::WalDamage> damage_;  // written by Replay only
  std::thread sealer_;
};

}  // namespace sawmill::cluster
