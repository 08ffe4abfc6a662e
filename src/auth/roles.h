// Roles a token has and rights a route requires (docs/security.md, "Roles and rights").
#pragma once

#include <optional>
#include <string_view>

namespace sawmill::auth {

// What a route requires. kPublic routes (health, readiness) need no token at all.
enum class Right {
  kPublic,
  kIngest,         // write records (the native ingest route and every shipper door)
  kRead,           // search, context, live tail, alerts read
  kTenantAdmin,    // rules, retention, holds and tokens of the token's own tenants
  kPlatformAdmin,  // server administration, every tenant, /metrics
  kAudit,          // the audit log
};

enum class Role {
  kIngest,         // kIngest
  kReader,         // kRead
  kTenantAdmin,    // kRead, kTenantAdmin
  kPlatformAdmin,  // every right, on every tenant
  kAuditor,        // kAudit, nothing else
};

std::string_view RoleName(Role role);
// "ingest", "reader", "tenant-admin", "platform-admin", "auditor"; nullopt for anything else.
std::optional<Role> ParseRole(std::string_view name);
std::string_view RightName(Right right);
// Whether a token of "role" may use a route requiring "right" (its tenant checked apart).
bool RoleHasRight(Role role, Right right);
// The roles, comma-separated, for error messages: "ingest, reader, ...".
std::string_view RoleNames();

}  // namespace sawmill::auth
