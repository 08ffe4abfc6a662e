#include "http/router.h"

#include <gtest/gtest.h>

namespace sawmill::http {
namespace {

Handler Answer(int code) {
  return [code](const HttpRequest&) { return HttpResponse::Json(code, "{}"); };
}

int Call(const Router& router, std::string_view method, std::string_view path) {
  bool not_allowed = false;
  const Handler* handler = router.Find(method, path, &not_allowed);
  if (handler == nullptr) return not_allowed ? 405 : 404;
  return (*handler)(HttpRequest{}).status;
}

TEST(Router, ExactPathsMatchOnlyThemselves) {
  Router router;
  router.Add("POST", "/api/v1/ingest", Answer(201));
  EXPECT_EQ(Call(router, "POST", "/api/v1/ingest"), 201);
  EXPECT_EQ(Call(router, "POST", "/api/v1/ingest/x"), 404);
  EXPECT_EQ(Call(router, "POST", "/api/v1"), 404);
}

TEST(Router, WrongMethodIsToldApartFromUnknownPath) {
  Router router;
  router.Add("POST", "/api/v1/ingest", Answer(200));
  EXPECT_EQ(Call(router, "GET", "/api/v1/ingest"), 405);
  EXPECT_EQ(Call(router, "GET", "/nowhere"), 404);
}

TEST(Router, BracedSegmentMatchesAnyOneSegment) {
  Router router;
  router.Add("POST", "/{index}/_bulk", Answer(200));
  EXPECT_EQ(Call(router, "POST", "/logs-2024/_bulk"), 200);
  EXPECT_EQ(Call(router, "POST", "/a/b/_bulk"), 404);
  EXPECT_EQ(Call(router, "POST", "/_bulk"), 404);
}

TEST(Router, ExactRouteWinsOverPatternRegisteredFirst) {
  Router router;
  router.Add("POST", "/{index}/_bulk", Answer(201));
  router.Add("POST", "/api/_bulk", Answer(202));
  EXPECT_EQ(Call(router, "POST", "/api/_bulk"), 202);
  EXPECT_EQ(Call(router, "POST", "/other/_bulk"), 201);
}

TEST(Router, StarSuffixMatchesPrefix) {
  Router router;
  router.Add("GET", "/ui/*", Answer(200));
  EXPECT_EQ(Call(router, "GET", "/ui/app.js"), 200);
  EXPECT_EQ(Call(router, "GET", "/ui/css/a.css"), 200);
  EXPECT_EQ(Call(router, "GET", "/uix"), 404);
}

TEST(Router, HeadIsServedByGetRoute) {
  Router router;
  router.Add("GET", "/healthz", Answer(200));
  EXPECT_EQ(Call(router, "HEAD", "/healthz"), 200);
}

TEST(Router, PatternOfNamesTheRouteForMetrics) {
  Router router;
  router.Add("POST", "/{index}/_bulk", Answer(200));
  const Handler* handler = router.Find("POST", "/abc/_bulk", nullptr);
  EXPECT_EQ(router.PatternOf(handler), "/{index}/_bulk");
  EXPECT_EQ(router.PatternOf(nullptr), "unmatched");
}

TEST(StatusToHttp, EachCodeHasOneStatus) {
  EXPECT_EQ(StatusToHttp(Status::OK()), 200);
  EXPECT_EQ(StatusToHttp(Status::InvalidArgument("x")), 400);
  EXPECT_EQ(StatusToHttp(Status::NotFound("x")), 404);
  EXPECT_EQ(StatusToHttp(Status::ResourceExhausted("x")), 429);
  EXPECT_EQ(StatusToHttp(Status::Unavailable("x")), 503);
  EXPECT_EQ(StatusToHttp(Status::DeadlineExceeded("x")), 503);
  EXPECT_EQ(StatusToHttp(Status::FailedPrecondition("x")), 409);
  EXPECT_EQ(StatusToHttp(Status::AlreadyExists("x")), 409);
  EXPECT_EQ(StatusToHttp(Status::DataLoss("x")), 500);
  EXPECT_EQ(StatusToHttp(Status::Internal("x")), 500);
  EXPECT_EQ(StatusToHttp(Status::Unauthenticated("x")), 401);
  EXPECT_EQ(StatusToHttp(Status::PermissionDenied("x")), 403);
  HttpResponse quota = HttpResponse::Error(Status::ResourceExhausted("over quota"));
  ASSERT_EQ(quota.headers.size(), 1u);
  EXPECT_EQ(quota.headers[0].first, "Retry-After");
  EXPECT_EQ(quota.headers[0].second, "1");
  // A quota that knows when it frees says so; the header carries it.
  HttpResponse hour = HttpResponse::Error(
      Status::ResourceExhausted("over the scan quota; refused until 10:00Z (retry in 1234 s)"));
  ASSERT_EQ(hour.headers.size(), 1u);
  EXPECT_EQ(hour.headers[0].second, "1234");
  HttpResponse denied = HttpResponse::Error(Status::Unauthenticated("no token"));
  ASSERT_EQ(denied.headers.size(), 1u);
  EXPECT_EQ(denied.headers[0].first, "WWW-Authenticate");
}

TEST(HttpResponse, ErrorIsJsonWithPositionAndRetryAfterWhenUnavailable) {
  HttpResponse bad = HttpResponse::Error(Status::InvalidArgument("bad \"q\"\n"), 7);
  EXPECT_EQ(bad.status, 400);
  // Escaped by the one JSON string writer (common/json_string.h): a newline is \n.
  EXPECT_EQ(bad.body, R"({"error":"bad \"q\"\n","position":7})");
  HttpResponse busy = HttpResponse::Error(Status::Unavailable("disk full"));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.body, R"({"error":"disk full"})");
  ASSERT_EQ(busy.headers.size(), 1u);
  EXPECT_EQ(busy.headers[0].first, "Retry-After");
  // 429 (a quota, disk pressure): the client should come back later, and is told when.
  HttpResponse shed = HttpResponse::Error(Status::ResourceExhausted("disk pressure"));
  EXPECT_EQ(shed.status, 429);
  ASSERT_EQ(shed.headers.size(), 1u);
  EXPECT_EQ(shed.headers[0].first, "Retry-After");
}

TEST(HttpRequest, QueryAndHeaderFallBack) {
  HttpRequest request;
  request.query.emplace("q", "level=ERROR");
  request.headers.emplace("x-scope-orgid", "acme");
  EXPECT_EQ(request.Query("q"), "level=ERROR");
  EXPECT_EQ(request.Query("limit", "100"), "100");
  EXPECT_TRUE(request.HasQuery("q"));
  EXPECT_FALSE(request.HasQuery("since"));
  EXPECT_EQ(request.Header("x-scope-orgid"), "acme");
  EXPECT_EQ(request.Header("accept", "*/*"), "*/*");
}

}  // namespace
}  // namespace sawmill::http
