// Loki-compatible endpoints: push and the probes some clients make.
#include <algorithm>

#include "http/shipper_handlers.h"
#include "http/shipper_routes.h"
#include "ingest/loki_push.h"

namespace sawmill::http {

namespace {

// Loki's own bound on a decompressed push (its default max_recv_msg_size is 100 MB).
constexpr size_t kMaxDecodedBytes = size_t{100} * 1024 * 1024;

// Loki answers errors as text/plain; Promtail and Alloy log the text and retry 429 and 5xx
// (but never 4xx, which drops the batch).
HttpResponse LokiError(const Status& status, bool decoding) {
  HttpResponse response;
  // A push that would inflate past the bound is 413 like Loki's (never retried: it would not
  // fit next time either); every other status as StatusToHttp maps it.
  response.status = decoding && status.IsResourceExhausted() ? 413 : StatusToHttp(status);
  response.content_type = "text/plain; charset=utf-8";
  response.body = status.message();
  response.body += '\n';
  if (response.status == 503 || response.status == 429) {
    response.headers.emplace_back("Retry-After", "1");
  }
  return response;
}

}  // namespace

HttpResponse HandleLokiPush(const HttpRequest& request, ingest::Pipeline* pipeline) {
  Result<ingest::ShipperContext> context = pipeline->Begin(IngestCallFromRequest(request, "loki"));
  if (!context.ok()) return LokiError(context.status(), true);
  const std::string content_type = request.Header("content-type");
  Result<std::vector<Record>> records =
      content_type.find("json") != std::string::npos
          ? ingest::DecodeLokiPushJson(request.body, *context)
          : ingest::DecodeLokiPushProtobuf(
                request.body, *context,
                request.max_decoded_bytes > 0
                    ? std::min(request.max_decoded_bytes, kMaxDecodedBytes)
                    : kMaxDecodedBytes);
  if (!records.ok()) return LokiError(records.status(), true);
  Status status = pipeline->Submit(*context, "loki", &*records);
  if (!status.ok()) return LokiError(status, false);
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

HttpResponse HandleLokiProbe(const HttpRequest& request) {
  HttpResponse response;
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

}  // namespace sawmill::http
