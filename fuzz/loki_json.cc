// Fuzz target: a Loki push body in JSON (POST /loki/api/v1/push, application/json) through
// DecodeLokiPushJson. Input: the body as sent.
#include "ingest/loki_push.h"
#include "shipper_fuzz.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ingest::ShipperContext context = fuzz::ShipperFuzzContext();
  auto records = ingest::DecodeLokiPushJson(fuzz::AsView(data, size), context);
  if (!fuzz::Decoded(records)) return 0;
  fuzz::CheckRecords(records.value(), context);
  return 0;
}
