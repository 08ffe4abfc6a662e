#include "ingest/masking.h"

#include "common/metrics.h"

namespace sawmill::ingest {

namespace {

prometheus::Family<prometheus::Counter>& Replaced() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("sawmill_ingest_masked_total")
          .Help("Values replaced by the server's PII masking before the WAL, by tenant and rule")
          .Register(MetricsRegistry());
  return family;
}

prometheus::Family<prometheus::Counter>& MaskedLines() {
  static prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter()
          .Name("sawmill_ingest_masked_lines_total")
          .Help("Records in which the server's PII masking replaced something, by tenant")
          .Register(MetricsRegistry());
  return family;
}

}  // namespace

Result<std::unique_ptr<TenantMasking>> TenantMasking::Create(
    const std::map<std::string, RedactOptions, std::less<>>& by_tenant) {
  std::unique_ptr<TenantMasking> masking(new TenantMasking());
  for (const auto& [name, options] : by_tenant) {
    RedactOptions server = options;
    server.all_columns = true;
    Result<std::unique_ptr<Redactor>> redactor = Redactor::Create(server);
    if (!redactor.ok()) return redactor.status().WithContext("masking." + name);
    Tenant tenant;
    tenant.redactor = std::move(redactor).value();
    for (const std::string& rule : tenant.redactor->rule_names()) {
      tenant.replaced.push_back(&Replaced().Add({{"tenant", name}, {"rule", rule}}));
    }
    tenant.lines = &MaskedLines().Add({{"tenant", name}});
    masking->tenants_.emplace(name, std::move(tenant));
  }
  return masking;
}

TenantMasking::~TenantMasking() = default;

std::vector<std::string> TenantMasking::RuleNames(std::string_view tenant) const {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return {};
  return it->second.redactor->rule_names();
}

std::map<std::string, std::vector<std::string>> TenantMasking::RulesByTenant() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, tenant] : tenants_) out[name] = tenant.redactor->rule_names();
  return out;
}

Status TenantMasking::Admit(const BatchInfo& batch, std::vector<Record>* records) const {
  auto it = tenants_.find(batch.tenant);
  if (it == tenants_.end()) return Status::OK();
  const Tenant& tenant = it->second;
  const std::vector<std::string>& names = tenant.redactor->rule_names();
  RedactCounts total(names.size(), 0);
  RedactCounts counts(names.size(), 0);
  uint64_t masked_lines = 0;
  for (Record& record : *records) {
    // A client's own `sawmill.masked` would claim (or hide) masking that did not happen.
    std::erase_if(record.fields, [](const auto& field) { return field.first == kMaskedField; });
    std::fill(counts.begin(), counts.end(), 0);
    if (!tenant.redactor->RedactRecord(&record, &counts)) continue;
    ++masked_lines;
    std::string fired;
    for (size_t i = 0; i < names.size(); ++i) {
      if (counts[i] == 0) continue;
      total[i] += counts[i];
      if (!fired.empty()) fired += ',';
      fired += names[i];
    }
    record.fields.emplace_back(std::string(kMaskedField), std::move(fired));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (total[i] > 0) tenant.replaced[i]->Increment(static_cast<double>(total[i]));
  }
  if (masked_lines > 0) tenant.lines->Increment(static_cast<double>(masked_lines));
  return Status::OK();
}

}  // namespace sawmill::ingest
