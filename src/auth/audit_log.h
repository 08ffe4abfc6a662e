// The audit log (docs/security.md, "Audit log"): one entry per search, context, tail session,
// export and admin action, in the catalog. Append-only and hash-chained: each entry carries the
// SHA-256 of the previous entry's hash and its own fields, so an entry removed from the middle or
// edited anywhere is found by Verify (`sawmill admin audit verify`). Retention removes a prefix
// only, and records the last removed entry as the chain's anchor. Thread-safe: appends are
// serialised so the chain has one order; the catalog serialises them across the nodes that share
// it (Catalog::AppendAuditChained), so a cluster has one chain, not one per node.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "sawmill/status.h"

namespace sawmill::auth {

// The hash of "row": SHA-256 over its prev_hash and every other field but "hash", each written
// with its length so that no two different rows serialise alike.
std::string AuditHash(const catalog::AuditRow& row);

// The problems of a chain that starts after "anchor" (rows in seq order): missing entries (a gap
// in seq or a prev_hash that is not the previous entry's hash) and edited ones (a hash that
// does not match the fields). Empty when the chain is intact.
std::vector<std::string> VerifyAuditChain(const catalog::AuditAnchor& anchor,
                                          const std::vector<catalog::AuditRow>& rows,
                                          std::string* last_hash, uint64_t* last_seq);

struct AuditVerification {
  uint64_t entries = 0;
  uint64_t first_seq = 0, last_seq = 0;
  std::vector<std::string> problems;  // empty: intact (at most 100 listed)
};

class AuditLog {
 public:
  // "catalog" must outlive the log.
  static Result<std::unique_ptr<AuditLog>> Open(catalog::Catalog* catalog, Clock* clock);

  // Appends "row" at the head of the catalog's chain (which other nodes may have extended since
  // this one's last append): fills seq, at_ns (when 0), prev_hash and hash. Errors: catalog
  // errors.
  Status Append(catalog::AuditRow row);
  Result<std::vector<catalog::AuditRow>> List(const catalog::AuditFilter& filter) const;
  // Walks the whole chain from the anchor; also reports entries missing at the end when this
  // process appended further than the catalog now holds.
  Result<AuditVerification> Verify() const;
  // Removes the entries written before "before_ns" (the audit log's own retention); returns
  // how many.
  Result<uint64_t> Prune(int64_t before_ns);

 private:
  AuditLog(catalog::Catalog* catalog, Clock* clock) : catalog_(catalog), clock_(clock) {}

  catalog::Catalog* const catalog_;
  Clock* const clock_;
  mutable Mutex mu_;
  uint64_t last_seq_ GUARDED_BY(mu_) = 0;  // the highest seq this process appended (or found)
  std::string last_hash_ GUARDED_BY(mu_);
};

}  // namespace sawmill::auth
