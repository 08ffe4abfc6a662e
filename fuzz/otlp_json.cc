// Fuzz target: an OTLP/HTTP logs body in JSON (POST /v1/logs, application/json) through
// DecodeOtlpLogsJson and the response encoder. Input: the body as sent.
#include "fuzz_util.h"
#include "ingest/otlp_logs.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ingest::ShipperContext context;
  context.now_ns = fuzz::kNowNs;
  context.options.max_line_bytes = 512;
  context.max_records = 1000;
  auto batch = ingest::DecodeOtlpLogsJson(fuzz::AsView(data, size), context);
  if (!batch.ok()) {
    FUZZ_CHECK(!batch.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(batch.value().records.size() <= context.max_records);
  FUZZ_CHECK(batch.value().rejected >= 0);
  for (const Record& r : batch.value().records) fuzz::CheckRecordUtf8(r);
  std::string response = ingest::EncodeOtlpResponse(batch.value(), true);
  FUZZ_CHECK(!response.empty());
  return 0;
}
