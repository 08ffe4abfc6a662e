// The server's door to the normaliser (src/ingest/normalize.h). When this build has no
// sawmill_ingest library yet (SAWMILL_HTTP_HAVE_INGEST unset), a minimal stand-in keeps the
// server usable: identity encoding only, one plain-text record per non-blank line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/normalize.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::http {

// As ingest::DecodeBody. Errors: InvalidArgument (why and at which byte), ResourceExhausted
// (decoded body over "max_bytes").
Result<std::string> DecodeRequestBody(std::string_view body, std::string_view content_encoding,
                                      size_t max_bytes);

// As ingest::NormalizeBody.
void NormalizeRequestBody(std::string_view body, const ingest::Defaults& defaults,
                          const ingest::NormalizeOptions& options, int64_t now_ns,
                          std::vector<Record>* out, ingest::IngestCounts* counts);

// True when this build has the real normaliser and decoders.
bool HaveFullIngest();

}  // namespace sawmill::http
