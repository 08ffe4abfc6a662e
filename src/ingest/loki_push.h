// Loki push API: POST /loki/api/v1/push as Promtail, Grafana Alloy, Fluent Bit's loki output,
// Vector and the logging libraries send it, in JSON or in snappy-compressed protobuf
// (logproto.PushRequest, the default of Promtail and Alloy). See docs/shippers.md.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingest/shipper_record.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::ingest {

using LabelSet = std::vector<std::pair<std::string, std::string>>;

// Parses Prometheus label syntax: {a="b", c="d"} (escapes \" \\ \n in values; an empty set
// "{}" is valid). Errors: InvalidArgument naming the byte offset and what was expected.
Result<LabelSet> ParsePrometheusLabels(std::string_view text);

// {"streams":[{"stream":{..labels..},"values":[["<ns>","<line>",{..metadata..}],..]},..]}.
// Errors: InvalidArgument saying what and where (stream i, value j).
Result<std::vector<Record>> DecodeLokiPushJson(std::string_view body,
                                               const ShipperContext& context);

// The raw snappy block of a serialized logproto.PushRequest. "max_decoded_bytes" bounds the
// uncompressed size. Errors: InvalidArgument for bad snappy, bad protobuf or bad labels;
// ResourceExhausted when the uncompressed body would exceed the bound.
Result<std::vector<Record>> DecodeLokiPushProtobuf(std::string_view body,
                                                   const ShipperContext& context,
                                                   size_t max_decoded_bytes);

// The uncompressed length a snappy push body declares in its header (0 when it has none), for
// admission before anything is decompressed.
size_t LokiPushDeclaredLength(std::string_view body);

// One Loki entry into a record: labels and structured metadata become fields, and the
// field-mapping table (field_map.h, with the label names `job`, `instance`, `node`) fills
// service, host, level, trace_id, span_id and user_id from them; the mapped ones stay fields
// too. A level word in the line is the level when no label gives one. The line is kept as it is.
void MapLokiEntry(const LabelSet& labels, const LabelSet& metadata, int64_t ts_ns, std::string line,
                  const ShipperContext& context, Record* record);

}  // namespace sawmill::ingest
