#include "http/export_routes.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "common/json_string.h"
#include "common/metrics.h"
#include "common/time_format.h"
#include "http/json_writer.h"
#include "http/tenant_limits.h"
#include "query/parser.h"

namespace sawmill::http {

namespace {

// Hits one page holds: what one native search returns at a time (memory stays about this many
// records, whatever the export's size).
constexpr size_t kPageHits = 1000;
// Exports running at once: each holds a worker thread while it streams.
constexpr int kMaxConcurrentExports = 4;
// Bytes one piece of the stream holds (the last record may pass it): with the page, the most an
// export holds in memory.
constexpr size_t kChunkBytes = 256 * 1024;

std::atomic<int> running_exports{0};

bool Truthy(std::string_view value) {
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

std::string Instant(int64_t ns) { return FormatRfc3339Nanos(ns); }

// b - a for a <= b, saturated at INT64_MAX: an all_time range is [INT64_MIN, INT64_MAX), whose
// width does not fit in an int64 (computed plainly it wrapped negative, and the oldest-first
// walk searched the whole range again and again: the export hung).
int64_t Span(int64_t a, int64_t b) {
  const uint64_t d = static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
  return d > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(d);
}

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
    window_ = std::max<int64_t>(Span(from_, to_) / 64, 1'000'000'000);
    // Newest first starts with at most an hour: the newest lines are usually dense, and a
    // window too small doubles at the cost of one search per doubling.
    if (!oldest_first_) window_ = std::min<int64_t>(window_, 3'600'000'000'000);
  }

  // The next page (empty: no more hits). Errors: the native search's, or Unavailable when a
  // page was cut short (time limit, client gone): an export is complete or an error.
  Result<std::vector<Record>> Next() {
    if (done_) return std::vector<Record>();
    return oldest_first_ ? NextOldest() : NextNewest();
  }

  const std::optional<Cursor>& cursor() const { return cursor_; }

 private:
  // The newest "limit" hits in [from, to) after the cursor (and before "before", when set).
  Result<std::vector<Record>> Search(int64_t from, int64_t to, size_t limit,
                                     const Cursor* before = nullptr) {
    query::SearchRequest search = base_;
    search.since.clear();
    search.all_time = false;
    search.from = Instant(from);
    search.to = Instant(to);
    search.limit = limit;
    search.use_cache = false;
    if (cursor_) {
      search.q = "(" + search.q + ") AND " +
                 AfterCursorFilter(*cursor_, base_.time_field_ts, oldest_first_);
    }
    if (before != nullptr) {
      search.q = "(" + search.q + ") AND " +
                 AfterCursorFilter(*before, base_.time_field_ts, /*oldest_first=*/false);
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

  // Moves the cursor to the page's last hit. Errors: Internal when that is not strictly past
  // the previous cursor (the next page would repeat this one: an export must never loop).
  Status Advance(const std::vector<Record>& page) {
    if (page.empty()) return Status::OK();
    const Record& last = page.back();
    Cursor next{base_.time_field_ts ? last.ts : last.ingest_ts, last.ingest_ts, last.seq};
    if (cursor_) {
      auto key = [](const Cursor& c) { return std::tuple(c.time, c.ingest_ts, c.seq); };
      const bool forward = oldest_first_ ? key(next) > key(*cursor_) : key(next) < key(*cursor_);
      if (!forward) {
        return Status::Internal("the export made no progress past cursor " +
                                std::to_string(cursor_->time) + "_" +
                                std::to_string(cursor_->ingest_ts) + "_" +
                                std::to_string(cursor_->seq) + " (a bug; please report it)");
      }
    }
    cursor_ = next;
    return Status::OK();
  }

  // Newest first, by time windows walked backward from to_: a native search finds the newest
  // hits but reads every block of its range that could hold one, so a range reaching back to
  // the start would make each page cost the whole export. A full page in [lo, to_) is the
  // newest of everything left (nothing below lo is newer); a page that is not full is all of
  // that window, and the walk goes on below it. The window follows the time the last full page
  // spanned (twice it), and doubles over a window with too few hits.
  Result<std::vector<Record>> NextNewest() {
    while (to_ > from_) {
      const int64_t lo = Span(from_, to_) > window_ ? to_ - window_ : from_;
      auto page = Search(lo, to_, kPageHits);
      if (!page.ok()) return page.status();
      if (Status st = Advance(*page); !st.ok()) return st;
      if (page->size() >= kPageHits) {
        const int64_t spanned = Span(cursor_->time, to_);
        to_ = std::min(to_, cursor_->time + 1);
        window_ = std::max<int64_t>(std::min<int64_t>(spanned, INT64_MAX / 4) * 2, 1);
        return page;
      }
      to_ = lo;  // [lo, to_) is done
      if (window_ < INT64_MAX / 2) window_ *= 2;
      if (!page->empty()) return page;
    }
    done_ = true;
    return std::vector<Record>();
  }

  Cursor KeyOf(const Record& r) const {
    return Cursor{base_.time_field_ts ? r.ts : r.ingest_ts, r.ingest_ts, r.seq};
  }

  Result<std::vector<Record>> NextOldest() {
    if (!same_time_uppers_.empty()) return NextAtSameTime();
    while (from_ < to_) {
      const int64_t hi = Span(from_, to_) > window_ ? from_ + window_ : to_;
      auto page = Search(from_, hi, kPageHits);
      if (!page.ok()) return page.status();
      if (page->size() >= kPageHits) {
        if (Span(from_, hi) > 1) {
          window_ = std::max<int64_t>(Span(from_, hi) / 4, 1);  // too many: a smaller window
          continue;
        }
        // One time value holding a page or more (a batch's ingest_ts is one value): ordered
        // by the rest of the key, below.
        return StartSameTime(std::move(*page));
      }
      std::reverse(page->begin(), page->end());  // oldest first
      from_ = hi;
      if (window_ < INT64_MAX / 2) window_ *= 2;
      if (!page->empty()) {
        if (Status st = Advance(*page); !st.ok()) return st;
        return page;
      }
    }
    done_ = true;
    return std::vector<Record>();
  }

  // The hits at the time from_, when they fill a page or more. The native search finds the
  // newest first, so they are first walked newest first, page by page, keeping only each
  // page's upper bound (one cursor per page); then written oldest first, each page found again
  // as the hits after the cursor and below its bound, which are exactly one page.
  Result<std::vector<Record>> StartSameTime(std::vector<Record> newest) {
    std::vector<Record> page = std::move(newest);
    std::optional<Cursor> upper;  // the current page's exclusive upper bound; none: the top
    same_time_uppers_.clear();
    while (page.size() >= kPageHits) {
      same_time_uppers_.push_back(upper);
      upper = KeyOf(page.back());
      auto below = Search(from_, from_ + 1, kPageHits, &*upper);
      if (!below.ok()) {
        same_time_uppers_.clear();
        return below.status();
      }
      page = std::move(*below);
    }
    // "page": the oldest hits of that time (fewer than a page), written first.
    std::reverse(page.begin(), page.end());
    if (page.empty()) return NextAtSameTime();
    if (Status st = Advance(page); !st.ok()) return st;
    return page;
  }

  Result<std::vector<Record>> NextAtSameTime() {
    std::optional<Cursor> upper = same_time_uppers_.back();
    same_time_uppers_.pop_back();
    auto page = Search(from_, from_ + 1, kPageHits, upper ? &*upper : nullptr);
    if (!page.ok()) return page.status();
    std::reverse(page->begin(), page->end());
    if (same_time_uppers_.empty()) {
      from_ += 1;  // that time is done
      if (page->empty()) return NextOldest();
    }
    if (page->empty()) return NextAtSameTime();
    if (Status st = Advance(*page); !st.ok()) return st;
    return page;
  }

  query::QueryEngine* engine_;
  query::SearchRequest base_;
  int64_t from_, to_;
  bool oldest_first_;
  std::optional<Cursor> cursor_;
  int64_t window_ = 0;
  bool done_ = false;
  // Oldest first, at one time value holding more than a page: the exclusive upper bounds of
  // the pages still to write there, the next one last (nullopt: no bound).
  std::vector<std::optional<Cursor>> same_time_uppers_;
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

struct ExportMetrics {
  prometheus::Family<prometheus::Counter>* outcomes;
  prometheus::Counter* lines;
  prometheus::Counter* bytes;
  prometheus::Gauge* running;
};

ExportMetrics& Metrics() {
  static ExportMetrics m = [] {
    ExportMetrics out;
    out.outcomes = &prometheus::BuildCounter()
                        .Name("sawmill_exports_total")
                        .Help(
                            "Exports (GET /api/v1/export) that ended, by outcome: complete, "
                            "client_gone (the client left or stopped reading), error")
                        .Register(MetricsRegistry());
    out.lines = UnlabelledCounter("sawmill_export_lines_total", "Lines written by exports");
    out.bytes = UnlabelledCounter("sawmill_export_bytes_total",
                                  "Bytes of NDJSON or CSV written by exports");
    out.running = UnlabelledGauge("sawmill_exports_running", "Exports streaming now");
    return out;
  }();
  return m;
}

std::string CursorText(const Cursor& c) {
  return std::to_string(c.time) + "_" + std::to_string(c.ingest_ts) + "_" + std::to_string(c.seq);
}

// One running export: its pager, the page being written and how it ended. Destroyed when the
// server drops the stream (finished, or the client gone): the slot is freed and the outcome
// counted there.
struct ExportRun {
  std::shared_ptr<HitPager> pager;
  std::vector<Record> page;  // the current page (at most kPageHits records)
  size_t next = 0;           // its first record not written yet
  bool csv = false;
  bool header_sent = false;
  std::vector<std::string> columns;
  std::shared_ptr<const std::atomic<bool>> client_gone;  // may be null
  const char* outcome = "client_gone";                   // until it ends otherwise
  // Rows in the pieces written so far, for the audit entry (HttpResponse::stream_rows): a
  // piece's rows count once the server asks for the next piece, which it does only after the
  // piece was written.
  std::shared_ptr<std::atomic<int64_t>> rows_written = std::make_shared<std::atomic<int64_t>>(0);
  int64_t rows_in_piece = 0;

  ~ExportRun() {
    running_exports.fetch_sub(1);
    ExportMetrics& m = Metrics();
    m.running->Decrement();
    m.outcomes->Add({{"outcome", outcome}}).Increment();
  }

  void WriteRecord(const Record& r, std::string* chunk) const {
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

  // HttpResponse::stream: appends at most about kChunkBytes; false once everything is written.
  bool Produce(std::string* chunk) {
    rows_written->fetch_add(rows_in_piece);
    rows_in_piece = 0;
    const size_t before = chunk->size();
    const bool more = ProduceInner(chunk);
    Metrics().bytes->Increment(static_cast<double>(chunk->size() - before));
    return more;
  }

  bool ProduceInner(std::string* chunk) {
    if (csv && !header_sent) {
      header_sent = true;
      for (size_t i = 0; i < columns.size(); ++i) {
        if (i > 0) chunk->push_back(',');
        AppendCsvCell(columns[i], chunk);
      }
      chunk->append("\r\n");
    }
    if (next == page.size()) {
      if (client_gone && client_gone->load()) return false;  // outcome stays client_gone
      auto more = pager->Next();
      if (!more.ok()) {
        // Past the first page the status is sent: the error is the last line, with the cursor
        // to resume from.
        const std::string cursor = pager->cursor() ? CursorText(*pager->cursor()) : "";
        if (client_gone && client_gone->load()) return false;
        outcome = "error";
        if (csv) {
          chunk->append("# error: " + more.status().message() + "; resume with cursor=" + cursor +
                        "\r\n");
        } else {
          chunk->append("{\"error\":");
          AppendJsonString(more.status().message(), chunk);
          chunk->append(",\"cursor\":");
          AppendJsonString(cursor, chunk);
          chunk->append("}\n");
        }
        return false;
      }
      page = std::move(*more);
      next = 0;
      if (page.empty()) {
        outcome = "complete";
        return false;
      }
    }
    size_t written = 0;
    while (next < page.size() && chunk->size() < kChunkBytes) {
      WriteRecord(page[next++], chunk);
      ++written;
    }
    Metrics().lines->Increment(static_cast<double>(written));
    rows_in_piece = static_cast<int64_t>(written);
    return true;
  }
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
  // A reader's export reaches no further back than its search may (reader_max_range), refused
  // with the search's message before anything is read. Checked once, for the whole range: the
  // pages' searches carry no role, or a long export's last pages would be refused as the
  // clock moved on and the stream cut short.
  if (auto* quotas = dynamic_cast<QuotaQueryEngine*>(engine)) {
    query::SearchRequest whole = base;
    whole.role = request.caller.role;
    whole.since = request.Query("since");
    whole.from = request.Query("from");
    whole.to = request.Query("to");
    whole.all_time = Truthy(request.Query("all_time"));
    if (Status refused = quotas->CheckReaderRange(whole); !refused.ok()) {
      return HttpResponse::Error(refused);
    }
  }
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
    if (columns.empty()) {
      return HttpResponse::Error(
          Status::InvalidArgument("fields: empty; name the CSV columns, e.g. fields=ts,message"));
    }
    if (columns.size() > 1000) {
      return HttpResponse::Error(Status::InvalidArgument("fields: at most 1000 columns"));
    }
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
  Metrics().running->Increment();
  auto run = std::make_shared<ExportRun>();  // from here on, frees the slot when dropped
  run->pager = std::make_shared<HitPager>(engine, base, range->from_ns, range->to_ns,
                                          order == "oldest", cursor);
  run->csv = format == "csv";
  run->columns = std::move(columns);
  run->client_gone = request.client_gone;
  // The first page before answering: a bad query or a refused search is a plain error.
  auto first = run->pager->Next();
  if (!first.ok()) {
    run->outcome = "error";
    return HttpResponse::Error(first.status());
  }
  run->page = std::move(*first);

  HttpResponse response;
  response.status = 200;
  response.content_type = run->csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
  response.stream = [run](std::string* chunk) -> bool { return run->Produce(chunk); };
  response.stream_rows = run->rows_written;
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

Status ForEachHit(query::QueryEngine* engine, const query::SearchRequest& base, int64_t from,
                  int64_t to, size_t max_hits, const std::function<void(const Record&)>& fn,
                  bool* truncated) {
  HitPager pager(engine, base, from, to, /*oldest_first=*/false, std::nullopt);
  size_t seen = 0;
  *truncated = false;
  while (true) {
    auto page = pager.Next();
    if (!page.ok()) return page.status();
    if (page->empty()) return Status::OK();
    for (const Record& r : *page) {
      if (seen == max_hits) {
        *truncated = true;
        return Status::OK();
      }
      fn(r);
      ++seen;
    }
  }
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
