#include "auth/roles.h"

namespace sawmill::auth {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kIngest: return "ingest";
    case Role::kReader: return "reader";
    case Role::kTenantAdmin: return "tenant-admin";
    case Role::kPlatformAdmin: return "platform-admin";
    case Role::kAuditor: return "auditor";
  }
  return "?";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role role :
       {Role::kIngest, Role::kReader, Role::kTenantAdmin, Role::kPlatformAdmin, Role::kAuditor}) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

std::string_view RoleNames() { return "ingest, reader, tenant-admin, platform-admin, auditor"; }

std::string_view RightName(Right right) {
  switch (right) {
    case Right::kPublic: return "public";
    case Right::kIngest: return "ingest";
    case Right::kRead: return "read";
    case Right::kTenantAdmin: return "tenant-admin";
    case Right::kPlatformAdmin: return "platform-admin";
    case Right::kAudit: return "audit";
  }
  return "?";
}

bool RoleHasRight(Role role, Right right) {
  if (right == Right::kPublic) return true;
  switch (role) {
    case Role::kIngest: return right == Right::kIngest;
    case Role::kReader: return right == Right::kRead;
    case Role::kTenantAdmin: return right == Right::kRead || right == Right::kTenantAdmin;
    case Role::kPlatformAdmin: return true;
    case Role::kAuditor: return right == Right::kAudit;
  }
  return false;
}

}  // namespace sawmill::auth
