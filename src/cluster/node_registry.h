// The node registry (issue 20, docs/cluster.md "Nodes"): every server registers itself in the
// catalog's nodes table at start, renews its heartbeat every 2 s and removes its row on a clean
// shutdown. A node whose heartbeat is older than node_timeout (10 s) is dead to the others. The
// registry also answers which nodes are live, from the listing read at its last heartbeat, so
// that a query's fan-out does not read the catalog.
//
// Identity: the id is stable across restarts of one data directory (DATA/node_id, made at the
// first start); the incarnation is the start time of this process (NodeRow::started_ns), so a
// restarted node is the same id with a larger incarnation, and a row whose incarnation is not
// ours means another process uses our id (logged and counted, never silently shared).
//
// Any catalog: the embedded single node registers itself in SQLite too (one live node: no
// fan-out), so that the shapes are the same everywhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "sawmill/status.h"

namespace sawmill::cluster {

struct NodeRegistryOptions {
  std::string id;   // stable across restarts (LoadOrCreateNodeId)
  std::string url;  // where other nodes reach this one (--advertise-url)
  int64_t heartbeat_interval_ns = 2 * kNanosPerSecond;
  int64_t node_timeout_ns = 10 * kNanosPerSecond;  // older heartbeats: dead
  Clock* clock = Clock::Real();
  bool background = true;  // false: no heartbeat thread (tests call Beat themselves)
  // The cluster-wide settings this node runs (catalog::NodeRow::settings: node_heartbeat,
  // node_timeout, query_timeout, idempotency_window in milliseconds), recorded with its
  // registration so that `sawmill admin settings set` checks a change against what every live
  // node runs (docs/cluster.md "Cluster-wide settings"). Empty: none recorded.
  std::map<std::string, uint64_t> settings = {};
};

// One row of the nodes table as the registry sees it.
struct NodeView {
  catalog::NodeRow row;
  bool live = false;
  bool self = false;
};

class NodeRegistry {
 public:
  // Registers the node (one heartbeat, which must succeed: a node that cannot reach its catalog
  // does not start) and starts heartbeating on a thread of its own.
  // Errors: InvalidArgument for an empty id or url, or intervals that are not positive or a
  // timeout not above the interval; the catalog's errors.
  static Result<std::unique_ptr<NodeRegistry>> Start(catalog::Catalog* catalog,
                                                     NodeRegistryOptions options);
  ~NodeRegistry();  // Stop(/*remove=*/false) if not stopped
  NodeRegistry(const NodeRegistry&) = delete;
  NodeRegistry& operator=(const NodeRegistry&) = delete;

  // Stops heartbeating. With "remove" (a clean shutdown) the node's row is removed, so that the
  // others stop asking it at once instead of after node_timeout. Idempotent.
  void Stop(bool remove);

  const std::string& id() const { return options_.id; }
  const std::string& url() const { return options_.url; }
  int64_t incarnation() const { return started_ns_; }
  int64_t node_timeout_ns() const { return options_.node_timeout_ns; }

  // The live nodes other than this one, as of the last heartbeat (no catalog read).
  std::vector<catalog::NodeRow> Peers() const;
  // Live nodes, this one included, as of the last heartbeat.
  size_t LiveCount() const;
  // Reads the nodes table now: every row, live or not, this one marked.
  Result<std::vector<NodeView>> List() const;
  // Heartbeats and reads the table now (also done every heartbeat_interval).
  Status Beat();
  // Where each heartbeat reads this node's confirmed-through (catalog::NodeRow::confirmed_through)
  // from: the engine, once it is open (ClusterNode::Start). Null (before, and once the engine
  // closes): the last value read is written again. Called under a mutex of its own (never the
  // registry's, which others may take under the engine's), so that once
  // SetConfirmedThrough(nullptr) returns, the previous function is no longer running.
  void SetConfirmedThrough(std::function<uint64_t()> fn);
  // True when every heartbeat of the last node_timeout succeeded. After a catalog outage every
  // node's heartbeat is stale, the live ones' too: until each has had node_timeout to beat
  // again, none may be judged dead from the table (takeover waits for this).
  bool CatalogSteadyForNodeTimeout() const;

  // This node's own heartbeats as the others may see them (docs/cluster.md "Fenced flush": a
  // node answers for its memtables only while it cannot have been taken over): how long ago
  // (monotonic) the newest heartbeat that was written started (INT64_MAX before any), and how
  // many heartbeats so far were written after a gap longer than may_look_dead_after_ns() since
  // the one before (a stall, a pause, a catalog cut: the others may have found it dead).
  struct OwnBeats {
    int64_t age_ns = 0;
    uint64_t gaps = 0;
  };
  OwnBeats Own() const;
  // Halfway between the heartbeat interval and node_timeout: a heartbeat older than this may be
  // past node_timeout on another node's clock by the time an answer reaches it.
  int64_t may_look_dead_after_ns() const {
    return options_.heartbeat_interval_ns +
           (options_.node_timeout_ns - options_.heartbeat_interval_ns) / 2;
  }

 private:
  NodeRegistry(catalog::Catalog* catalog, NodeRegistryOptions options, int64_t started_ns);
  // One heartbeat of the background worker; failures logged at the first and then once a
  // minute's worth of heartbeats.
  void BeatAndLog();
  void MarkUnreachable();  // a heartbeat or the table read failed
  std::vector<NodeView> Classify(const std::vector<catalog::NodeRow>& rows) const;

  catalog::Catalog* const catalog_;
  const NodeRegistryOptions options_;
  const int64_t started_ns_;
  mutable Mutex mu_;
  bool stopped_ GUARDED_BY(mu_) = false;
  std::vector<catalog::NodeRow> peers_ GUARDED_BY(mu_);
  size_t live_ GUARDED_BY(mu_) = 1;
  int64_t last_ok_ns_ GUARDED_BY(mu_) = 0;
  int64_t last_ok_mono_ GUARDED_BY(mu_) = 0;  // start of the newest heartbeat written; 0: none
  uint64_t gaps_ GUARDED_BY(mu_) = 0;         // Own().gaps
  // Start of the current run of successful heartbeats; 0 while they fail.
  int64_t reachable_since_ns_ GUARDED_BY(mu_) = 0;
  Mutex confirmed_mu_;  // taken before the engine's state mutex (confirmed_fn_)
  std::function<uint64_t()> confirmed_fn_ GUARDED_BY(confirmed_mu_);
  uint64_t confirmed_ GUARDED_BY(confirmed_mu_) = 0;
  int failures_ = 0;  // heartbeats failed in a row (the worker's thread only)
  // Whether a heartbeat wrote options_.settings (the registration's does; later ones leave them).
  std::atomic<bool> settings_written_{false};
  PeriodicWorker worker_;
};

// Whether "row" is live at "now_ns" (the clock its heartbeats are written by): its heartbeat is
// at most "node_timeout_ns" old. How nodes judge each other (NodeRegistry) and how
// WatchLiveNodes judges a node that stopped beating.
bool HeartbeatLive(const catalog::NodeRow& row, int64_t now_ns, int64_t node_timeout_ns);

// The live nodes as judged without the wall clock of the machine that asks (`sawmill admin
// settings`, which may run anywhere; docs/cluster.md "Cluster-wide settings"): by watching the
// heartbeats. "first" is the caller's read of the nodes table (ListNodes), begun at
// "first_read_mono_ns" (Clock::Real()'s monotonic time, taken just before that read: the caller
// chose the intervals below from it, so the watch does not read it again). Reads the nodes table
// again every "poll_ns": a node whose heartbeat advances
// meanwhile (or that registers meanwhile) is live; one that does not after one heartbeat
// interval is dead once its heartbeat is older than "node_timeout_ns" by the newest heartbeat of
// a node that advanced (the nodes' own clocks, as they judge each other), or once it has not
// advanced for node_timeout_ns + heartbeat_interval_ns of watching. Returns once every node is
// decided: as soon as each advanced, after one heartbeat interval when the others are long dead,
// at most node_timeout + heartbeat_interval when a node stopped beating lately and none beats
// to tell; at once for an empty table.
// "heartbeat_interval_ns" and "node_timeout_ns": the longest any node may run.
struct WatchedNodes {
  std::vector<catalog::NodeRow> live;  // as last read, by id
  int64_t watched_ns = 0;              // how long the heartbeats were watched
  // Every row of the last read, live or dead: id -> started_ns (the incarnations the judgement
  // counted, for Catalog::ChangeSettingIf).
  std::map<std::string, int64_t> registered;
};
Result<WatchedNodes> WatchLiveNodes(const catalog::Catalog* catalog,
                                    std::vector<catalog::NodeRow> first, int64_t first_read_mono_ns,
                                    int64_t heartbeat_interval_ns, int64_t node_timeout_ns,
                                    int64_t poll_ns = 100 * kNanosPerMilli);

// The node's id, stable across restarts: read from DATA/node_id, or made (16 random hex digits
// after the host name's first label) and written there (synced) at the first start.
// Errors: IOError when the file cannot be read or written; DataLoss when it holds no valid id.
Result<std::string> LoadOrCreateNodeId(const std::string& data_dir);

// The URL other nodes use when --advertise-url is not given: scheme://host:port from the bind
// address, with the host name for a wildcard bind (0.0.0.0, ::, empty).
std::string DefaultAdvertiseUrl(const std::string& scheme, const std::string& bind_address,
                                int port);

// The host other nodes send in their requests' Host header: advertise_url's host when given,
// else the host name for a wildcard bind address, else "" (the bind address is answered
// anyway). For the HTTP server's allowed_hosts.
std::string AdvertisedHost(const std::string& advertise_url, const std::string& bind_address);

}  // namespace sawmill::cluster
