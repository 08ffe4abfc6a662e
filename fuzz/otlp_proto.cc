// Fuzz target: an OTLP/HTTP logs body in protobuf (POST /v1/logs, application/x-protobuf: an
// ExportLogsServiceRequest) through DecodeOtlpLogsProtobuf and the response encoder.
// Input: the body as sent.
#include "fuzz_util.h"
#include "ingest/otlp_logs.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ingest::ShipperContext context;
  context.now_ns = fuzz::kNowNs;
  context.options.max_line_bytes = 512;
  context.max_records = 1000;
  auto batch = ingest::DecodeOtlpLogsProtobuf(fuzz::AsView(data, size), context);
  if (!batch.ok()) {
    FUZZ_CHECK(!batch.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(batch.value().records.size() <= context.max_records);
  FUZZ_CHECK(batch.value().rejected >= 0);
  for (const Record& r : batch.value().records) fuzz::CheckRecordUtf8(r);
  std::string response = ingest::EncodeOtlpResponse(batch.value(), false);
  (void)response;
  return 0;
}
