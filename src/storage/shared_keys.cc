#include "storage/shared_keys.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <thread>
#include <utility>

#include "common/metrics.h"
#include "storage/job_gate.h"

namespace sawmill::storage {
namespace {

// At most this many completions wait for a retry; past it the oldest is dropped (logged,
// counted): its key then looks pending to other nodes until this node restarts or the window
// ends, so retries elsewhere get 503, never a second copy.
constexpr size_t kMaxUnfinished = 10'000;

struct ClaimMetrics {
  prometheus::Counter* claimed;
  prometheus::Counter* used;
  prometheus::Counter* busy;
  prometheus::Counter* record_failed;
  prometheus::Counter* expired;
  prometheus::Counter* evicted;

  static ClaimMetrics& Get() {
    static ClaimMetrics m = [] {
      auto& family =
          prometheus::BuildCounter()
              .Name("sawmill_idempotency_claims_total")
              .Help(
                  "Idempotency-Key claims in the shared catalog (cluster nodes): outcome="
                  "claimed (this node stores the batch), used (the key's batch was stored, "
                  "maybe by another node: its first answer is returned), busy (another node "
                  "was still storing it after the wait: 503, nothing stored), record_failed "
                  "(the answer of a stored batch could not be written to the catalog yet; "
                  "retried)")
              .Register(MetricsRegistry());
      ClaimMetrics c;
      c.claimed = &family.Add({{"outcome", "claimed"}});
      c.used = &family.Add({{"outcome", "used"}});
      c.busy = &family.Add({{"outcome", "busy"}});
      c.record_failed = &family.Add({{"outcome", "record_failed"}});
      auto& trimmed =
          prometheus::BuildCounter()
              .Name("sawmill_idempotency_claims_trimmed_total")
              .Help(
                  "Idempotency-Key claims deleted from the shared catalog by the housekeeping "
                  "round: reason=expired (older than idempotency_window), capacity (answered "
                  "keys past idempotency_max_keys, oldest first: a retry of their batch would "
                  "be stored again)")
              .Register(MetricsRegistry());
      c.expired = &trimmed.Add({{"reason", "expired"}});
      c.evicted = &trimmed.Add({{"reason", "capacity"}});
      return c;
    }();
    return m;
  }
};

bool Mine(const catalog::IdempotencyClaimRow& row, const catalog::IdempotencyClaimRow& claim) {
  return row.state == catalog::kIdempotencyPending && row.node == claim.node &&
         row.node_started_ns == claim.node_started_ns && row.created_ns == claim.created_ns;
}

}  // namespace

SharedIdempotencyKeys::SharedIdempotencyKeys(catalog::Catalog* catalog, Clock* clock,
                                             SharedKeysOptions options)
    : catalog_(catalog), clock_(clock), options_(std::move(options)) {
  ClaimMetrics::Get();
  if (options_.trim_interval_ns > 0) {
    trim_.Start(options_.trim_interval_ns, [this] {
      // One node of the cluster at a time: the one holding the job's lease.
      if (!MayRunJob("idempotency_claims")) return;
      auto trimmed = TrimNow();
      if (!trimmed.ok()) {
        spdlog::warn("idempotency: trimming the shared claims failed (retried next round): {}",
                     trimmed.status().ToString());
      }
    });
  }
}

Result<std::pair<uint64_t, uint64_t>> SharedIdempotencyKeys::TrimNow() {
  const int64_t now = clock_->NowNanos();
  ASSIGN_OR_RETURN(auto trimmed,
                   catalog_->TrimIdempotencyClaims(now - options_.window_ns, options_.max_done));
  auto& m = ClaimMetrics::Get();
  m.expired->Increment(static_cast<double>(trimmed.first));
  m.evicted->Increment(static_cast<double>(trimmed.second));
  if (trimmed.second > 0) {
    spdlog::warn(
        "idempotency: {} answered keys younger than the {} s window forgotten across the cluster "
        "because more than {} are kept (oldest first); a retry of their batches would be "
        "stored again: raise idempotency_max_keys",
        trimmed.second, options_.window_ns / kNanosPerSecond, options_.max_done);
  }
  return trimmed;
}

Result<catalog::IdempotencyClaimRow> SharedIdempotencyKeys::Claim(std::string_view tenant,
                                                                  const IdempotencyKey& key,
                                                                  int64_t now_ns) {
  RetryUnfinished();
  catalog::IdempotencyClaimRow claim;
  claim.tenant = std::string(tenant);
  claim.key = key.key;
  claim.body_hash = key.body_hash;
  claim.node = options_.node;
  claim.node_started_ns = options_.incarnation;
  claim.state = std::string(catalog::kIdempotencyPending);
  claim.created_ns = now_ns;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.claim_wait_ns);
  while (true) {
    const int64_t now = clock_->NowNanos();
    auto got = catalog_->ClaimIdempotencyKey(claim, now - options_.window_ns,
                                             now - options_.gone_after_ns);
    if (!got.ok()) {
      return Status::Unavailable("the Idempotency-Key could not be checked across nodes: " +
                                 got.status().ToString());
    }
    if (Mine(*got, claim)) {
      ClaimMetrics::Get().claimed->Increment();
      return claim;
    }
    if (got->state == catalog::kIdempotencyDone) {
      return Status::AlreadyExists("this Idempotency-Key was already used (node " + got->node +
                                   ")");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ClaimMetrics::Get().busy->Increment();
      return Status::Unavailable("a batch with this Idempotency-Key is being stored by node " +
                                 got->node + "; retry with the same key");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void SharedIdempotencyKeys::Complete(catalog::IdempotencyClaimRow claim,
                                     const IdempotencyKey& stored) {
  claim.answer = stored.answer;
  claim.first_seq = stored.first_seq;
  claim.count = stored.count;
  Finish(std::move(claim), /*adopted=*/false);
}

void SharedIdempotencyKeys::Release(const catalog::IdempotencyClaimRow& claim) {
  Status s = catalog_->ReleaseIdempotencyKey(claim);
  if (!s.ok()) {
    // The key stays pending under this incarnation: other nodes answer 503 for it until this
    // node restarts (ReleaseEarlierIncarnations) or the window ends; nothing is stored twice.
    spdlog::warn(
        "idempotency: could not free the claim on key '{}' of tenant '{}' after its "
        "batch failed: {}",
        claim.key, claim.tenant, s.ToString());
  }
}

void SharedIdempotencyKeys::Adopted(std::string_view tenant, const IdempotencyKey& key) {
  catalog::IdempotencyClaimRow row;
  row.tenant = std::string(tenant);
  row.key = key.key;
  row.body_hash = key.body_hash;
  row.node = options_.node;
  row.node_started_ns = options_.incarnation;
  row.answer = key.answer;
  row.first_seq = key.first_seq;
  row.count = key.count;
  row.created_ns = key.created_ns;
  Finish(std::move(row), /*adopted=*/true);
}

void SharedIdempotencyKeys::ReleaseEarlierIncarnations() {
  auto released = catalog_->ReleaseIdempotencyClaimsOf(options_.node, options_.incarnation);
  if (!released.ok()) {
    spdlog::warn("idempotency: could not free the claims of this node's earlier runs: {}",
                 released.status().ToString());
  } else if (*released > 0) {
    spdlog::info(
        "idempotency: freed {} claims on keys whose batches this node's earlier run "
        "never acknowledged",
        *released);
  }
}

std::optional<IdempotencyKey> SharedIdempotencyKeys::Find(std::string_view tenant,
                                                          std::string_view key, int64_t now_ns) {
  RetryUnfinished();
  auto row = catalog_->GetIdempotencyKey(tenant, key);
  if (!row.ok() || !row->has_value()) return std::nullopt;  // a failure surfaces at the claim
  const catalog::IdempotencyClaimRow& r = **row;
  if (r.state != catalog::kIdempotencyDone || r.created_ns < now_ns - options_.window_ns) {
    return std::nullopt;
  }
  ClaimMetrics::Get().used->Increment();
  return IdempotencyKey{r.key, r.body_hash, r.answer, r.first_seq, r.count, r.created_ns};
}

void SharedIdempotencyKeys::Finish(catalog::IdempotencyClaimRow row, bool adopted) {
  // With the trim round on, nothing is expired here: one statement, one round trip.
  const int64_t expire_before =
      options_.trim_interval_ns > 0 ? 0 : clock_->NowNanos() - options_.window_ns;
  Status s = catalog_->CompleteIdempotencyKey(row, adopted, expire_before);
  if (s.ok()) return;
  if (s.code() == StatusCode::kFailedPrecondition) {
    // The claim was taken from this node (it was judged dead): nothing to record.
    spdlog::error("idempotency: {}", s.ToString());
    return;
  }
  ClaimMetrics::Get().record_failed->Increment();
  spdlog::warn(
      "idempotency: could not record the answer of key '{}' of tenant '{}' in the "
      "catalog (retried): {}",
      row.key, row.tenant, s.ToString());
  MutexLock l(&mu_);
  if (unfinished_.size() >= kMaxUnfinished) {
    spdlog::error(
        "idempotency: {} answers wait to be recorded; the oldest (key '{}') is "
        "dropped: other nodes answer 503 for it until this node restarts",
        unfinished_.size(), unfinished_.front().row.key);
    unfinished_.erase(unfinished_.begin());
  }
  unfinished_.push_back({std::move(row), adopted});
}

void SharedIdempotencyKeys::RetryUnfinished() {
  // A few at a time, so that a catalog still failing does not hold a request up for long.
  constexpr size_t kPerCall = 16;
  std::vector<Unfinished> retry;
  {
    MutexLock l(&mu_);
    if (unfinished_.empty()) return;
    const size_t n = std::min(kPerCall, unfinished_.size());
    retry.assign(std::make_move_iterator(unfinished_.begin()),
                 std::make_move_iterator(unfinished_.begin() + static_cast<ptrdiff_t>(n)));
    unfinished_.erase(unfinished_.begin(), unfinished_.begin() + static_cast<ptrdiff_t>(n));
  }
  for (Unfinished& u : retry) Finish(std::move(u.row), u.adopted);
}

}  // namespace sawmill::storage
