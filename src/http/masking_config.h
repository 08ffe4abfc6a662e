// The server's `masking` option (docs/security.md "PII masking"): per-tenant rule sets as YAML,
//
//   masking:
//     acme:
//       detectors: [card, email, us_ssn, uk_nino, ipv4, ipv6]   # any of these
//       replacement: "[REDACTED]"                               # optional, for the detectors
//       rules:                                                   # optional custom RE2 rules
//         - name: api_key
//           pattern: 'api_key=\w+'
//           replacement: 'api_key=***'                          # optional, RE2 rewrite (\1)
//
// A tenant not named is not masked (the default: nothing is ever rewritten).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "ingest/redact.h"
#include "sawmill/status.h"

namespace sawmill::http {

// Parses the option's YAML text ("" or only blanks: no masking). Every pattern is compiled.
// Errors: InvalidArgument naming the key ("masking.acme.rules[1].pattern ...") and why.
Result<std::map<std::string, ingest::RedactOptions, std::less<>>> ParseMaskingConfig(
    std::string_view yaml);

}  // namespace sawmill::http
