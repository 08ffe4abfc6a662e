// A cluster node (issue 20, docs/cluster.md): `sawmill server --catalog postgresql://...
// --store s3://bucket/prefix`. This is the node's write side: its WAL objects
// (wal_object_writer.h), its segments in the shared store, and the takeover of the unflushed WAL
// objects of nodes whose heartbeat stopped.
//
// Identity and liveness are the node registry's (node_registry.h): ClusterNode::Open starts the
// registry (the node's row in the nodes table, its heartbeats) on a catalog connection of its
// own, before the engine opens and replays the node's WAL objects, so that no other node takes
// them over meanwhile. The server uses that registry for everything else (fan-out, live tail,
// job leases) instead of starting a second one.
//
// The node shares the catalog with every other node (no exclusive lock). The engine is told to
// be a cluster node's by Configure (EngineOptions::wal_factory and shared_store); Start runs the
// takeover rounds, one every heartbeat interval: the WAL objects of nodes the registry finds
// dead (heartbeat older than node_timeout) are claimed, replayed into this node's memtables,
// flushed to segments and deleted. A node whose own heartbeat is not current takes nothing over.
// It also runs the sweep of orphan segment objects in the shared store, under a job lease.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "cluster/node_registry.h"
#include "cluster/wal_object_writer.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "objstore/object_store.h"
#include "sawmill/status.h"
#include "storage/engine.h"

namespace sawmill::cluster {

struct ClusterNodeOptions {
  std::string catalog_url;  // postgresql://...
  // The node's id, URL, heartbeat interval and node_timeout (a node whose heartbeat is older is
  // dead and taken over). registry.clock is set to "clock". registry.settings: the cluster-wide
  // settings the node settled at start (cluster::SettleNodeSettings; name -> milliseconds),
  // recorded with its registration, then read again, and Open refuses when any changed meanwhile
  // (cluster::CheckSettledSettingsUnchanged: a change made while the node was not yet live was
  // checked without it). Empty: neither recorded nor checked.
  NodeRegistryOptions registry;
  // The shared store: WAL objects under wal/ (read and written past any cache).
  std::shared_ptr<objstore::ObjectStore> wal_store;
  WalObjectOptions wal;        // wal.node is set to registry.id
  size_t takeover_batch = 64;  // WAL objects claimed per round
  // The sweep of orphan segment objects in the shared store (docs/cluster.md "Orphan segment
  // objects"): every sweep_interval, on the node holding the job lease "segment_sweep", the
  // objects under segments/ that no catalog row names are noted; one still unnamed after
  // orphan_grace is deleted. 0: no sweep.
  int64_t segment_sweep_interval_ns = 5 * 60 * kNanosPerSecond;
  int64_t segment_orphan_grace_ns = 60 * 60 * kNanosPerSecond;
  Clock* clock = nullptr;  // nullptr: Clock::Real()
  // Tests: wraps the WAL object writer's catalog connection (e.g. to stall a registration);
  // null: none.
  std::function<std::unique_ptr<catalog::Catalog>(std::unique_ptr<catalog::Catalog>)>
      wrap_wal_catalog;
  // Tests: wraps the node's own connection (heartbeats, takeover, its fence's reads); null: none.
  std::function<std::unique_ptr<catalog::Catalog>(std::unique_ptr<catalog::Catalog>)>
      wrap_node_catalog;
};

class ClusterNode {
 public:
  // Opens the node's own catalog connections and starts its registry (one heartbeat, which
  // must succeed), then compares options.registry.settings with the recorded settings. Errors: the
  // registry's (InvalidArgument for a bad id or intervals), FailedPrecondition for a settled
  // setting changed meanwhile (its row stays until its heartbeat ages past node_timeout, as for
  // any start refused after the registration: the others then take over any WAL objects of its
  // earlier run), and the catalog's (Unavailable when PostgreSQL cannot be reached).
  static Result<std::unique_ptr<ClusterNode>> Open(ClusterNodeOptions options);
  ~ClusterNode();  // Stop()

  // Makes "options" a cluster node's engine: WAL objects instead of DIR/wal, segments in
  // "segment_store" (the shared store, segments/ under the prefix; may be cached), a shared
  // catalog, compaction and warm moves into the shared store (their inputs left to the sweep);
  // the writer fences the engine's flushes.
  void Configure(storage::EngineOptions* options,
                 std::shared_ptr<objstore::ObjectStore> segment_store);
  // Starts the takeover rounds. "engine" must be the one opened with Configure's options and
  // outlive Stop.
  void Start(storage::Engine* engine);
  // Stops the takeover rounds (the engine closes afterwards and seals the last WAL object). The
  // registry keeps heartbeating until the server stops it (registry()->Stop).
  void Stop();

  const std::string& id() const { return registry_->id(); }
  // The node's registry, for the server's fan-out, tail and leases; lives as long as the node.
  NodeRegistry* registry() const { return registry_.get(); }
  // One takeover round now (tests): returns how many WAL objects were taken over.
  Result<size_t> TakeOverNow();
  // The fence of this node's memtable answers (docs/cluster.md "Fenced answers"; asked after
  // the answer's snapshot is taken, also for its own memtables in a query it coordinates).
  // Refused (Unavailable, saying which) while its memtables still hold rows of WAL objects it
  // knows were taken over (until its flush drops them: the taker answers for those), once a
  // later incarnation of its id started, and before it ever learnt its takeover generation.
  // Otherwise returns the generation it last confirmed, its heartbeat's age and what it knows
  // of every node's generation, which the querying node checks once every answer is in
  // (AnswersThatDoNotStand); after a gap in its heartbeats it first reads which of its objects
  // were taken over, when the catalog answers.
  Result<storage::MemtableFence> FenceMemtableAnswer();
  // Called by the segment refresh after each read of the catalog's segment changes and before
  // they are applied (SegmentRefreshOptions::before_apply; "changes": whether they change the
  // view): reads every node's takeover generation, so that what KnownTakeovers says covers every
  // segment the view holds.
  void NoteViewRead(bool changes);
  // Every node's takeover generation as of the segment view's last read, when that read covers
  // every claim this node made (none is running, none took something since): nullopt when not.
  std::optional<std::map<std::string, uint64_t>> KnownTakeovers() const;
  // The catalog's takeover generations (catalog::Catalog::ReadWalTakeovers), on the node's own
  // connection: the querying side's check of other nodes' answers.
  Result<std::map<std::string, uint64_t>> ReadTakeovers() const;
  // One sweep of orphan segment objects now, without asking for the lease (tests; the rounds
  // ask): returns how many objects were deleted.
  Result<size_t> SweepSegmentsNow();
  // How long the catalog keeps the record of a swept object (Catalog::SweepSegmentObjects).
  int64_t SweptObjectsKeptNs() const;

 private:
  explicit ClusterNode(ClusterNodeOptions options);
  void TakeoverRound();
  // Fences each of "dead" (rows as read, found dead before "alive_since") that holds merges of
  // its segments back (Catalog::FenceDeadNode); failures are logged and retried next round.
  void FenceDeadNodes(const std::vector<catalog::NodeRow>& dead, int64_t alive_since);
  void SweepRound();

  ClusterNodeOptions options_;
  Clock* clock_;
  std::unique_ptr<catalog::Catalog> node_catalog_;  // heartbeats and takeover
  std::unique_ptr<catalog::Catalog> wal_catalog_;   // the WAL object writer's
  std::unique_ptr<NodeRegistry> registry_;          // on node_catalog_ (declared after it)
  WalObjectWriter* writer_ = nullptr;               // owned by the engine
  storage::Engine* engine_ = nullptr;
  std::shared_ptr<objstore::ObjectStore> segment_store_;  // the shared store's segments/, uncached
  // Orphan candidates: unnamed segment objects and when (monotonic) a sweep first saw them.
  std::map<std::string, int64_t> first_seen_;  // the sweep worker's thread only
  std::atomic<bool> stopping_{false};
  // Reads this node's takeover generation and, when it moved, which objects were taken over
  // (WalObjectWriter::CheckOwnership); then the generation is confirmed as of heartbeat gap
  // count "gaps" (NodeRegistry::Own, read before). Errors: the catalog's (nothing confirmed).
  Status ConfirmGeneration(uint64_t gaps);
  // KnownTakeovers: this node's claims running and done (one that took something, or failed),
  // and the generations the segment view's last read found, with claims_done_ as of then.
  std::atomic<uint64_t> claims_running_{0};
  std::atomic<uint64_t> claims_done_{0};
  mutable Mutex known_mu_;
  bool known_valid_ GUARDED_BY(known_mu_) = false;
  uint64_t known_claims_done_ GUARDED_BY(known_mu_) = 0;
  std::map<std::string, uint64_t> known_ GUARDED_BY(known_mu_);
  Mutex confirm_mu_;  // the confirmed state below; never held across a catalog call
  bool confirmed_ GUARDED_BY(confirm_mu_) = false;
  uint64_t confirmed_generation_ GUARDED_BY(confirm_mu_) = 0;
  uint64_t confirmed_gaps_ GUARDED_BY(confirm_mu_) = 0;
  bool takeover_failing_ = false;  // the worker's thread only
  PeriodicWorker sweep_;
  PeriodicWorker takeover_;  // declared last: stops first
};

}  // namespace sawmill::cluster
