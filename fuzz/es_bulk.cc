// Fuzz target: an Elasticsearch _bulk body (POST /_bulk) through DecodeElasticsearchBulk and
// the response encoder. Input: the body as sent.
#include "fuzz_util.h"
#include "ingest/elasticsearch_bulk.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ingest::ShipperContext context;
  context.now_ns = fuzz::kNowNs;
  context.options.max_line_bytes = 512;
  context.max_records = 1000;
  auto batch = ingest::DecodeElasticsearchBulk(fuzz::AsView(data, size), "logs-fuzz", context);
  if (!batch.ok()) {
    FUZZ_CHECK(!batch.status().message().empty());
    return 0;
  }
  const auto& b = batch.value();
  FUZZ_CHECK(b.records.size() <= context.max_records);
  for (const auto& item : b.items) {
    FUZZ_CHECK(item.record >= -1 && item.record < static_cast<int64_t>(b.records.size()));
  }
  for (const Record& r : b.records) fuzz::CheckRecordUtf8(r);
  std::string response = ingest::EncodeElasticsearchBulkResponse(b.items, 1, Status::OK());
  FUZZ_CHECK(!response.empty() && response.front() == '{' && response.back() == '}');
  return 0;
}
