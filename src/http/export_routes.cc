#include "http/export_routes.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <optional>
#include <vector>

#include "common/json_string.h"
#include "common/time_format.h"
#include "http/json_writer.h"
#include "query/parser.h"

namespace sawmill::http {

namespace {

// Hits one page holds: what one native search returns at a time (memory stays about this many
// records, whatever the export's size).
constexpr size_t kPageHits = 1000;
// Exports running at once: each holds a worker thread while it streams.
constexpr int kMaxConcurrentExports = 4;

std::atomic<int> running_exports{0};

bool Truthy(std::string_view value) {
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

std::string Instant(int64_t ns) { return FormatRfc3339Nanos(ns); }

// Pages of the hits of a filter in [from, to), in order, each complete and exact: newest first
// by native searches whose range ends at the cursor; oldest first by walking time windows
// forward, each small enough that the native search (newest first) returns all of its hits.
class HitPager {
 public:
  HitPager(query::QueryEngine* engine, query::SearchRequest base, int64_t from, int64_t to,
           bool oldest_first, std::optional<Cursor> cursor)
      : engine_(engine),
        base_(std::move(base)),
        from_(from),
        to_(to),
        oldest_first_(oldest_first),
        cursor_(cursor) {
    if (cursor_) {
      if (oldest_first_) {
        from_ = std::max(from_, cursor_->time);
      } else if (cursor_->time < INT64_MAX) {
        to_ = std::min(to_, cursor_->time + 1);
      }
    }
    window_ = std::max<int64_t>((to_ - from_) / 64, 1'000'000'000);
  }

  // The next page (empty: no more hits). Errors: the native search's, or Unavailable when a
  // page was cut short (time limit, client gone): an export is complete or an error.
  Result<std::vector<Record>> Next() {
    if (done_) return std::vector<Record>();
    return oldest_first_ ? NextOldest() : NextNewest();
  }

  const std::optional<Cursor>& cursor() const { return cursor_; }

 private:
  Result<std::vector<Record>> Search(int64_t from, int64_t to, size_t limit) {
    query::SearchRequest search = base_;
    search.since.clear();
    search.all_time = false;
    search.from = Instant(from);
    search.to = Instant(to);
    search.limit = limit;
    search.use_cache = false;
    if (cursor_) {
      search.q = "(" + base_.q + ") AND " +
                 AfterCursorFilter(*cursor_, base_.time_field_ts, oldest_first_);
    }
    auto answer = engine_->Search(search);
    if (!answer.ok()) return answer.status();
    if (answer->partial) {
      return Status::Unavailable("the export stopped: " + (answer->warnings.empty()
                                                               ? std::string("a page was cut short")
                                                               : answer->warnings[0]));
    }
    return std::move(answer->hits);
  }

  void Advance(const std::vector<Record>& page) {
    if (!page.empty()) {
      const Record& last = page.back();
      cursor_ = Cursor{base_.time_field_ts ? last.ts : last.ingest_ts, last.ingest_ts, last.seq};
    }
  }

  Result<std::vector<Record>> NextNewest() {
    auto page = Search(from_, to_, kPageHits);
    if (!page.ok()) return page.status();
    if (page->size() < kPageHits) done_ = true;
    Advance(*page);
    if (cursor_) to_ = std::min(to_, cursor_->time + 1);
    return page;
  }

  Result<std::vector<Record>> NextOldest() {
    while (from_ < to_) {
      const int64_t hi = to_ - from_ > window_ ? from_ + window_ : to_;
      auto page = Search(from_, hi, kPageHits);
      if (!page.ok()) return page.status();
      if (page->size() >= kPageHits) {
        if (hi - from_ > 1) {
          window_ = std::max<int64_t>((hi - from_) / 4, 1);  // too many: a smaller window
          continue;
        }
        // One nanosecond holding a full page: take it whole, up to the search limit.
        page = Search(from_, hi, 10'000);
        if (!page.ok()) return page.status();
        if (page->size() >= 10'000) {
          return Status::ResourceExhausted("more than 10,000 matching lines carry the timestamp " +
                                           Instant(from_) +
                                           ": export them newest first (order=newest)");
        }
      }
      std::reverse(page->begin(), page->end());  // oldest first
      from_ = hi;
      if (window_ < INT64_MAX / 2) window_ *= 2;
      if (!page->empty()) {
        Advance(*page);
        return page;
      }
    }
    done_ = true;
    return std::vector<Record>();
  }

  query::QueryEngine* engine_;
  query::SearchRequest base_;
  int64_t from_, to_;
  bool oldest_first_;
  std::optional<Cursor> cursor_;
  int64_t window_ = 0;
  bool done_ = false;
};

void AppendCsvCell(std::string_view value, std::string* out) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

std::string CsvValue(const Record& r, const std::string& column) {
  if (column == "ts") return FormatRfc3339Nanos(r.ts);
  if (column == "ingest_ts") return FormatRfc3339Nanos(r.ingest_ts);
  if (column == "id" || column == "seq") return std::to_string(r.seq);
  if (column == "service") return r.service;
  if (column == "host") return r.host;
  if (column == "level") return r.level == Level::kUnknown ? "" : std::string(LevelName(r.level));
  if (column == "message" || column == "msg") return r.message;
  if (column == "trace_id") return r.trace_id;
  if (column == "span_id") return r.span_id;
  if (column == "user_id") return r.user_id;
  const std::string* v = r.FindField(column);
  return v == nullptr ? std::string() : *v;
}

struct ExportRelease {
  ~ExportRelease() { running_exports.fetch_sub(1); }
};

HttpResponse HandleExport(ApiState* state, const HttpRequest& request) {
  query::QueryEngine* engine = state->query.load();
  if (!state->ready.load() || engine == nullptr) {
    return HttpResponse::Error(Status::Unavailable("the server is starting or stopping"));
  }
  query::SearchRequest base;
  base.tenant = request.tenant;
  base.user = request.Header("x-sawmill-user", request.remote_address);
  base.q = request.Query("q");
  if (base.q.empty()) base.q = "*";
  base.cancelled = request.client_gone.get();
  auto parsed = query::ParseQuery(base.q);
  if (!parsed.ok()) {
    return HttpResponse::Error(parsed.status(), ErrorPosition(parsed.status().message(), base.q));
  }
  if (!parsed->pipes.empty()) {
    return HttpResponse::Error(Status::InvalidArgument(
        "q: export takes a filter, not pipes (it streams every matching line; use "
        "/api/v1/search for a pipe's rows)"));
  }
  const std::string time_field = request.Query("time_field", "ingest_ts");
  if (time_field != "ingest_ts" && time_field != "ts") {
    return HttpResponse::Error(Status::InvalidArgument(
        "time_field: expected 'ingest_ts' (default) or 'ts', got '" + time_field + "'"));
  }
  base.time_field_ts = time_field == "ts";
  auto range =
      query::ParseTimeRange(request.Query("since"), request.Query("from"), request.Query("to"),
                            Truthy(request.Query("all_time")), state->clock->NowNanos());
  if (!range.ok()) return HttpResponse::Error(range.status());
  const std::string order = request.Query("order", "newest");
  if (order != "newest" && order != "oldest") {
    return HttpResponse::Error(Status::InvalidArgument(
        "order: expected 'newest' (default) or 'oldest', got '" + order + "'"));
  }
  const std::string format = request.Query("format", "ndjson");
  if (format != "ndjson" && format != "csv") {
    return HttpResponse::Error(Status::InvalidArgument(
        "format: expected 'ndjson' (default) or 'csv', got '" + format + "'"));
  }
  std::vector<std::string> columns = {"ts", "service", "host", "level", "message"};
  if (request.HasQuery("fields")) {
    columns.clear();
    const std::string list = request.Query("fields");
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = std::min(list.find(',', pos), list.size());
      if (comma > pos) columns.push_back(list.substr(pos, comma - pos));
      pos = comma + 1;
    }
    if (columns.empty()) return HttpResponse::Error(Status::InvalidArgument("fields: empty"));
  }
  std::optional<Cursor> cursor;
  if (request.HasQuery("cursor")) {
    auto c = ParseCursor(request.Query("cursor"));
    if (!c.ok()) return HttpResponse::Error(c.status());
    cursor = *c;
  }
  if (running_exports.fetch_add(1) >= kMaxConcurrentExports) {
    running_exports.fetch_sub(1);
    HttpResponse busy = HttpResponse::Error(Status::ResourceExhausted(
        std::to_string(kMaxConcurrentExports) + " exports are running; retry later"));
    busy.headers.emplace_back("Retry-After", "5");
    return busy;
  }
  auto release = std::make_shared<ExportRelease>();
  auto pager = std::make_shared<HitPager>(engine, base, range->from_ns, range->to_ns,
                                          order == "oldest", cursor);
  // The first page before answering: a bad query or a refused search is a plain error.
  auto first = pager->Next();
  if (!first.ok()) return HttpResponse::Error(first.status());
  auto pending = std::make_shared<std::vector<Record>>(std::move(*first));
  const bool csv = format == "csv";
  const bool ts_field = base.time_field_ts;
  auto header_sent = std::make_shared<bool>(false);

  HttpResponse response;
  response.status = 200;
  response.content_type = csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
  response.stream = [pager, pending, release, csv, ts_field, columns,
                     header_sent](std::string* chunk) -> bool {
    if (csv && !*header_sent) {
      *header_sent = true;
      for (size_t i = 0; i < columns.size(); ++i) {
        if (i > 0) chunk->push_back(',');
        AppendCsvCell(columns[i], chunk);
      }
      chunk->append("\r\n");
    }
    if (pending->empty()) return false;
    for (const Record& r : *pending) {
      if (csv) {
        for (size_t i = 0; i < columns.size(); ++i) {
          if (i > 0) chunk->push_back(',');
          AppendCsvCell(CsvValue(r, columns[i]), chunk);
        }
        chunk->append("\r\n");
      } else {
        AppendRecordJson(r, chunk);
        chunk->push_back('\n');
      }
    }
    auto next = pager->Next();
    if (!next.ok()) {
      // Past the first page the status is sent: the error is the last line, with the cursor
      // to resume from.
      const std::string cursor = pager->cursor() ? std::to_string(pager->cursor()->time) + "_" +
                                                       std::to_string(pager->cursor()->ingest_ts) +
                                                       "_" + std::to_string(pager->cursor()->seq)
                                                 : std::string();
      if (csv) {
        chunk->append("# error: " + next.status().message() + "; resume with cursor=" + cursor +
                      "\r\n");
      } else {
        chunk->append("{\"error\":");
        AppendJsonString(next.status().message(), chunk);
        chunk->append(",\"cursor\":");
        AppendJsonString(cursor, chunk);
        chunk->append("}\n");
      }
      pending->clear();
      return false;
    }
    *pending = std::move(*next);
    (void)ts_field;
    return !pending->empty();
  };
  return response;
}

}  // namespace

Result<std::vector<Record>> OldestHits(query::QueryEngine* engine, const query::SearchRequest& base,
                                       int64_t from, int64_t to, size_t limit) {
  HitPager pager(engine, base, from, to, /*oldest_first=*/true, std::nullopt);
  std::vector<Record> out;
  while (out.size() < limit) {
    auto page = pager.Next();
    if (!page.ok()) return page.status();
    if (page->empty()) break;
    for (Record& r : *page) {
      if (out.size() == limit) break;
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::string FormatCursor(const Record& hit, bool time_field_ts) {
  return std::to_string(time_field_ts ? hit.ts : hit.ingest_ts) + "_" +
         std::to_string(hit.ingest_ts) + "_" + std::to_string(hit.seq);
}

Result<Cursor> ParseCursor(std::string_view text) {
  Cursor c;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  auto bad = [&] {
    return Status::InvalidArgument(
        "cursor: expected <time ns>_<ingest_ts ns>_<id> (as a "
        "search answer's next_cursor gives it), got '" +
        std::string(text) + "'");
  };
  auto r1 = std::from_chars(p, end, c.time);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '_') return bad();
  auto r2 = std::from_chars(r1.ptr + 1, end, c.ingest_ts);
  if (r2.ec != std::errc() || r2.ptr == end || *r2.ptr != '_') return bad();
  auto r3 = std::from_chars(r2.ptr + 1, end, c.seq);
  if (r3.ec != std::errc() || r3.ptr != end) return bad();
  return c;
}

std::string AfterCursorFilter(const Cursor& cursor, bool time_field_ts, bool oldest_first) {
  // Hits are ordered by (time field, ingest_ts, seq). Keep those strictly after the cursor:
  // newest first, a smaller key; oldest first, a larger one. Spelled with the comparisons the
  // native language has on times and numbers.
  const std::string field = time_field_ts ? "ts" : "ingest_ts";
  const std::string t = FormatRfc3339Nanos(cursor.time);
  const std::string i = FormatRfc3339Nanos(cursor.ingest_ts);
  const std::string s = std::to_string(cursor.seq);
  const char* lt = oldest_first ? ">" : "<";
  const std::string same_time = field + ">=" + t + " AND " + field + "<=" + t;
  std::string after_within;  // same time: by ingest_ts, then seq
  if (time_field_ts) {
    const std::string same_ingest = "ingest_ts>=" + i + " AND ingest_ts<=" + i;
    after_within =
        "ingest_ts" + std::string(lt) + i + " OR (" + same_ingest + " AND seq" + lt + s + ")";
  } else {
    after_within = "seq" + std::string(lt) + s;
  }
  return "(" + field + lt + t + " OR (" + same_time + " AND (" + after_within + ")))";
}

void RegisterExportRoutes(Router* router, ApiState* state) {
  router->Add("GET", "/api/v1/export",
              [state](const HttpRequest& r) { return HandleExport(state, r); });
}

}  // namespace sawmill::http
