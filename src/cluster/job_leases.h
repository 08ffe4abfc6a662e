// Background jobs claimed through the catalog's leases (docs/cluster.md "Background work by
// lease"): compaction, tier moves and retention run on one node of a cluster at a time. Before
// each round a job asks Claim(name); the node that holds the lease (or takes it: free, expired,
// or its own) runs the round, the others skip it. A held lease is renewed every ttl/3 by a
// background worker, so a round longer than the ttl keeps it; a node that stops (killed, stalled,
// cut off from the catalog) loses it after the ttl and another node takes it with a larger epoch.
//
// The holder is "node id#incarnation", so a restarted node does not carry on its previous
// incarnation's claims: it releases them at start (that incarnation is dead) and claims anew. On
// the embedded single node (one node, SQLite) every claim succeeds: behaviour is unchanged.
//
// Compaction and tier moves claim leases per partition slot instead (storage/job_gate.h "Jobs
// per partition"): ClaimSome takes a few in one catalog call for the round that works on them,
// renewed like the others while it runs, and ReleaseSome gives them up when it is done.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "storage/job_gate.h"

namespace sawmill::cluster {

struct JobLeaseOptions {
  std::string holder;  // "node#incarnation"
  int64_t ttl_ns = 30 * kNanosPerSecond;
  Clock* clock = Clock::Real();
  bool background = true;  // false: no renewal thread (tests renew by calling Claim)
  // This node's id: leases held by its earlier incarnations ("node#other") are released at
  // start, since one data directory is one process at a time (its lock), so they are dead.
  // "": none released (they expire after the ttl).
  std::string node_id;
};

class JobLeases final : public storage::PartitionLeases {
 public:
  // "catalog" must outlive this.
  JobLeases(catalog::Catalog* catalog, JobLeaseOptions options);
  ~JobLeases();  // stops renewing; does not release (Stop(true) does)
  JobLeases(const JobLeases&) = delete;
  JobLeases& operator=(const JobLeases&) = delete;

  // True when this node may run a round of "job" now: it holds the lease (taken or renewed by
  // this call). A catalog error is a false (the round is skipped, logged once per streak).
  bool Claim(std::string_view job);
  // Immediately before a round of "job" (begun by a Claim that said true) commits a step: true
  // when this node has held the lease without a break since that Claim: no renewal failed and no
  // other node took it (the epoch is still the claimed one), and it was renewed less than ttl/2
  // ago or is renewed now, so it stays this node's for at least half the ttl after this returns.
  // False: the round must not commit (storage/job_gate.h abandons it, logged and counted).
  bool StillHeld(std::string_view job) override;
  // The epoch of the lease this node holds on "job", 0 when it holds none.
  uint64_t Epoch(std::string_view job) const;

  // Partition leases (storage::PartitionLeases): Catalog::AcquireLeases for "names"; each taken
  // is held and renewed as a claimed job until ReleaseSome (by every round that took it: each
  // ClaimSome that returns a name is matched by one ReleaseSome of it). Refused (none) after
  // Stop.
  std::vector<std::string> ClaimSome(const std::vector<std::string>& names, size_t max) override;
  void ReleaseSome(const std::vector<std::string>& names) override;
  // This node's holder and the epoch of the last claim of "job", while it holds it at that epoch.
  std::optional<catalog::LeaseFence> Fence(std::string_view job) const override;
  // Stops the renewal; with "release" (a clean shutdown) gives every held lease up, so another
  // node takes the jobs at once instead of after the ttl. Claims are refused from then on.
  // Idempotent.
  void Stop(bool release);

 private:
  // One pass of the background worker: renews every held lease.
  void RenewHeld();
  // Takes or renews "job"; updates held_. Returns whether this node holds it.
  bool Acquire(const std::string& job);

  catalog::Catalog* const catalog_;
  const JobLeaseOptions options_;
  // Held by a renewal pass and by ReleaseSome, so that a pass never takes back a lease given
  // up after it listed the held ones (it would then be held and renewed with no round on it).
  // Taken before mu_.
  Mutex renew_mu_;
  mutable Mutex mu_;
  bool stopped_ GUARDED_BY(mu_) = false;  // Stop was called: no claims any more
  std::map<std::string, uint64_t, std::less<>> held_ GUARDED_BY(mu_);  // job -> epoch
  // The epoch of each job's last successful Claim (the round running, if any), and when each held
  // lease was last taken or renewed (options_.clock; it expires a ttl later).
  std::map<std::string, uint64_t, std::less<>> claimed_ GUARDED_BY(mu_);
  std::map<std::string, int64_t, std::less<>> renewed_ns_ GUARDED_BY(mu_);
  std::map<std::string, int, std::less<>> failures_ GUARDED_BY(mu_);  // catalog errors in a row
  // The rounds of this node holding each partition lease (ClaimSome, ReleaseSome): a manual
  // round and a background one may both work under one; it is given up when both are done.
  std::map<std::string, int, std::less<>> rounds_ GUARDED_BY(mu_);
  int claim_failures_ GUARDED_BY(mu_) = 0;  // ClaimSome's catalog errors in a row
  PeriodicWorker renewal_;                  // every ttl/3 (not started without options.background)
};

}  // namespace sawmill::cluster
