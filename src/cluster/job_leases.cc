#include "cluster/job_leases.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "common/metrics.h"

namespace sawmill::cluster {
namespace {

struct LeaseMetrics {
  prometheus::Counter* lost;
  prometheus::Counter* errors;
  prometheus::Family<prometheus::Gauge>* held;
};

LeaseMetrics& Metrics() {
  static LeaseMetrics m = [] {
    LeaseMetrics r{};
    r.lost = UnlabelledCounter("sawmill_job_leases_lost_total",
                               "Job leases this node held and found taken by another node (it "
                               "stalled or was cut off from the catalog past the lease's ttl)");
    r.errors = UnlabelledCounter("sawmill_job_lease_errors_total",
                                 "Job lease claims or renewals that failed in the catalog (the "
                                 "round was skipped)");
    r.held = &prometheus::BuildGauge()
                  .Name("sawmill_job_lease_held")
                  .Help(
                      "1 while this node holds the lease of the job (compaction, tiers, "
                      "retention), else 0")
                  .Register(MetricsRegistry());
    return r;
  }();
  return m;
}

// Leases of partition slots ("compaction/17", storage/job_gate.h) are many and short: no gauge
// per slot, and their claims are not logged one by one.
bool IsPartitionLease(std::string_view name) { return name.find('/') != std::string_view::npos; }

void SetHeldGauge(const std::string& job, bool held) {
  if (!IsPartitionLease(job)) Metrics().held->Add({{"job", job}}).Set(held ? 1 : 0);
}

}  // namespace

JobLeases::JobLeases(catalog::Catalog* catalog, JobLeaseOptions options)
    : catalog_(catalog), options_(std::move(options)) {
  Metrics();
  if (!options_.node_id.empty()) {
    const std::string mine = options_.node_id + "#";
    auto leases = catalog_->ListLeases();
    for (const catalog::LeaseRow& lease :
         leases.ok() ? *leases : std::vector<catalog::LeaseRow>{}) {
      if (lease.holder.rfind(mine, 0) != 0 || lease.holder == options_.holder) continue;
      if (Status s = catalog_->ReleaseLease(lease.name, lease.holder); s.ok()) {
        spdlog::info("job {}: released the lease of this node's previous incarnation ({})",
                     lease.name, lease.holder);
      }
    }
  }
  if (options_.background) {
    renewal_.Start(std::max<int64_t>(1, options_.ttl_ns / 3), [this] { RenewHeld(); });
  }
}

JobLeases::~JobLeases() { Stop(/*release=*/false); }

bool JobLeases::Acquire(const std::string& job) {
  const int64_t now_ns = options_.clock->NowNanos();
  auto lease = catalog_->AcquireLease(job, options_.holder, now_ns, options_.ttl_ns);
  MutexLock lock(&mu_);
  if (!lease.ok()) {
    Metrics().errors->Increment();
    if (failures_[job]++ == 0) {
      spdlog::warn(
          "job {}: cannot claim its lease in the catalog ({}); rounds are skipped until "
          "it can",
          job, lease.status().ToString());
    }
    // A lease that cannot be renewed may have expired: not ours to act on any more.
    held_.erase(job);
    SetHeldGauge(job, false);
    return false;
  }
  failures_[job] = 0;
  const bool mine = lease->holder == options_.holder;
  auto it = held_.find(job);
  if (it != held_.end() && (!mine || lease->epoch != it->second)) {
    Metrics().lost->Increment();
    spdlog::error(
        "job {}: this node's lease (epoch {}) was taken by {} (epoch {}): it was not "
        "renewed within {} ms; the job runs there now",
        job, it->second, lease->holder, lease->epoch, options_.ttl_ns / kNanosPerMilli);
    held_.erase(it);
  }
  if (mine) {
    if (held_.find(job) == held_.end() && !IsPartitionLease(job)) {
      spdlog::info("job {}: lease taken by this node (epoch {})", job, lease->epoch);
    }
    held_[job] = lease->epoch;
    renewed_ns_[job] = now_ns;
  }
  SetHeldGauge(job, mine);
  return mine;
}

bool JobLeases::Claim(std::string_view job) {
  {
    MutexLock lock(&mu_);
    if (stopped_) return false;
  }
  const std::string name(job);
  if (!Acquire(name)) return false;
  MutexLock lock(&mu_);
  claimed_[name] = held_[name];
  return true;
}

bool JobLeases::StillHeld(std::string_view job) {
  const std::string name(job);
  uint64_t claimed = 0;
  {
    MutexLock lock(&mu_);
    if (stopped_) return false;  // the leases are being given up
    auto c = claimed_.find(job);
    auto h = held_.find(job);
    // A failed renewal or a lease found taken erased it from held_ (and a later take has
    // another epoch): the break is seen even if the lease came back meanwhile.
    if (c == claimed_.end() || h == held_.end() || h->second != c->second) return false;
    claimed = c->second;
    if (options_.clock->NowNanos() - renewed_ns_[name] < options_.ttl_ns / 2) return true;
  }
  // Not renewed lately: renew it now, so the commit that follows has half a ttl at least.
  if (!Acquire(name)) return false;
  return Epoch(job) == claimed;
}

uint64_t JobLeases::Epoch(std::string_view job) const {
  MutexLock lock(&mu_);
  auto it = held_.find(job);
  return it == held_.end() ? 0 : it->second;
}

std::vector<std::string> JobLeases::ClaimSome(const std::vector<std::string>& names, size_t max) {
  {
    MutexLock lock(&mu_);
    if (stopped_) return {};
  }
  const int64_t now_ns = options_.clock->NowNanos();
  auto leases = catalog_->AcquireLeases(names, options_.holder, now_ns, options_.ttl_ns, max);
  MutexLock lock(&mu_);
  if (!leases.ok()) {
    Metrics().errors->Increment();
    if (claim_failures_++ == 0) {
      spdlog::warn(
          "jobs: cannot claim partition leases in the catalog ({}); their rounds do nothing "
          "until it can",
          leases.status().ToString());
    }
    return {};
  }
  claim_failures_ = 0;
  std::vector<std::string> got;
  for (const catalog::LeaseRow& lease : *leases) {
    auto it = held_.find(lease.name);
    if (it != held_.end() && it->second != lease.epoch) {
      // Held before at another epoch: it was lost (and is taken anew now), so a round that
      // claimed it then must not commit (StillHeld compares the claimed epoch).
      Metrics().lost->Increment();
    }
    held_[lease.name] = lease.epoch;
    claimed_[lease.name] = lease.epoch;
    renewed_ns_[lease.name] = now_ns;
    ++rounds_[lease.name];
    got.push_back(lease.name);
  }
  return got;
}

void JobLeases::ReleaseSome(const std::vector<std::string>& names) {
  MutexLock renewing(&renew_mu_);
  std::vector<std::string> held;
  {
    MutexLock lock(&mu_);
    if (stopped_) return;  // Stop gave up every lease
    for (const std::string& name : names) {
      // Another round of this node (an admin's beside the background one) still works under
      // it: kept until the last lets go.
      auto r = rounds_.find(name);
      if (r != rounds_.end() && --r->second > 0) continue;
      if (r != rounds_.end()) rounds_.erase(r);
      if (held_.erase(name) > 0) held.push_back(name);
      claimed_.erase(name);
      renewed_ns_.erase(name);
      failures_.erase(name);
    }
  }
  for (const std::string& name : held) {
    // A release that fails leaves the lease to expire after the ttl: only a delay.
    if (Status s = catalog_->ReleaseLease(name, options_.holder); !s.ok()) {
      spdlog::debug("job {}: cannot release the lease ({}); it expires after the ttl", name,
                    s.ToString());
    }
  }
}

std::optional<catalog::LeaseFence> JobLeases::Fence(std::string_view job) const {
  MutexLock lock(&mu_);
  auto c = claimed_.find(job);
  auto h = held_.find(job);
  if (c == claimed_.end() || h == held_.end() || h->second != c->second) return std::nullopt;
  return catalog::LeaseFence{std::string(job), options_.holder, c->second};
}

void JobLeases::RenewHeld() {
  MutexLock renewing(&renew_mu_);
  std::vector<std::string> jobs;
  {
    MutexLock lock(&mu_);
    for (const auto& [job, epoch] : held_) jobs.push_back(job);
  }
  for (const std::string& job : jobs) Acquire(job);
}

void JobLeases::Stop(bool release) {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  renewal_.Stop();
  if (!release) return;
  std::vector<std::string> jobs;
  {
    MutexLock lock(&mu_);
    for (const auto& [job, epoch] : held_) jobs.push_back(job);
    held_.clear();
    rounds_.clear();
  }
  for (const std::string& job : jobs) {
    if (Status s = catalog_->ReleaseLease(job, options_.holder); !s.ok()) {
      spdlog::warn(
          "job {}: cannot release its lease on shutdown ({}); another node takes it "
          "after {} ms",
          job, s.ToString(), options_.ttl_ns / kNanosPerMilli);
    }
    SetHeldGauge(job, false);
  }
}

}  // namespace sawmill::cluster
