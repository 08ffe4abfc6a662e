// Fuzz target: an Elasticsearch _bulk body (POST /_bulk) through DecodeElasticsearchBulk and
// the response encoder. Input: the body as sent.
#include "ingest/elasticsearch_bulk.h"
#include "shipper_fuzz.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ingest::ShipperContext context = fuzz::ShipperFuzzContext();
  auto batch = ingest::DecodeElasticsearchBulk(fuzz::AsView(data, size), "logs-fuzz", context);
  if (!fuzz::Decoded(batch)) return 0;
  const auto& b = batch.value();
  fuzz::CheckRecords(b.records, context);
  for (const auto& item : b.items) {
    FUZZ_CHECK(item.record >= -1 && item.record < static_cast<int64_t>(b.records.size()));
  }
  std::string response = ingest::EncodeElasticsearchBulkResponse(b.items, 1);
  FUZZ_CHECK(!response.empty() && response.front() == '{' && response.back() == '}');
  return 0;
}
