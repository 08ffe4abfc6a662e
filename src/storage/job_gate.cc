#include "storage/job_gate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "common/metrics.h"

namespace sawmill::storage {
namespace {

using JobPredicate = std::function<bool(std::string_view)>;

std::mutex& GateMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}

std::shared_ptr<const JobPredicate>& Gate() {
  static auto* gate = new std::shared_ptr<const JobPredicate>();
  return *gate;
}

std::shared_ptr<const JobPredicate>& LeaseCheck() {
  static auto* check = new std::shared_ptr<const JobPredicate>();
  return *check;
}

void Set(std::shared_ptr<const JobPredicate>* slot, JobPredicate predicate) {
  auto next = predicate ? std::make_shared<const JobPredicate>(std::move(predicate)) : nullptr;
  std::lock_guard<std::mutex> lock(GateMutex());
  *slot = std::move(next);
}

std::shared_ptr<const JobPredicate> Get(const std::shared_ptr<const JobPredicate>& slot) {
  std::lock_guard<std::mutex> lock(GateMutex());
  return slot;
}

using LeasesGetter = std::function<PartitionLeases*()>;

std::shared_ptr<const LeasesGetter>& Leases() {
  static auto* leases = new std::shared_ptr<const LeasesGetter>();
  return *leases;
}

// The round this thread runs: its job ("" outside a round) and whether it lost its lease; for
// a per-partition round, its leases (null with "gated": none yet), the partition leases it
// holds and those it lost.
struct ThisRound {
  std::string job;
  bool lost = false;
  bool per_partition = false;
  bool gated = false;
  PartitionLeases* leases = nullptr;
  std::set<std::string, std::less<>> claimed;
  std::set<std::string, std::less<>> lost_leases;
};
thread_local ThisRound this_round;

prometheus::Family<prometheus::Counter>& AbandonedRounds() {
  static auto& family = prometheus::BuildCounter()
                            .Name("sawmill_job_rounds_abandoned_total")
                            .Help(
                                "Rounds of a background job (compaction, tiers, retention) "
                                "abandoned before a commit step because this node lost the "
                                "job's lease while the round ran")
                            .Register(MetricsRegistry());
  return family;
}

using CommitFn = std::function<Status(const catalog::LeaseFence* fence)>;
using MaybeFence = std::optional<catalog::LeaseFence>;

// The commit step of both kinds of round: the round's check that it still holds its lease, then
// the fence "fence_of" answers (nullopt: nothing to fence, outside a round or without leases;
// an error: the round holds no claim, which fence_of has noted as lost), the commit under it,
// and "lose" when the catalog refused the commit for that fence.
Status CommitFenced(Status check, const std::function<Result<MaybeFence>()>& fence_of,
                    const std::function<void(const std::string& why)>& lose,
                    const CommitFn& commit) {
  RETURN_IF_ERROR(check);
  ASSIGN_OR_RETURN(MaybeFence fence, fence_of());
  Status s = commit(fence ? &*fence : nullptr);
  if (fence && catalog::IsLeaseFenceRefusal(s)) {
    lose("the catalog refused the commit: " + s.ToString());
  }
  return s;
}

}  // namespace

void SetJobGate(std::function<bool(std::string_view job)> gate) { Set(&Gate(), std::move(gate)); }

bool MayRunJob(std::string_view job) {
  std::shared_ptr<const JobPredicate> gate = Get(Gate());
  return gate == nullptr || (*gate)(job);
}

void SetJobLeaseCheck(std::function<bool(std::string_view job)> still_held) {
  Set(&LeaseCheck(), std::move(still_held));
}

namespace {

// The round lost partition lease "name": noted, logged and counted once; "why" says how.
Status LosePartitionLease(std::string_view name, const std::string& why) {
  const std::string lost = "the " + this_round.job + " round lost its lease " + std::string(name) +
                           " (" + why + "): abandoned before its commit";
  if (this_round.lost_leases.insert(std::string(name)).second) {
    AbandonedRounds().Add({{"job", this_round.job}}).Increment();
    spdlog::warn(
        "job {}: this node lost the lease {} while its round ran ({}); the work on it is "
        "abandoned before its commit (the node holding the lease now does it)",
        this_round.job, name, why);
  }
  return Status::FailedPrecondition(lost);
}

}  // namespace

std::string PartitionJobLease(std::string_view job, std::string_view tenant, uint32_t partition) {
  // FNV-1a, 64 bits, over the tenant, a 0 byte and the partition's 4 bytes (little end first):
  // fixed here, since every node must name the same slot.
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](uint8_t byte) {
    h ^= byte;
    h *= 1099511628211ull;
  };
  for (char c : tenant) mix(static_cast<uint8_t>(c));
  mix(0);
  for (int i = 0; i < 4; ++i) mix(static_cast<uint8_t>(partition >> (8 * i)));
  return std::string(job) + "/" + std::to_string(h % kPartitionJobSlots);
}

void SetPartitionLeases(std::function<PartitionLeases*()> leases) {
  auto next = leases ? std::make_shared<const LeasesGetter>(std::move(leases)) : nullptr;
  std::lock_guard<std::mutex> lock(GateMutex());
  Leases() = std::move(next);
}

JobRound::JobRound(std::string_view job) {
  AbandonedRounds();
  this_round = ThisRound{};
  this_round.job = std::string(job);
}

JobRound::JobRound(std::string_view job, PerPartition, PartitionLeases* leases) {
  AbandonedRounds();
  this_round = ThisRound{};
  this_round.job = std::string(job);
  this_round.per_partition = true;
  if (leases != nullptr) {
    this_round.gated = true;
    this_round.leases = leases;
    return;
  }
  std::shared_ptr<const LeasesGetter> get;
  {
    std::lock_guard<std::mutex> lock(GateMutex());
    get = Leases();
  }
  if (get != nullptr) {
    this_round.gated = true;
    this_round.leases = (*get)();
  }
}

JobRound::~JobRound() {
  if (this_round.leases != nullptr && !this_round.claimed.empty()) {
    this_round.leases->ReleaseSome(
        std::vector<std::string>(this_round.claimed.begin(), this_round.claimed.end()));
  }
  this_round = ThisRound{};
}

std::vector<std::string> ClaimPartitionJobs(const std::vector<std::string>& names, size_t max) {
  if (!this_round.per_partition || !this_round.gated) {
    return std::vector<std::string>(names.begin(), names.begin() + std::min(max, names.size()));
  }
  if (this_round.leases == nullptr || names.empty() || max == 0) return {};
  std::vector<std::string> got = this_round.leases->ClaimSome(names, max);
  std::vector<std::string> again;
  for (const std::string& name : got) {
    // Each claim is matched by one release (PartitionLeases counts the rounds under a lease):
    // a name this round holds already is given back once now, so its end releases it once.
    if (!this_round.claimed.insert(name).second) again.push_back(name);
    this_round.lost_leases.erase(name);  // claimed anew: a new epoch
  }
  if (!again.empty()) this_round.leases->ReleaseSome(again);
  return got;
}

bool ClaimingPartitionJobs() { return this_round.per_partition && this_round.gated; }

void ReleasePartitionJobs(const std::vector<std::string>& names) {
  if (this_round.leases == nullptr) return;
  std::vector<std::string> held;
  for (const std::string& name : names) {
    if (this_round.claimed.erase(name) > 0) held.push_back(name);
  }
  if (!held.empty()) this_round.leases->ReleaseSome(held);
}

Status StillHoldingJobLease(std::string_view name) {
  if (!this_round.per_partition || this_round.leases == nullptr) return Status::OK();
  if (this_round.lost_leases.count(name) > 0) {
    return LosePartitionLease(name, "lost earlier in the round");
  }
  if (this_round.leases->StillHeld(name)) return Status::OK();
  return LosePartitionLease(name, "a renewal failed or another node took it");
}

Status CommitUnderJobLease(std::string_view name, const CommitFn& commit) {
  return CommitFenced(
      StillHoldingJobLease(name),
      [name]() -> Result<MaybeFence> {
        if (!this_round.per_partition || this_round.leases == nullptr) return MaybeFence();
        std::optional<catalog::LeaseFence> fence = this_round.leases->Fence(name);
        if (!fence) return LosePartitionLease(name, "this round never claimed it");
        return fence;
      },
      [name](const std::string& why) { (void)LosePartitionLease(name, why); }, commit);
}

namespace {

// The whole-job round lost its lease: noted, logged and counted once.
void LoseJobLease(const std::string& why) {
  if (this_round.lost) return;
  this_round.lost = true;
  AbandonedRounds().Add({{"job", this_round.job}}).Increment();
  spdlog::warn(
      "job {}: this node lost the lease while its round ran ({}); the round is abandoned "
      "before its commit (the node holding the lease now runs the job)",
      this_round.job, why);
}

}  // namespace

Status StillHoldingJobLease() {
  if (this_round.job.empty() || this_round.per_partition) return Status::OK();
  const std::string lost = "the " + this_round.job +
                           " round lost its lease (a renewal failed or another node took it): "
                           "abandoned before its commit";
  if (this_round.lost) return Status::FailedPrecondition(lost);
  std::shared_ptr<const JobPredicate> check = Get(LeaseCheck());
  if (check == nullptr || (*check)(this_round.job)) return Status::OK();
  LoseJobLease("a renewal failed or another node took it");
  return Status::FailedPrecondition(lost);
}

Status CommitUnderJobLease(const CommitFn& commit) {
  return CommitFenced(
      StillHoldingJobLease(),
      []() -> Result<MaybeFence> {
        if (this_round.job.empty() || this_round.per_partition) return MaybeFence();
        std::shared_ptr<const LeasesGetter> get;
        {
          std::lock_guard<std::mutex> lock(GateMutex());
          get = Leases();
        }
        PartitionLeases* leases = get != nullptr ? (*get)() : nullptr;
        if (leases == nullptr) return MaybeFence();
        std::optional<catalog::LeaseFence> fence = leases->Fence(this_round.job);
        if (fence) return fence;
        LoseJobLease("this node holds no claim of it");
        return Status::FailedPrecondition("the " + this_round.job +
                                          " round holds no claim of its lease: abandoned before "
                                          "its commit");
      },
      LoseJobLease, commit);
}

}  // namespace sawmill::storage
