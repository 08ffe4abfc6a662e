// OpenTelemetry OTLP/HTTP logs: POST /v1/logs with an ExportLogsServiceRequest encoded as
// protobuf (application/x-protobuf) or as OTLP/JSON (application/json), as the OpenTelemetry
// SDKs and the collector's otlphttp exporter send it. See docs/shippers.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/shipper_record.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::ingest {

struct OtlpBatch {
  std::vector<Record> records;
  // ExportLogsPartialSuccess: records we could not take, and why (also warnings about records
  // we kept but had to change, with rejected == 0, as the specification allows).
  int64_t rejected = 0;
  std::string error_message;
};

// Errors: InvalidArgument saying what and where (resourceLogs[i].scopeLogs[j].logRecords[k]).
Result<OtlpBatch> DecodeOtlpLogsJson(std::string_view body, const ShipperContext& context);
Result<OtlpBatch> DecodeOtlpLogsProtobuf(std::string_view body, const ShipperContext& context);

// The success answer: an ExportLogsServiceResponse, with partial_success filled when the batch
// rejected records or carries a warning. JSON ("{}" when nothing to report) or protobuf.
std::string EncodeOtlpResponse(const OtlpBatch& batch, bool json);

// The failure answer: a google.rpc.Status with "grpc_code" (3 INVALID_ARGUMENT,
// 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE, 13 INTERNAL) and "message".
std::string EncodeOtlpStatus(int grpc_code, std::string_view message, bool json);

}  // namespace sawmill::ingest
