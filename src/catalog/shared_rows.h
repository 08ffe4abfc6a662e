// What the SQLite and PostgreSQL catalogs do alike, written once: the text form of a token's
// tenants, the arguments a lease request is refused for, the lease decision, a checked setting
// change's comparison, and how a list of segment changes becomes an answer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "sawmill/status.h"

namespace sawmill::catalog {

// A token's tenants in the column api_tokens.tenants: the names joined with ',' in order
// (tenant names hold no ',': http/api_routes.h TenantFromHeader).
inline std::string JoinTenants(const std::vector<std::string>& tenants) {
  std::string out;
  for (const std::string& t : tenants) out += (out.empty() ? "" : ",") + t;
  return out;
}

inline std::vector<std::string> SplitTenants(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    if (end > pos) out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// What AcquireLease refuses (InvalidArgument) on every catalog: an empty holder (it would
// "hold" a lease every other node takes as free) and a time to live that is not positive.
inline Status CheckLeaseRequest(std::string_view holder, int64_t ttl_ns) {
  if (holder.empty()) return Status::InvalidArgument("lease: the holder is empty");
  if (ttl_ns <= 0) {
    return Status::InvalidArgument("lease: the time to live " + std::to_string(ttl_ns) +
                                   " ns is not positive");
  }
  return Status::OK();
}

// What AcquireLeases refuses besides (InvalidArgument): too many names, a name twice, max 0.
inline Status CheckLeasesRequest(const std::vector<std::string>& names, std::string_view holder,
                                 int64_t ttl_ns, size_t max) {
  RETURN_IF_ERROR(CheckLeaseRequest(holder, ttl_ns));
  if (max == 0) return Status::InvalidArgument("leases: max is 0");
  if (names.size() > kMaxLeasesPerCall) {
    return Status::InvalidArgument("leases: " + std::to_string(names.size()) +
                                   " names in one call, at most " +
                                   std::to_string(kMaxLeasesPerCall));
  }
  std::set<std::string_view> seen;
  for (const std::string& name : names) {
    if (name.empty()) return Status::InvalidArgument("leases: a name is empty");
    if (!seen.insert(name).second) {
      return Status::InvalidArgument("leases: the name " + name + " is given twice");
    }
  }
  return Status::OK();
}

// The fence of Replace (catalog.h LeaseFence), on the lease as stored (nullopt: no such row):
// OK when it holds, else FailedPrecondition naming the catalog ("catalog X"), the lease, its
// holder and epoch.
inline Status CheckLeaseFence(const LeaseFence& fence, const std::optional<LeaseRow>& lease,
                              const std::string& catalog) {
  if (lease && lease->holder == fence.holder && lease->epoch == fence.epoch) return Status::OK();
  std::string now = !lease                  ? "does not exist"
                    : lease->holder.empty() ? "is free (epoch " + std::to_string(lease->epoch) + ")"
                                            : "is held by " + lease->holder + " (epoch " +
                                                  std::to_string(lease->epoch) + ")";
  return Status::FailedPrecondition(
      catalog + ": the lease " + fence.name + " " + now + ", not by " + fence.holder + " (epoch " +
      std::to_string(fence.epoch) + "): " + std::string(kLeaseFenceRefused) +
      " (the job was taken over or given up)");
}

// The refusal of a registration (Replace, Insert, RegisterSegment) of "row", whose object the
// segment sweep recorded as swept (catalog.h SweepSegmentObjects): it is deleted, or about to be.
inline Status SweptObject(const SegmentRow& row, const std::string& catalog) {
  return Status::FailedPrecondition(
      catalog + ": segment " + std::to_string(row.id) + " names " + row.store + " object " +
      row.path +
      ", which the segment sweep found named by no row for its whole grace and deletes: its "
      "upload is not registered (write it again)");
}

// ChangeSettingIf's comparison, in its transaction: the settings "now" must be exactly
// "expected", and every node row "now" (id -> started_ns) an incarnation of "registered" (rows
// gone since are no concern: a node that left runs nothing).
inline Status CheckSettingsAsSeen(const std::string& catalog,
                                  const std::map<std::string, uint64_t>& expected,
                                  const std::map<std::string, uint64_t>& now,
                                  const std::map<std::string, int64_t>& registered,
                                  const std::map<std::string, int64_t>& nodes) {
  if (now != expected) {
    return Status::FailedPrecondition(
        catalog + ": the cluster-wide settings changed meanwhile; run it again");
  }
  std::string meanwhile;
  for (const auto& [id, started_ns] : nodes) {
    auto seen = registered.find(id);
    if (seen == registered.end() || seen->second != started_ns) {
      meanwhile += (meanwhile.empty() ? "" : ", ") + id;
    }
  }
  if (meanwhile.empty()) return Status::OK();
  return Status::FailedPrecondition(
      catalog + ": a node registered meanwhile (" + meanwhile +
      "), unseen by the check of the change, and may run the old value; run it again");
}

// The lease decision of AcquireLease, on the row as stored ("lease"): when "holder" may take or
// renew it, updates "lease" (a new holder gets the next epoch; the expiry moves to now + ttl)
// and returns true; when another holds it unexpired, leaves it and returns false.
inline bool TakeLease(LeaseRow* lease, std::string_view holder, int64_t now_ns, int64_t ttl_ns) {
  const bool mine = !lease->holder.empty() && lease->holder == holder;
  const bool free = lease->holder.empty() || lease->expires_ns <= now_ns;
  if (!mine && !free) return false;
  if (!mine) {
    lease->holder = std::string(holder);
    ++lease->epoch;
  }
  lease->expires_ns = now_ns + ttl_ns;
  return true;
}

// ClaimWalObjects' refusal (catalog.h "to_generation"): claimer "to" was taken over since it
// last read its generation.
inline Status ClaimerTakenOver(std::string_view to, uint64_t now, uint64_t known) {
  return Status::FailedPrecondition(
      "node " + std::string(to) + " claims nothing: another node took over its WAL objects since " +
      "it last read its takeover generation (" + std::to_string(known) + ", now " +
      std::to_string(now) + "), so its memtables may still hold their rows");
}

// ListSegmentChanges (catalog.h): the changes after "after", read in change order with the
// segment each names as it is now (nullopt: it is gone), become an answer. Ids are never reused,
// so a segment once gone stays gone.
class SegmentChangeCollector {
 public:
  void Add(uint64_t change, uint64_t id, std::optional<SegmentView> now) {
    last_ = std::max(last_, change);
    if (now) {
      present_[id] = std::move(*now);
    } else {
      present_.erase(id);
      removed_.insert(id);
    }
  }
  // "after": where the caller asked from (the answer's "last" when nothing changed); "more":
  // the limit was reached.
  SegmentChanges Finish(uint64_t after, bool more) {
    SegmentChanges out;
    out.last = std::max(last_, after);
    out.more = more;
    for (auto& [id, view] : present_) out.segments.push_back(std::move(view));
    out.removed.assign(removed_.begin(), removed_.end());
    return out;
  }

 private:
  uint64_t last_ = 0;
  std::map<uint64_t, SegmentView> present_;
  std::set<uint64_t> removed_;
};

}  // namespace sawmill::catalog
