// Elasticsearch _bulk: NDJSON action/metadata lines each followed by a document (except for
// `delete`), as Filebeat, Logstash, Fluent Bit, Vector and the official clients send them.
// See docs/shippers.md for the field mapping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/shipper_record.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::ingest {

// One action of a bulk request and what we answer for it.
struct EsBulkItem {
  std::string action;  // "index", "create", "delete" or "update"
  std::string index;
  std::string id;  // the _id sent, or one we made up
  int status = 201;
  std::string error_type;  // set when status >= 400
  std::string error_reason;
  int64_t record = -1;  // position in EsBulkBatch::records, or -1 when nothing was stored
};

struct EsBulkBatch {
  std::vector<Record> records;
  std::vector<EsBulkItem> items;
};

// Decodes a bulk body. "default_index" comes from the URL (/{index}/_bulk) and may be empty.
// `delete` and `update` items are answered 400 (not supported) and store nothing; a document
// that is not a JSON object is stored raw with kFlagParseFailed (201: nothing is ever dropped).
// Errors: InvalidArgument for a request Elasticsearch itself rejects whole (a malformed
// action/metadata line, an unknown action, a missing document line), naming the line.
Result<EsBulkBatch> DecodeElasticsearchBulk(std::string_view body, std::string_view default_index,
                                            const ShipperContext& context);

// Maps one document (an already parsed JSON object, as text) into "*record": ECS and plain
// names (see docs/shippers.md). Exposed for tests.
void MapElasticsearchDocument(std::string_view json_text, std::string_view index,
                              const ShipperContext& context, Record* record);

// {"took":..,"errors":..,"items":[{"index":{"_index":..,"_id":..,"status":201,...}}]}.
// "store_http_status" is the HTTP status the server gave the pipeline's answer (0 or 2xx: the
// batch was stored); when it is an error every stored item reports it with "store_error" as the
// reason (429: es_rejected_execution_exception, others: unavailable_shards_exception).
std::string EncodeElasticsearchBulkResponse(const std::vector<EsBulkItem>& items, int64_t took_ms,
                                            int store_http_status = 0,
                                            std::string_view store_error = {});

// The error body Elasticsearch sends for a rejected request:
// {"error":{"root_cause":[{"type":..,"reason":..}],"type":..,"reason":..},"status":N}.
std::string ElasticsearchErrorBody(int status, std::string_view type, std::string_view reason);

}  // namespace sawmill::ingest
