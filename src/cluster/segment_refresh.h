// A cluster node's view of every node's segments (docs/cluster.md "The segment view"): the
// catalog's segment changes (catalog::Catalog::ListSegmentChanges) applied to the engine's
// segment registry (storage::Engine::ApplySegmentChanges), periodically and on demand, so that
// a query on any node reads the segments every node flushed into the shared store (through the
// node's segment cache, opened lazily). Old changes are pruned on every server, cluster node or
// not, so the change table stays small.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "common/repeated_failure_log.h"
#include "storage/engine.h"

namespace sawmill::cluster {

struct SegmentRefreshOptions {
  // The periodic refresh (segment_refresh_interval); 0: on demand only.
  int64_t interval_ns = kNanosPerSecond;
  // false: only prune the catalog's old changes (a server that is no cluster node keeps no view
  // of other nodes' segments).
  bool apply = true;
  // Changes older than this are pruned, at most every "prune_every_ns".
  int64_t keep_changes_ns = 3600 * kNanosPerSecond;
  int64_t prune_every_ns = 600 * kNanosPerSecond;
  // Changes asked per catalog call.
  size_t batch = 10000;
  // Called after every read of the catalog's changes that is about to be applied, before it is,
  // saying whether it changes the view (a cluster node reads the takeover generations then:
  // ClusterNode::NoteViewRead). Null: none.
  std::function<void(bool changes)> before_apply;
};

// Threading: thread-safe. Refreshes are one at a time; callers that need one while another runs
// wait for it and use it when it is enough. "catalog", "engine" and "clock" must outlive this.
class SegmentRefresh {
 public:
  SegmentRefresh(catalog::Catalog* catalog, storage::Engine* engine, SegmentRefreshOptions options,
                 Clock* clock = nullptr);
  ~SegmentRefresh() { Stop(); }

  // The first refresh (a failure is logged and retried by the periodic one), then the periodic
  // refresh and pruning on a thread of their own.
  void Start();
  // Stops the thread (a refresh in progress finishes first). Idempotent.
  void Stop();

  // One refresh now: every change after the view's last is applied. Errors: the catalog's.
  Status RefreshNow();
  // Brings the view to change "at_least" or beyond, refreshing while it is behind, for at most
  // "timeout_ns". Returns the view's last change; "*error" says why it is still behind (left as
  // it is when the view got there).
  uint64_t CatchUp(uint64_t at_least, int64_t timeout_ns, std::string* error);

  // The newest change the view has applied (with every change below it).
  uint64_t last() const;

 private:
  Status RefreshLocked() REQUIRES(refresh_mu_);
  // Adds the later batch "next" (not full) to "into": as if both had been read at once.
  static void Merge(catalog::SegmentChanges next, catalog::SegmentChanges* into);
  void Round();

  catalog::Catalog* const catalog_;
  storage::Engine* const engine_;
  const SegmentRefreshOptions options_;
  Clock* const clock_;
  RepeatedFailureLog failures_;

  Mutex refresh_mu_;  // one refresh at a time
  int64_t last_prune_ns_ GUARDED_BY(refresh_mu_) = 0;
  // The engine's Engine::FullSegmentViewWanted last satisfied by a full listing applied.
  uint64_t full_done_ GUARDED_BY(refresh_mu_) = 0;
  mutable Mutex mu_;
  uint64_t last_ GUARDED_BY(mu_) = 0;
  PeriodicWorker worker_;
};

}  // namespace sawmill::cluster
