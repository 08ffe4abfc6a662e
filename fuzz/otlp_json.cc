// Fuzz target: an OTLP/HTTP logs body in JSON (POST /v1/logs, application/json) through
// DecodeOtlpLogsJson and the response encoder. Input: the body as sent.
#include "ingest/otlp_logs.h"
#include "shipper_fuzz.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ingest::ShipperContext context = fuzz::ShipperFuzzContext();
  auto batch = ingest::DecodeOtlpLogsJson(fuzz::AsView(data, size), context);
  if (!fuzz::Decoded(batch)) return 0;
  fuzz::CheckRecords(batch.value().records, context);
  FUZZ_CHECK(batch.value().rejected >= 0);
  std::string response = ingest::EncodeOtlpResponse(batch.value(), true);
  FUZZ_CHECK(!response.empty());
  return 0;
}
