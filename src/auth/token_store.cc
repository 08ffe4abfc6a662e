#include "auth/token_store.h"

#include <algorithm>

#include "auth/crypto.h"
#include "common/time_format.h"

namespace sawmill::auth {

namespace {

constexpr std::string_view kPrefix = "sawmill_";
constexpr size_t kIdBytes = 8;       // 16 hex characters: public, unique
constexpr size_t kSecretBytes = 32;  // 256 bits

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string When(int64_t ns) { return FormatRfc3339(ns); }

}  // namespace

bool Identity::HasTenant(std::string_view tenant) const {
  if (role == Role::kPlatformAdmin) return true;
  return std::find(tenants.begin(), tenants.end(), tenant) != tenants.end();
}

bool ParseTokenText(std::string_view text, std::string_view* id, std::string_view* secret) {
  if (text.substr(0, kPrefix.size()) != kPrefix) return false;
  text.remove_prefix(kPrefix.size());
  if (text.size() != kIdBytes * 2 + 1 + kSecretBytes * 2 || text[kIdBytes * 2] != '_') {
    return false;
  }
  *id = text.substr(0, kIdBytes * 2);
  *secret = text.substr(kIdBytes * 2 + 1);
  return IsHex(*id) && IsHex(*secret);
}

Result<std::unique_ptr<TokenStore>> TokenStore::Open(catalog::Catalog* catalog, Clock* clock) {
  auto rows = catalog->ListTokens();
  if (!rows.ok()) return rows.status().WithContext("loading API tokens");
  std::unique_ptr<TokenStore> store(new TokenStore(catalog, clock));
  MutexLock lock(&store->mu_);
  for (catalog::TokenRow& row : *rows) {
    std::string id = row.id;
    store->tokens_.emplace(std::move(id), std::move(row));
  }
  return store;
}

bool TokenStore::enabled() const {
  MutexLock lock(&mu_);
  return !tokens_.empty();
}

Result<TokenStore::Created> TokenStore::Create(const NewToken& token) {
  if (token.name.empty() || token.name.size() > 200) {
    return Status::InvalidArgument("name: give a name of 1 to 200 characters for the token");
  }
  const bool platform = token.role == Role::kPlatformAdmin || token.role == Role::kAuditor;
  if (platform && !token.tenants.empty()) {
    return Status::InvalidArgument("tenant: a " + std::string(RoleName(token.role)) +
                                   " token covers every tenant; give no tenant");
  }
  if (!platform && token.tenants.empty()) {
    return Status::InvalidArgument("tenant: a " + std::string(RoleName(token.role)) +
                                   " token needs at least one tenant");
  }
  if (token.role != Role::kReader && token.tenants.size() > 1) {
    return Status::InvalidArgument("tenant: only a reader token may be granted several tenants");
  }
  const int64_t now = clock_->NowNanos();
  if (token.expires_ns != 0 && token.expires_ns <= now) {
    return Status::InvalidArgument("expires: the expiry " + When(token.expires_ns) +
                                   " is in the past");
  }
  auto id = RandomBytes(kIdBytes);
  if (!id.ok()) return id.status();
  auto secret = RandomBytes(kSecretBytes);
  if (!secret.ok()) return secret.status();
  Created created;
  created.row.id = Hex(*id);
  created.row.name = token.name;
  created.row.tenants = token.tenants;
  created.row.role = std::string(RoleName(token.role));
  created.row.secret_hash = Sha256Hex(Hex(*secret));
  created.row.created_ns = now;
  created.row.expires_ns = token.expires_ns;
  created.row.created_by = token.created_by;
  created.token = std::string(kPrefix) + created.row.id + "_" + Hex(*secret);
  RETURN_IF_ERROR(catalog_->InsertToken(created.row));
  MutexLock lock(&mu_);
  tokens_.emplace(created.row.id, created.row);
  return created;
}

Status TokenStore::Revoke(std::string_view id) {
  const int64_t now = clock_->NowNanos();
  RETURN_IF_ERROR(catalog_->RevokeToken(id, now));
  MutexLock lock(&mu_);
  auto it = tokens_.find(id);
  if (it != tokens_.end() && it->second.revoked_ns == 0) it->second.revoked_ns = now;
  return Status::OK();
}

std::vector<catalog::TokenRow> TokenStore::List() const {
  MutexLock lock(&mu_);
  std::vector<catalog::TokenRow> out;
  for (const auto& [id, row] : tokens_) out.push_back(row);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.created_ns != b.created_ns ? a.created_ns < b.created_ns : a.id < b.id;
  });
  return out;
}

std::optional<catalog::TokenRow> TokenStore::Get(std::string_view id) const {
  MutexLock lock(&mu_);
  auto it = tokens_.find(id);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

Result<Identity> TokenStore::Authenticate(std::string_view token) const {
  std::string_view id, secret;
  if (!ParseTokenText(token, &id, &secret)) {
    return Status::Unauthenticated(
        "the token is not a Sawmill API token (expected sawmill_<id>_<secret>, as printed by "
        "`sawmill admin token create`)");
  }
  const std::string hash = Sha256Hex(secret);
  catalog::TokenRow row;
  {
    MutexLock lock(&mu_);
    auto it = tokens_.find(id);
    // An unknown id and a wrong secret get the same answer, and the hash is compared in
    // constant time, so that timing tells nothing about a token's secret.
    if (it == tokens_.end() || !ConstantTimeEqual(hash, it->second.secret_hash)) {
      return Status::Unauthenticated("the token is not valid (unknown, or a wrong secret)");
    }
    row = it->second;
  }
  if (row.revoked_ns != 0) {
    return Status::Unauthenticated("token '" + row.name + "' was revoked at " +
                                   When(row.revoked_ns));
  }
  if (row.expires_ns != 0 && clock_->NowNanos() >= row.expires_ns) {
    return Status::Unauthenticated("token '" + row.name + "' expired at " + When(row.expires_ns));
  }
  auto role = ParseRole(row.role);
  if (!role) {
    return Status::Unauthenticated("token '" + row.name + "' has an unknown role '" + row.role +
                                   "' (written by a newer build?)");
  }
  Identity identity;
  identity.token_id = row.id;
  identity.name = row.name;
  identity.role = *role;
  identity.tenants = row.tenants;
  identity.expires_ns = row.expires_ns;
  return identity;
}

}  // namespace sawmill::auth
