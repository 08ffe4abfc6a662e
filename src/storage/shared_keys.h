// Idempotency-Keys across the nodes of a cluster (docs/cluster.md "Idempotency-Keys across
// nodes"): a cluster node claims a batch's key in the shared catalog (Catalog::
// ClaimIdempotencyKey) before it stores the batch, and records the answer there once the batch is
// acknowledged, so that a retry sent to any other node finds the first answer instead of storing
// the lines again. The node's own table (IdempotencyKeys) still answers for its own batches
// first; this is consulted when that table does not know the key. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "sawmill/status.h"
#include "storage/engine.h"

namespace sawmill::storage {

struct SharedKeysOptions {
  std::string node;
  int64_t incarnation = 0;  // NodeRow::started_ns of this run (cluster::NodeRegistry)
  int64_t window_ns = 0;    // the idempotency window
  // How long a batch waits while another node holds the claim on its key.
  int64_t claim_wait_ns = 15 * kNanosPerSecond;
  // A node whose heartbeat is older than this is gone, as the node registry judges it (its
  // node_timeout): its pending claim may be taken once none of its WAL objects is unreplayed
  // (Catalog::ClaimIdempotencyKey has the rule).
  int64_t gone_after_ns = 10 * kNanosPerSecond;
  // Housekeeping (TrimNow): every trim_interval_ns (0: never), on the node holding the job lease
  // "idempotency_claims", rows older than the window go, and done rows past the newest
  // max_done.
  int64_t trim_interval_ns = 0;
  uint64_t max_done = 1'000'000;
};

class SharedIdempotencyKeys {
 public:
  // "catalog" and "clock" must outlive this.
  SharedIdempotencyKeys(catalog::Catalog* catalog, Clock* clock, SharedKeysOptions options);

  // Claims "key" of "tenant" for a batch this node is about to store. When another node holds
  // the claim, waits (polling) up to claim_wait for it to end. Errors: AlreadyExists when the
  // key's batch is stored (Find then has its answer); Unavailable when another node is still
  // storing it after the wait, or the catalog fails (nothing was stored: retry).
  Result<catalog::IdempotencyClaimRow> Claim(std::string_view tenant, const IdempotencyKey& key,
                                             int64_t now_ns);
  // The claimed batch is acknowledged: records "stored" (first_seq, count, created_ns) as its
  // answer. A catalog failure is retried later (at the next call of this class).
  void Complete(catalog::IdempotencyClaimRow claim, const IdempotencyKey& stored);
  // The claimed batch failed: frees the key.
  void Release(const catalog::IdempotencyClaimRow& claim);
  // A batch replayed from a WAL object (a takeover, or this node's restart) carried "key":
  // it is stored, whoever claimed the key since.
  void Adopted(std::string_view tenant, const IdempotencyKey& key);
  // After this node replayed its own WAL objects at start: frees the claims its earlier
  // incarnations held for batches they never acknowledged.
  void ReleaseEarlierIncarnations();
  // The stored batch of "key", from the catalog (another node's), within the window.
  std::optional<IdempotencyKey> Find(std::string_view tenant, std::string_view key, int64_t now_ns);
  // One housekeeping round now (the periodic one asks for the job lease first): deletes the
  // claims older than the window and the oldest done ones past max_done, logged and counted
  // (sawmill_idempotency_claims_trimmed_total{reason}). Returns {expired, evicted}.
  Result<std::pair<uint64_t, uint64_t>> TrimNow();

 private:
  struct Unfinished {
    catalog::IdempotencyClaimRow row;
    bool adopted = false;
  };
  // Records "row" done; on failure keeps it for RetryUnfinished.
  void Finish(catalog::IdempotencyClaimRow row, bool adopted);
  void RetryUnfinished();

  catalog::Catalog* const catalog_;
  Clock* const clock_;
  const SharedKeysOptions options_;
  Mutex mu_;
  std::vector<Unfinished> unfinished_ GUARDED_BY(mu_);
  PeriodicWorker trim_;  // declared last: stops first
};

}  // namespace sawmill::storage
