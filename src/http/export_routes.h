// GET /api/v1/export: every hit of a filter query, streamed as NDJSON or CSV, newest or oldest
// first, with no cap, in constant memory (pages of native searches), resumable with a cursor,
// stopped when the client goes away. And the cursors /api/v1/search pages with. See
// docs/api.md "GET /api/v1/export".
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/api_routes.h"
#include "http/router.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::http {

void RegisterExportRoutes(Router* router, ApiState* state);

// The oldest "limit" hits of the filter "base.q" in [from, to), oldest first (the native engine
// finds the newest first; this walks time windows forward). For Loki's direction=forward.
Result<std::vector<Record>> OldestHits(query::QueryEngine* engine, const query::SearchRequest& base,
                                       int64_t from, int64_t to, size_t limit);

// Calls "fn" for each hit of the filter "base.q" in [from, to), newest first, at most
// "max_hits" (then *truncated is set), a page of 1,000 at a time (memory stays one page).
// Errors: the native search's; Unavailable when a page was cut short (time limit, client gone).
Status ForEachHit(query::QueryEngine* engine, const query::SearchRequest& base, int64_t from,
                  int64_t to, size_t max_hits, const std::function<void(const Record&)>& fn,
                  bool* truncated);

// A position in the hit order: the hit's time field, ingest_ts and id (seq), which order hits
// totally. Written "<time ns>_<ingest_ts ns>_<id>".
struct Cursor {
  int64_t time = 0;
  int64_t ingest_ts = 0;
  uint64_t seq = 0;
};

std::string FormatCursor(const Record& hit, bool time_field_ts);
// Errors: InvalidArgument naming the expected form.
Result<Cursor> ParseCursor(std::string_view text);

// A native filter that keeps the hits strictly after "cursor" in the order (newest first, or
// oldest first): combined with the query as "(q) AND <this>".
std::string AfterCursorFilter(const Cursor& cursor, bool time_field_ts, bool oldest_first);

}  // namespace sawmill::http
