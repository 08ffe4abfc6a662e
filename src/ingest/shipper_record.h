// What every shipper protocol (Elasticsearch _bulk, Loki push, OTLP/HTTP, syslog) does the same
// way when it turns a decoded entry into a Record: defaults from the request, the server clock,
// the line-length limit and UTF-8 repair. Decoders fill the protocol's own fields first and then
// call FinishShipperRecord once per record.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/normalize.h"
#include "sawmill/record.h"

namespace sawmill::ingest {

// The request-wide inputs of a decoder, made by Pipeline::Begin (pipeline.h) for every front
// door, native ingestion included.
struct ShipperContext {
  std::string tenant = "default";
  Defaults defaults;             // used where a record carries no service/host/level
  NormalizeOptions options;      // max_line_bytes applies to the message and to each field value
  int64_t now_ns = 0;            // server clock at ingest; becomes ingest_ts (and ts when unknown)
  size_t max_records = 1000000;  // a request with more records is rejected (bounded memory)
  // A `level` default that is not a level (BadLevel::kKeepAsField): records that end up without
  // a level keep it as the field `level`.
  std::string unknown_level;
};

// Fills ingest_ts, tenant, ts (when 0), service/host/level from the defaults when empty,
// truncates an over-long message (kFlagTruncated) and repairs invalid UTF-8 everywhere
// (kFlagInvalidUtf8). When the level is still unknown, a level word at the start of the
// message is used (the same sniffing as for plain native lines), else the default level, else
// context.unknown_level becomes the field `level` (unless the record has one).
void FinishShipperRecord(const ShipperContext& context, Record* record);

// Counts the length-delimited fields at "path" (field numbers, outermost message first) of a
// serialized protobuf message without parsing it, e.g. {1, 2, 2} for the log records of an OTLP
// ExportLogsServiceRequest, so that a request with too many records is refused before the
// parser makes an object of each (a 2-byte empty record becomes a ~100-byte object). Stops at
// "limit" + 1. Returns 0 for wire data it cannot walk (the parser then reports it).
size_t CountProtobufFields(std::string_view message, std::initializer_list<int> path, size_t limit);

// Lower-case hex of raw bytes (trace and span ids of binary protocols).
std::string HexLower(std::string_view bytes);

// Lower-cases a hex id; returns false (and leaves "*out" empty) when "text" is not an even
// number of hex digits or is all zeros (an invalid id in W3C trace context).
bool NormalizeHexId(std::string_view text, std::string* out);

}  // namespace sawmill::ingest
