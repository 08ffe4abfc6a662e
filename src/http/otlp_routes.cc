// OTLP/HTTP logs endpoint.
#include "http/shipper_handlers.h"
#include "http/shipper_routes.h"
#include "ingest/otlp_logs.h"

namespace sawmill::http {

namespace {

// gRPC codes carried in google.rpc.Status.
constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcResourceExhausted = 8;
constexpr int kGrpcInternal = 13;
constexpr int kGrpcUnavailable = 14;

HttpResponse OtlpAnswer(int status, std::string body, bool json) {
  HttpResponse response;
  response.status = status;
  response.content_type = json ? "application/json" : "application/x-protobuf";
  response.body = std::move(body);
  return response;
}

// OTLP/HTTP: 400 is not retried; 429, 502, 503 and 504 are, after Retry-After when present.
// The HTTP status is StatusToHttp's; the gRPC code follows from it.
HttpResponse OtlpFailure(const Status& status, bool json) {
  const int http_status = StatusToHttp(status);
  int grpc = kGrpcInternal;
  if (http_status == 429) {
    grpc = kGrpcResourceExhausted;
  } else if (http_status == 503) {
    grpc = kGrpcUnavailable;
  } else if (http_status >= 400 && http_status < 500) {
    grpc = kGrpcInvalidArgument;
  }
  HttpResponse response =
      OtlpAnswer(http_status, ingest::EncodeOtlpStatus(grpc, status.message(), json), json);
  if (http_status == 429 || http_status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace

HttpResponse HandleOtlpLogs(const HttpRequest& request, ingest::Pipeline* pipeline) {
  const std::string content_type = request.Header("content-type");
  const bool json = content_type.find("application/json") != std::string::npos;
  const bool protobuf = content_type.find("application/x-protobuf") != std::string::npos ||
                        content_type.find("application/protobuf") != std::string::npos;
  if (!json && !protobuf) {
    return OtlpAnswer(415,
                      ingest::EncodeOtlpStatus(kGrpcInvalidArgument,
                                               "unsupported Content-Type \"" + content_type +
                                                   "\": use application/x-protobuf or "
                                                   "application/json",
                                               true),
                      true);
  }
  Result<ingest::ShipperContext> context = pipeline->Begin(IngestCallFromRequest(request, "otlp"));
  if (!context.ok()) return OtlpFailure(context.status(), json);
  Result<ingest::OtlpBatch> batch = json ? ingest::DecodeOtlpLogsJson(request.body, *context)
                                         : ingest::DecodeOtlpLogsProtobuf(request.body, *context);
  if (!batch.ok()) return OtlpFailure(batch.status(), json);
  Status status = pipeline->Submit(*context, "otlp", &batch->records);
  if (!status.ok()) return OtlpFailure(status, json);
  return OtlpAnswer(200, ingest::EncodeOtlpResponse(*batch, json), json);
}

}  // namespace sawmill::http
