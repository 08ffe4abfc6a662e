// The text form of a token's tenants in the catalog column api_tokens.tenants, shared by the
// SQLite and PostgreSQL catalogs so that both store it alike: the names joined with ',' in
// order (tenant names hold no ',': http/api_routes.h TenantFromHeader).
#pragma once

#include <string>
#include <vector>

namespace sawmill::catalog {

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

}  // namespace sawmill::catalog
