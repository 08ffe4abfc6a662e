#include "storage/job_gate.h"

#include <spdlog/spdlog.h>

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

// The round this thread runs: its job ("" outside a round) and whether it lost its lease.
struct ThisRound {
  std::string job;
  bool lost = false;
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

}  // namespace

void SetJobGate(std::function<bool(std::string_view job)> gate) { Set(&Gate(), std::move(gate)); }

bool MayRunJob(std::string_view job) {
  std::shared_ptr<const JobPredicate> gate = Get(Gate());
  return gate == nullptr || (*gate)(job);
}

void SetJobLeaseCheck(std::function<bool(std::string_view job)> still_held) {
  Set(&LeaseCheck(), std::move(still_held));
}

JobRound::JobRound(std::string_view job) {
  AbandonedRounds();
  this_round = ThisRound{std::string(job), false};
}

JobRound::~JobRound() { this_round = ThisRound{}; }

Status StillHoldingJobLease() {
  if (this_round.job.empty()) return Status::OK();
  const std::string lost = "the " + this_round.job +
                           " round lost its lease (a renewal failed or another node took it): "
                           "abandoned before its commit";
  if (this_round.lost) return Status::FailedPrecondition(lost);
  std::shared_ptr<const JobPredicate> check = Get(LeaseCheck());
  if (check == nullptr || (*check)(this_round.job)) return Status::OK();
  this_round.lost = true;
  AbandonedRounds().Add({{"job", this_round.job}}).Increment();
  spdlog::warn(
      "job {}: this node lost the lease while its round ran; the round is abandoned "
      "before its commit (the node holding the lease now runs the job)",
      this_round.job);
  return Status::FailedPrecondition(lost);
}

}  // namespace sawmill::storage
