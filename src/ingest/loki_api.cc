// Loki-compatible endpoints: push and the probes some clients make.
#include <algorithm>

#include "ingest/loki_push.h"
#include "ingest/shipper_handlers.h"
#include "ingest/shipper_record.h"

namespace sawmill::ingest {

namespace {

// Loki's own bound on a decompressed push (its default max_recv_msg_size is 100 MB).
constexpr size_t kMaxDecodedBytes = size_t{100} * 1024 * 1024;

// Loki answers errors as text/plain; Promtail and Alloy log the text and retry 429 and 5xx
// (but never 4xx, which drops the batch).
http::HttpResponse LokiError(int status, std::string message) {
  http::HttpResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(message);
  response.body += '\n';
  if (status == 503 || status == 429) response.headers.emplace_back("Retry-After", "1");
  return response;
}

// The same classes http::StatusToHttp gives, with size limits as 413 (never retried).
int LokiStatusOf(const Status& status, bool decoding) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kResourceExhausted: return decoding ? 413 : 429;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded: return 503;
    default: return 500;
  }
}

}  // namespace

http::HttpResponse HandleLokiPush(const http::HttpRequest& request, http::IngestSink* sink) {
  ShipperContext context = ContextFromRequest(request, WallNanos());
  std::string_view content_type = RequestHeader(request, "content-type");
  Result<std::vector<Record>> records =
      content_type.find("json") != std::string_view::npos
          ? DecodeLokiPushJson(request.body, context)
          : DecodeLokiPushProtobuf(request.body, context,
                                   request.max_decoded_bytes > 0
                                       ? std::min(request.max_decoded_bytes, kMaxDecodedBytes)
                                       : kMaxDecodedBytes);
  if (!records.ok())
    return LokiError(LokiStatusOf(records.status(), true), records.status().message());
  if (!records->empty()) {
    Status status = sink->Ingest(context.tenant, "loki", &*records);
    if (!status.ok()) return LokiError(LokiStatusOf(status, false), status.message());
  }
  http::HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

http::HttpResponse HandleLokiProbe(const http::HttpRequest& request) {
  http::HttpResponse response;
  if (request.path.find("buildinfo") != std::string::npos) {
    response.body =
        "{\"version\":\"3.0.0\",\"revision\":\"sawmill\",\"branch\":\"sawmill\","
        "\"goVersion\":\"\"}";
    return response;
  }
  response.content_type = "text/plain; charset=utf-8";
  response.body = "ready\n";
  return response;
}

}  // namespace sawmill::ingest
