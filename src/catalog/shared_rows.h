// What the SQLite and PostgreSQL catalogs do alike, written once: the text form of a token's
// tenants, the arguments a lease request is refused for, the lease decision, and how a list of
// segment changes becomes an answer.
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
