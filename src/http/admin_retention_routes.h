// The retention admin API (docs/api.md "Retention and holds"): policies, compliance rules, holds,
// the deletion record and a round on demand, over storage::Retention. Also the two things only
// this layer can give retention: the hold query matcher (the query language) and the parsing of
// the `retention` server option (YAML).
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "http/router.h"
#include "sawmill/status.h"
#include "storage/retention.h"

namespace sawmill::http {

// "retention" is set once the engine is open; until then the routes answer 503.
void RegisterRetentionRoutes(Router* router, const std::atomic<storage::Retention*>* retention);

// A hold's query decided from a segment's inverted index and blooms (query/planner.h):
// validate parses it (a filter; pipes are refused), may_match is false only when the index or
// the blooms prove no row matches.
storage::HoldMatcher QueryHoldMatcher();

// The `retention` server option, YAML (docs/storage.md "Retention and holds"): a duration alone
// ("30d": every tenant's retention) or a mapping with retention, warm_after, cold_after,
// max_bytes, tenants: {NAME: {...}} and compliance: [{tenant, service, retention, reason}].
// "" gives the empty config (keep everything). Errors: InvalidArgument naming the key.
Result<storage::RetentionConfig> ParseRetentionConfig(std::string_view yaml);

// Who is asking, for the record: with API tokens, the verified token's name and id with the
// client's address, "ci-admin (token 4f2a9c, 127.0.0.1)" (the X-Sawmill-User header is ignored);
// on a server without tokens, the self-declared X-Sawmill-User header (the command line sends
// the login name) or "anonymous", with the client's address: "alice (127.0.0.1)".
std::string ActorOf(const HttpRequest& request);

}  // namespace sawmill::http
