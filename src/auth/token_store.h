// API tokens (docs/security.md, "Tokens"): created with a name, tenants, a role and an optional
// expiry; the text "sawmill_<id>_<secret>" is shown once, at creation. The catalog keeps the id
// and the SHA-256 of the secret, never the secret: the secret is 256 random bits, so a fast
// hash is as strong as a slow one (nobody can enumerate 2^256 candidates) and checking a token
// on every ingest request costs a microsecond, not the 50-100 ms of a password hash.
//
// The store holds every token in memory (loaded from the catalog at start) so that a request is
// checked without a catalog read; Create and Revoke write the catalog first, then the memory, so
// a revocation takes effect for the next request. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/roles.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "sawmill/status.h"

namespace sawmill::auth {

// Who a request comes from, once its token checked out.
struct Identity {
  std::string token_id;
  std::string name;
  Role role = Role::kReader;
  std::vector<std::string> tenants;  // empty with kPlatformAdmin: every tenant
  int64_t expires_ns = 0;

  // Whether this identity may act on "tenant".
  bool HasTenant(std::string_view tenant) const;
};

struct NewToken {
  std::string name;
  std::vector<std::string> tenants;
  Role role = Role::kReader;
  int64_t expires_ns = 0;  // 0: never
  std::string created_by;
};

class TokenStore {
 public:
  // Loads every token of "catalog" (which must outlive the store).
  static Result<std::unique_ptr<TokenStore>> Open(catalog::Catalog* catalog, Clock* clock);

  // True once any token was created, revoked ones included: from then on every route but the
  // public ones needs a token (revoking the last token does not open the server again).
  bool enabled() const;

  // Creates a token and returns its text (shown once) and its row. Errors: InvalidArgument for
  // an empty or overlong name, a tenant list that does not suit the role (platform-admin and
  // auditor tokens name no tenant; the others at least one); catalog errors.
  struct Created {
    std::string token;
    catalog::TokenRow row;
  };
  Result<Created> Create(const NewToken& token);
  // Errors: NotFound for an unknown id; catalog errors.
  Status Revoke(std::string_view id);
  std::vector<catalog::TokenRow> List() const;
  std::optional<catalog::TokenRow> Get(std::string_view id) const;

  // Checks a token's text. Errors: Unauthenticated, saying why (malformed, unknown, expired,
  // revoked) without revealing anything about other tokens.
  Result<Identity> Authenticate(std::string_view token) const;

 private:
  TokenStore(catalog::Catalog* catalog, Clock* clock) : catalog_(catalog), clock_(clock) {}

  catalog::Catalog* const catalog_;
  Clock* const clock_;
  mutable Mutex mu_;
  std::map<std::string, catalog::TokenRow, std::less<>> tokens_ GUARDED_BY(mu_);  // by id
};

// "sawmill_<id>_<secret>" split into id and secret. False when the text has another shape.
bool ParseTokenText(std::string_view text, std::string_view* id, std::string_view* secret);

}  // namespace sawmill::auth
