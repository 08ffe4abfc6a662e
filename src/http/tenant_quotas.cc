#include "http/tenant_quotas.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "common/config_values.h"

namespace sawmill::http {

namespace {

constexpr uint64_t kMaxDurationMs = 10ull * 365 * 24 * 3'600'000;  // ten years

std::string KeyNames() {
  std::string out;
  for (const QuotaKeyInfo& info : QuotaKeyTable()) {
    out += (out.empty() ? "" : ", ") + std::string(info.name);
  }
  return out;
}

const QuotaKeyInfo& Info(QuotaKey key) { return QuotaKeyTable()[static_cast<size_t>(key)]; }

}  // namespace

const std::array<QuotaKeyInfo, kQuotaKeys>& QuotaKeyTable() {
  static const std::array<QuotaKeyInfo, kQuotaKeys> table = {{
      {QuotaKey::kIngestLinesPerSec, "ingest_lines_per_sec", "tenant_ingest_lines_per_sec",
       QuotaUnit::kCount},
      {QuotaKey::kIngestBytesPerSec, "ingest_bytes_per_sec", "tenant_ingest_bytes_per_sec",
       QuotaUnit::kBytes},
      {QuotaKey::kIngestBurst, "ingest_burst", "tenant_ingest_burst", QuotaUnit::kDuration},
      {QuotaKey::kMaxQueries, "max_queries", "tenant_max_queries", QuotaUnit::kCount},
      {QuotaKey::kMaxTailSessions, "max_tail_sessions", "tenant_max_tail_sessions",
       QuotaUnit::kCount},
      {QuotaKey::kScannedBytesPerHour, "scanned_bytes_per_hour", "tenant_scanned_bytes_per_hour",
       QuotaUnit::kBytes},
      {QuotaKey::kReaderMaxRange, "reader_max_range", "tenant_reader_max_range",
       QuotaUnit::kDuration},
  }};
  return table;
}

Result<QuotaKey> FindQuotaKey(std::string_view name) {
  for (const QuotaKeyInfo& info : QuotaKeyTable()) {
    if (info.name == name) return info.key;
  }
  return Status::InvalidArgument("unknown quota '" + std::string(name) +
                                 "'; the quotas are: " + KeyNames());
}

Result<uint64_t> ParseQuotaValue(QuotaKey key, std::string_view value, std::string_view where) {
  const QuotaKeyInfo& info = Info(key);
  const std::string context =
      std::string(where) + (where.empty() ? "" : ".") + std::string(info.name);
  switch (info.unit) {
    case QuotaUnit::kCount: {
      auto n = ParseCount(value);
      if (!n.ok()) return n.status().WithContext(context);
      return *n;
    }
    case QuotaUnit::kBytes: {
      auto n = ParseSize(value);
      if (!n.ok()) return n.status().WithContext(context);
      return *n;
    }
    case QuotaUnit::kDuration: {
      auto ns = ParseDuration(value);
      if (!ns.ok()) return ns.status().WithContext(context);
      const uint64_t ms = static_cast<uint64_t>(*ns / 1'000'000);
      if (*ns < 0 || ms > kMaxDurationMs) {
        return Status::InvalidArgument(context + ": at most ten years, got '" + std::string(value) +
                                       "'");
      }
      if (key == QuotaKey::kIngestBurst && ms < 1) {
        return Status::InvalidArgument(context + ": at least 1ms, got '" + std::string(value) +
                                       "'");
      }
      return ms;
    }
  }
  return Status::Internal("quota unit");
}

std::string FormatQuotaValue(QuotaKey key, uint64_t value) {
  switch (Info(key).unit) {
    case QuotaUnit::kCount: return std::to_string(value);
    case QuotaUnit::kBytes: {
      static constexpr std::pair<uint64_t, const char*> kUnits[] = {
          {1ull << 40, "TiB"}, {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
      for (const auto& [size, unit] : kUnits) {
        if (value > 0 && value % size == 0) return std::to_string(value / size) + unit;
      }
      return std::to_string(value);
    }
    case QuotaUnit::kDuration: {
      if (value > 0 && value % 86'400'000 == 0) return std::to_string(value / 86'400'000) + "d";
      if (value > 0 && value % 3'600'000 == 0) return std::to_string(value / 3'600'000) + "h";
      if (value > 0 && value % 60'000 == 0) return std::to_string(value / 60'000) + "m";
      if (value % 1000 == 0) return std::to_string(value / 1000) + "s";
      return std::to_string(value) + "ms";
    }
  }
  return std::to_string(value);
}

bool QuotaValues::empty() const {
  for (const auto& v : values) {
    if (v.has_value()) return false;
  }
  return true;
}

std::string QuotaValues::Encode() const {
  std::string out;
  for (const QuotaKeyInfo& info : QuotaKeyTable()) {
    if (const auto& v = (*this)[info.key]) {
      out +=
          (out.empty() ? "" : "&") + std::string(info.name) + "=" + FormatQuotaValue(info.key, *v);
    }
  }
  return out;
}

Result<QuotaValues> QuotaValues::Decode(std::string_view text, std::string_view where) {
  QuotaValues out;
  while (!text.empty()) {
    size_t end = text.find('&');
    std::string_view pair = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(std::string(where) + ": expected key=value, got '" +
                                     std::string(pair) + "'");
    }
    auto key = FindQuotaKey(pair.substr(0, eq));
    if (!key.ok()) return key.status().WithContext(where);
    auto value = ParseQuotaValue(*key, pair.substr(eq + 1), where);
    if (!value.ok()) return value.status();
    out[*key] = *value;
  }
  return out;
}

Result<std::map<std::string, QuotaValues, std::less<>>> ParseTenantQuotas(std::string_view yaml) {
  std::map<std::string, QuotaValues, std::less<>> out;
  if (yaml.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("tenant_quotas: line " + std::to_string(e.mark.line + 1) + ": " +
                                   e.msg);
  }
  if (root.IsNull()) return out;
  if (!root.IsMap()) {
    return Status::InvalidArgument(
        "tenant_quotas: expected a mapping of tenant: {quota: value, ...} (quotas: " + KeyNames() +
        ")");
  }
  try {
    for (const auto& tenant_item : root) {
      const std::string tenant = tenant_item.first.as<std::string>();
      const std::string where = "tenant_quotas." + tenant;
      const YAML::Node& quotas = tenant_item.second;
      if (!quotas.IsMap()) {
        return Status::InvalidArgument(where + " (line " + std::to_string(quotas.Mark().line + 1) +
                                       "): expected a mapping of quota: value");
      }
      QuotaValues values;
      for (const auto& item : quotas) {
        const std::string name = item.first.as<std::string>();
        const std::string line = " (line " + std::to_string(item.first.Mark().line + 1) + ")";
        auto key = FindQuotaKey(name);
        if (!key.ok()) return key.status().WithContext(where + line);
        if (!item.second.IsScalar()) {
          return Status::InvalidArgument(where + "." + name + line + ": expected a value");
        }
        auto value = ParseQuotaValue(*key, item.second.Scalar(), where);
        if (!value.ok()) return Status::InvalidArgument(value.status().message() + line);
        values[*key] = *value;
      }
      out[tenant] = values;
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("tenant_quotas: line " + std::to_string(e.mark.line + 1) + ": " +
                                   e.msg);
  }
  return out;
}

TenantQuotaTable::TenantQuotaTable(QuotaValues defaults,
                                   std::map<std::string, QuotaValues, std::less<>> configured,
                                   Clock* clock)
    : defaults_(defaults), configured_(std::move(configured)), clock_(clock) {}

Status TenantQuotaTable::Attach(catalog::Catalog* catalog) {
  auto rows = catalog->ListTenantQuotas();
  if (!rows.ok()) return rows.status().WithContext("tenant quotas");
  std::map<std::string, QuotaValues, std::less<>> api;
  std::map<std::string, catalog::TenantQuotaRow, std::less<>> by_tenant;
  for (const catalog::TenantQuotaRow& row : *rows) {
    auto values = QuotaValues::Decode(row.settings, "tenant quotas of '" + row.tenant + "'");
    if (!values.ok()) return values.status();
    api[row.tenant] = *values;
    by_tenant[row.tenant] = row;
  }
  MutexLock lock(&mu_);
  catalog_ = catalog;
  api_ = std::move(api);
  rows_ = std::move(by_tenant);
  return Status::OK();
}

uint64_t TenantQuotaTable::Get(std::string_view tenant, QuotaKey key) const {
  {
    MutexLock lock(&mu_);
    if (auto it = api_.find(tenant); it != api_.end() && it->second[key]) {
      return *it->second[key];
    }
  }
  if (auto it = configured_.find(tenant); it != configured_.end() && it->second[key]) {
    return *it->second[key];
  }
  return defaults_[key].value_or(0);
}

Status TenantQuotaTable::Set(const std::string& tenant,
                             const std::vector<std::pair<std::string, std::string>>& changes,
                             bool reset, const std::string& actor) {
  std::vector<std::pair<QuotaKey, std::optional<uint64_t>>> parsed;
  for (const auto& [name, text] : changes) {
    auto key = FindQuotaKey(name);
    if (!key.ok()) return key.status();
    if (text == "default") {
      parsed.emplace_back(*key, std::nullopt);
      continue;
    }
    auto value = ParseQuotaValue(*key, text, "");
    if (!value.ok()) {
      return Status::InvalidArgument(value.status().message() +
                                     " (or 'default' to remove the override)");
    }
    parsed.emplace_back(*key, *value);
  }
  MutexLock lock(&mu_);
  if (catalog_ == nullptr) return Status::Unavailable("the server is starting: retry shortly");
  QuotaValues values;
  if (auto it = api_.find(tenant); it != api_.end() && !reset) values = it->second;
  for (const auto& [key, value] : parsed) values[key] = value;
  catalog::TenantQuotaRow row{tenant, values.Encode(), clock_->NowNanos(), actor};
  RETURN_IF_ERROR(catalog_->PutTenantQuota(row));
  if (values.empty()) {
    api_.erase(tenant);
    rows_.erase(tenant);
  } else {
    api_[tenant] = values;
    rows_[tenant] = row;
  }
  return Status::OK();
}

TenantQuotaTable::Entry TenantQuotaTable::Describe(const std::string& tenant) const {
  Entry e;
  e.tenant = tenant;
  if (auto it = configured_.find(tenant); it != configured_.end()) e.config = it->second;
  {
    MutexLock lock(&mu_);
    if (auto it = api_.find(tenant); it != api_.end()) e.api = it->second;
    if (auto it = rows_.find(tenant); it != rows_.end()) {
      e.updated_ns = it->second.updated_ns;
      e.updated_by = it->second.updated_by;
    }
  }
  for (const QuotaKeyInfo& info : QuotaKeyTable()) {
    e.effective[info.key] = e.api[info.key]      ? *e.api[info.key]
                            : e.config[info.key] ? *e.config[info.key]
                                                 : defaults_[info.key].value_or(0);
  }
  return e;
}

std::vector<std::string> TenantQuotaTable::Tenants() const {
  std::vector<std::string> out;
  for (const auto& [tenant, values] : configured_) out.push_back(tenant);
  MutexLock lock(&mu_);
  for (const auto& [tenant, values] : api_) {
    if (!configured_.count(tenant)) out.push_back(tenant);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sawmill::http
