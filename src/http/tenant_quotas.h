// Per-tenant quota overrides (docs/security.md "Quotas"): every quota has a server-wide default
// (the tenant_* options), which a tenant's entry in the config file's `tenant_quotas` mapping
// overrides, which a value set through the admin API (POST /api/v1/admin/quotas, kept in the
// catalog) overrides in turn, key by key. The ingest quota, the query limiters and the scan quota
// ask the table for a tenant's values on every batch or query, so a change applies at once.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "sawmill/status.h"

namespace sawmill::http {

enum class QuotaKey {
  kIngestLinesPerSec,    // count; 0: none
  kIngestBytesPerSec,    // bytes; 0: none
  kIngestBurst,          // duration (ms): how much of a rate the bucket holds
  kMaxQueries,           // count of concurrent searches and context reads; 0: none
  kMaxTailSessions,      // count of open live-tail sessions; 0: none
  kScannedBytesPerHour,  // bytes read by queries over the last hour; 0: none
  kReaderMaxRange,       // duration (ms): how far back a reader's query may reach; 0: any
};
inline constexpr size_t kQuotaKeys = 7;

enum class QuotaUnit { kCount, kBytes, kDuration };

struct QuotaKeyInfo {
  QuotaKey key;
  std::string_view name;           // as in tenant_quotas and the API: "max_queries"
  std::string_view server_option;  // the server-wide default: "tenant_max_queries"
  QuotaUnit unit;
};
const std::array<QuotaKeyInfo, kQuotaKeys>& QuotaKeyTable();
// Errors: InvalidArgument naming the known keys.
Result<QuotaKey> FindQuotaKey(std::string_view name);
// "value" in the key's syntax (a count, a size such as 1GiB, a duration such as 10s), as a
// number in the key's unit (durations in ms). Errors: InvalidArgument naming "where" and the key.
Result<uint64_t> ParseQuotaValue(QuotaKey key, std::string_view value, std::string_view where);
// The value as the key's syntax reads it back: "4", "1GiB", "10s".
std::string FormatQuotaValue(QuotaKey key, uint64_t value);

// Some keys set (an override), or all of them (the defaults).
struct QuotaValues {
  std::array<std::optional<uint64_t>, kQuotaKeys> values;
  std::optional<uint64_t>& operator[](QuotaKey k) { return values[static_cast<size_t>(k)]; }
  const std::optional<uint64_t>& operator[](QuotaKey k) const {
    return values[static_cast<size_t>(k)];
  }
  bool empty() const;
  // "key=value&key=value" in key order (the catalog's settings), and back.
  std::string Encode() const;
  static Result<QuotaValues> Decode(std::string_view text, std::string_view where);
};

// The `tenant_quotas` option: a YAML mapping of tenant to a mapping of quota keys
// ("acme: {max_queries: 8, scanned_bytes_per_hour: 50GiB}"). Empty text: no overrides.
// Errors: InvalidArgument naming tenant_quotas.TENANT.KEY and the line.
Result<std::map<std::string, QuotaValues, std::less<>>> ParseTenantQuotas(std::string_view yaml);

// Thread-safe.
class TenantQuotaTable {
 public:
  // "defaults" must have every key set.
  TenantQuotaTable(QuotaValues defaults, std::map<std::string, QuotaValues, std::less<>> configured,
                   Clock* clock);

  // Reads the overrides set through the API from "catalog" and keeps it for Set. Until then
  // only the defaults and the config file's overrides apply and Set answers Unavailable.
  Status Attach(catalog::Catalog* catalog);

  // The tenant's value of "key" (API over config file over default).
  uint64_t Get(std::string_view tenant, QuotaKey key) const;

  // Sets (or, with the value "default", removes) the API overrides of "tenant" in "changes"
  // (key, value text), stored in the catalog before they apply. "reset": removes every API
  // override of the tenant first. Errors: InvalidArgument (unknown key, bad value),
  // Unavailable (not attached yet), the catalog's.
  Status Set(const std::string& tenant,
             const std::vector<std::pair<std::string, std::string>>& changes, bool reset,
             const std::string& actor);

  struct Entry {
    std::string tenant;
    QuotaValues config, api, effective;
    int64_t updated_ns = 0;  // of the API overrides
    std::string updated_by;
  };
  const QuotaValues& defaults() const { return defaults_; }
  Entry Describe(const std::string& tenant) const;
  // Tenants with an override in the config file or through the API.
  std::vector<std::string> Tenants() const;

 private:
  const QuotaValues defaults_;
  const std::map<std::string, QuotaValues, std::less<>> configured_;
  Clock* const clock_;
  mutable Mutex mu_;
  catalog::Catalog* catalog_ GUARDED_BY(mu_) = nullptr;
  std::map<std::string, catalog::TenantQuotaRow, std::less<>> rows_ GUARDED_BY(mu_);
  std::map<std::string, QuotaValues, std::less<>> api_ GUARDED_BY(mu_);
};

}  // namespace sawmill::http
