// OTLP/HTTP logs endpoint.
#include "ingest/otlp_logs.h"
#include "ingest/shipper_handlers.h"
#include "ingest/shipper_record.h"

namespace sawmill::ingest {

namespace {

// gRPC codes carried in google.rpc.Status.
constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcResourceExhausted = 8;
constexpr int kGrpcInternal = 13;
constexpr int kGrpcUnavailable = 14;

http::HttpResponse OtlpAnswer(int status, std::string body, bool json) {
  http::HttpResponse response;
  response.status = status;
  response.content_type = json ? "application/json" : "application/x-protobuf";
  response.body = std::move(body);
  return response;
}

// OTLP/HTTP: 400 is not retried; 429, 502, 503 and 504 are, after Retry-After when present.
http::HttpResponse OtlpFailure(const Status& status, bool json) {
  int http_status = 500;
  int grpc = kGrpcInternal;
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      http_status = 400;
      grpc = kGrpcInvalidArgument;
      break;
    case StatusCode::kResourceExhausted:
      http_status = 429;
      grpc = kGrpcResourceExhausted;
      break;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      http_status = 503;
      grpc = kGrpcUnavailable;
      break;
    default: break;
  }
  http::HttpResponse response =
      OtlpAnswer(http_status, EncodeOtlpStatus(grpc, status.message(), json), json);
  if (http_status == 429 || http_status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace

http::HttpResponse HandleOtlpLogs(const http::HttpRequest& request, http::IngestSink* sink) {
  std::string_view content_type = RequestHeader(request, "content-type");
  const bool json = content_type.find("application/json") != std::string_view::npos;
  const bool protobuf = content_type.find("application/x-protobuf") != std::string_view::npos ||
                        content_type.find("application/protobuf") != std::string_view::npos;
  if (!json && !protobuf) {
    http::HttpResponse response =
        OtlpAnswer(415,
                   EncodeOtlpStatus(kGrpcInvalidArgument,
                                    "unsupported Content-Type \"" + std::string(content_type) +
                                        "\": use application/x-protobuf or application/json",
                                    true),
                   true);
    return response;
  }
  ShipperContext context = ContextFromRequest(request, WallNanos());
  Result<OtlpBatch> batch = json ? DecodeOtlpLogsJson(request.body, context)
                                 : DecodeOtlpLogsProtobuf(request.body, context);
  if (!batch.ok()) return OtlpFailure(batch.status(), json);
  if (!batch->records.empty()) {
    Status status = sink->Ingest(context.tenant, "otlp", &batch->records);
    if (!status.ok()) return OtlpFailure(status, json);
  }
  return OtlpAnswer(200, EncodeOtlpResponse(*batch, json), json);
}

}  // namespace sawmill::ingest
