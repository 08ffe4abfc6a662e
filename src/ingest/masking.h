// Per-tenant PII masking at the server (docs/security.md "PII masking"): the pipeline's admit
// hook that runs each tenant's rules (ingest/redact.h, the engine the agent's redaction uses) over
// every record of every front door, before the WAL, so that a masked value is never written
// anywhere: not to the WAL, a memtable, a segment column, an index or a live-tail session.
//
// A record in which something was replaced gets the flag `redacted` and the field
// `sawmill.masked` naming the rules that fired ("card,email"); replacements are counted in
// sawmill_ingest_masked_total{tenant,rule} and masked records in
// sawmill_ingest_masked_lines_total{tenant}. A tenant without rules is not touched at all.
// Immutable after Create; thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/pipeline.h"
#include "ingest/redact.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace prometheus {
class Counter;
}

namespace sawmill::ingest {

// The field a masked record carries: the names of the rules that replaced something in it.
inline constexpr std::string_view kMaskedField = "sawmill.masked";

class TenantMasking {
 public:
  // One rule set per tenant (tenants not named: no masking). all_columns is forced on.
  // Errors: the first rule set that does not compile, prefixed with "masking.<tenant>".
  static Result<std::unique_ptr<TenantMasking>> Create(
      const std::map<std::string, RedactOptions, std::less<>>& by_tenant);
  ~TenantMasking();

  bool enabled() const { return !tenants_.empty(); }
  // The rule names applied to "tenant"'s lines (empty: none).
  std::vector<std::string> RuleNames(std::string_view tenant) const;
  // Every masked tenant with its rule names (for GET /api/v1/admin/tenants).
  std::map<std::string, std::vector<std::string>> RulesByTenant() const;

  // The admit hook: masks "*records" with "batch.tenant"'s rules. Always OK.
  Status Admit(const BatchInfo& batch, std::vector<Record>* records) const;

 private:
  struct Tenant {
    std::unique_ptr<Redactor> redactor;
    std::vector<prometheus::Counter*> replaced;  // by rule, like redactor->rule_names()
    prometheus::Counter* lines = nullptr;
  };
  TenantMasking() = default;

  std::map<std::string, Tenant, std::less<>> tenants_;
};

}  // namespace sawmill::ingest
