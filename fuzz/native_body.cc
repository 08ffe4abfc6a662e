// Fuzz target: a native ingest body (NDJSON or plain text, POST /api/v1/ingest) through the
// normaliser, as the server handles it once the Content-Encoding is undone.
// Input: the body as sent.
#include <vector>

#include "fuzz_util.h"
#include "ingest/normalize.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body = fuzz::AsView(data, size);
  ingest::Defaults defaults{"fuzz-service", "fuzz-host", std::nullopt};
  ingest::NormalizeOptions options;
  // A short limit (chosen by the body's length, so every input is reproducible from its bytes
  // alone) reaches the truncation paths with small inputs.
  options.max_line_bytes = size % 2 == 0 ? 64 : 256 * 1024;
  std::vector<Record> records;
  ingest::IngestCounts counts;
  ingest::NormalizeBody(body, defaults, options, fuzz::kNowNs, &records, &counts);
  FUZZ_CHECK(counts.accepted == records.size());
  FUZZ_CHECK(counts.truncated <= counts.accepted && counts.parse_failed <= counts.accepted);
  for (const Record& r : records) {
    fuzz::CheckRecordUtf8(r);
    FUZZ_CHECK(!r.service.empty() && !r.host.empty());  // the defaults fill what is missing
  }
  return 0;
}
