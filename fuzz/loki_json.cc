// Fuzz target: a Loki push body in JSON (POST /loki/api/v1/push, application/json) through
// DecodeLokiPushJson. Input: the body as sent.
#include "fuzz_util.h"
#include "ingest/loki_push.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ingest::ShipperContext context;
  context.now_ns = fuzz::kNowNs;
  context.options.max_line_bytes = 512;
  context.max_records = 1000;
  auto records = ingest::DecodeLokiPushJson(fuzz::AsView(data, size), context);
  if (!records.ok()) {
    FUZZ_CHECK(!records.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(records.value().size() <= context.max_records);
  for (const Record& r : records.value()) fuzz::CheckRecordUtf8(r);
  return 0;
}
