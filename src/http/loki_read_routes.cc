#include "http/loki_read_routes.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/json_string.h"
#include "common/time_format.h"
#include "http/export_routes.h"
#include "http/http_metrics.h"
#include "logql/logql.h"
#include "logql/patterns.h"
#include "query/time_range.h"

namespace sawmill::http {

namespace {

constexpr int64_t kHourNs = 3'600'000'000'000;
// /labels reads the label names of this many of the newest matching lines.
constexpr size_t kLabelSampleLines = 1000;

// Loki answers errors as plain text with the status; Grafana shows the text.
HttpResponse LokiError(const Status& status) {
  HttpResponse response;
  response.status = StatusToHttp(status);
  response.content_type = "text/plain; charset=utf-8";
  response.body = status.message() + "\n";
  return response;
}

HttpResponse LokiUnready(const ApiState& state) {
  return LokiError(Status::Unavailable(
      state.stopping.load() ? "the server is stopping"
                            : "the server is starting (replaying the write-ahead log)"));
}

struct Range {
  int64_t start = 0;
  int64_t end = 0;
};

// start, end, since as Loki reads them: end defaults to now, start to end - since (since
// defaults to 1h).
Result<Range> ParseRange(const HttpRequest& request, int64_t now_ns) {
  Range r;
  r.end = now_ns;
  if (request.HasQuery("end")) {
    auto end = ParseLokiTime(request.Query("end"));
    if (!end) {
      return Status::InvalidArgument("end: cannot parse '" + request.Query("end") +
                                     "' as a timestamp (RFC 3339, seconds or nanoseconds)");
    }
    r.end = *end;
  }
  int64_t since = kHourNs;
  if (request.HasQuery("since")) {
    auto parsed = logql::ParsePromDuration(request.Query("since"));
    if (!parsed || *parsed <= 0) {
      return Status::InvalidArgument("since: cannot parse '" + request.Query("since") +
                                     "' as a duration (like 1h or 30m)");
    }
    since = *parsed;
  }
  r.start = r.end - since;
  if (request.HasQuery("start")) {
    auto start = ParseLokiTime(request.Query("start"));
    if (!start) {
      return Status::InvalidArgument("start: cannot parse '" + request.Query("start") +
                                     "' as a timestamp (RFC 3339, seconds or nanoseconds)");
    }
    r.start = *start;
  }
  if (r.end < r.start) {
    return Status::InvalidArgument("end timestamp must not be before or equal to start time");
  }
  return r;
}

query::SearchRequest BaseSearch(const HttpRequest& request, std::string q, int64_t from,
                                int64_t to) {
  query::SearchRequest search;
  search.tenant = request.tenant;
  search.user = request.Header("x-sawmill-user", request.remote_address);
  search.role = request.caller.role;  // reader_max_range (tenant_limits.h)
  search.q = std::move(q);
  search.from = FormatRfc3339Nanos(from);
  search.to = FormatRfc3339Nanos(to);
  search.time_field_ts = true;  // Loki's time is the entry's own timestamp
  search.cancelled = request.client_gone.get();
  return search;
}

// A native answer a metric or a label list cannot be built from: cut short, or groups dropped.
Status CheckComplete(const query::SearchResponse& answer) {
  if (answer.partial || !answer.warnings.empty()) {
    std::string why = answer.warnings.empty() ? "the query stopped early" : answer.warnings[0];
    return Status::Unavailable("the answer would be incomplete: " + why);
  }
  return Status::OK();
}

// A search whose answer must be whole (CheckComplete): metrics, label values, series, stats.
Result<query::SearchResponse> SearchWhole(query::QueryEngine* engine,
                                          const query::SearchRequest& search) {
  auto answer = engine->Search(search);
  if (!answer.ok()) return answer.status();
  RETURN_IF_ERROR(CheckComplete(*answer));
  return answer;
}

// What every read endpoint starts from: the query engine (503 while the server is not ready)
// and the request's range (start, end, since).
struct ReadStart {
  query::QueryEngine* engine = nullptr;
  Range range;
};

// Fills "out"; or the answer to send instead (not ready, a bad range).
std::optional<HttpResponse> StartRead(ApiState* state, const HttpRequest& request, ReadStart* out) {
  out->engine = state->query.load();
  if (!state->ready.load() || out->engine == nullptr) return LokiUnready(*state);
  auto range = ParseRange(request, state->clock->NowNanos());
  if (!range.ok()) return LokiError(range.status());
  out->range = *range;
  return std::nullopt;
}

void AppendLabels(const logql::Labels& labels, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(k, out);
    out->push_back(':');
    AppendJsonString(v, out);
  }
  out->push_back('}');
}

// Loki's "stats" object (the summary Grafana reads).
void AppendStats(const query::QueryStats& stats, size_t returned, std::string* out) {
  const double exec_s = stats.elapsed_ms / 1000.0;
  const uint64_t bytes = stats.bytes_read_raw;
  const uint64_t lines = stats.rows_scanned + stats.memtable_rows_scanned;
  auto per_second = [exec_s](uint64_t n) {
    return exec_s > 0 ? static_cast<uint64_t>(static_cast<double>(n) / exec_s) : n;
  };
  *out += "{\"summary\":{\"bytesProcessedPerSecond\":" + std::to_string(per_second(bytes)) +
          ",\"linesProcessedPerSecond\":" + std::to_string(per_second(lines)) +
          ",\"totalBytesProcessed\":" + std::to_string(bytes) +
          ",\"totalLinesProcessed\":" + std::to_string(lines) +
          ",\"execTime\":" + logql::FormatSample(exec_s) +
          ",\"queueTime\":0,\"subqueries\":0,\"totalEntriesReturned\":" + std::to_string(returned) +
          ",\"splits\":0,\"shards\":0" +
          ",\"totalPostFilterLines\":" + std::to_string(stats.rows_matched) +
          ",\"totalStructuredMetadataBytesProcessed\":0}}";
}

void AppendWarnings(const std::vector<std::string>& warnings, std::string* out) {
  if (warnings.empty()) return;
  *out += ",\"warnings\":[";
  for (size_t i = 0; i < warnings.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(warnings[i], out);
  }
  out->push_back(']');
}

// Seconds as Prometheus writes a sample's time: a number with up to 3 decimals.
std::string SampleTime(int64_t ns) {
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000);
  return logql::FormatSample(static_cast<double>(ns / 1'000'000) / 1000.0);
}

HttpResponse JsonData(std::string data) {
  return HttpResponse::Json(200, "{\"status\":\"success\",\"data\":" + data + "}");
}

Result<size_t> ParseLimit(const HttpRequest& request, size_t max) {
  if (!request.HasQuery("limit")) return size_t{100};
  const std::string text = request.Query("limit");
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Status::InvalidArgument("limit: expected a non-negative integer, got '" + text + "'");
  }
  if (value > max) {
    return Status::InvalidArgument(
        "max entries limit per query exceeded, limit > max_entries_limit (" + text + " > " +
        std::to_string(max) + ")");
  }
  return static_cast<size_t>(value);
}

// The log query's hits as Loki streams: entries grouped by their (formatted) labels, each
// stream's values in the query's direction.
std::string StreamsJson(const logql::LogQuery& log, const std::vector<Record>& hits, bool forward,
                        int64_t interval_ns) {
  struct Stream {
    logql::Labels labels;
    std::vector<std::pair<int64_t, std::string>> values;
  };
  std::map<std::string, Stream> streams;
  for (const Record& r : hits) {
    logql::Labels labels;
    std::string line;
    logql::FormatEntry(log, r, &labels, &line);
    std::string key;
    for (const auto& [k, v] : labels) key += k + '\0' + v + '\0';
    Stream& s = streams[key];
    if (s.values.empty()) s.labels = labels;
    s.values.emplace_back(r.ts, std::move(line));
  }
  std::string out = "[";
  bool first_stream = true;
  for (auto& [key, s] : streams) {
    // Hits come newest first; forward wants oldest first.
    if (forward) std::reverse(s.values.begin(), s.values.end());
    if (!first_stream) out.push_back(',');
    first_stream = false;
    out += "{\"stream\":";
    AppendLabels(s.labels, &out);
    out += ",\"values\":[";
    bool first = true;
    int64_t last = 0;
    for (const auto& [ts, line] : s.values) {
      // interval: at most one entry per interval, the first one met in the query's direction.
      if (interval_ns > 0 && !first && std::llabs(ts - last) < interval_ns) continue;
      if (!first) out.push_back(',');
      first = false;
      last = ts;
      out += "[\"" + std::to_string(ts) + "\",";
      AppendJsonString(line, &out);
      out.push_back(']');
    }
    out += "]}";
  }
  out.push_back(']');
  return out;
}

Result<std::vector<logql::Series>> RunMetric(ApiState* state, const HttpRequest& request,
                                             const logql::Expr& expr, int64_t start, int64_t end,
                                             int64_t step, query::QueryStats* stats) {
  auto plan = logql::PlanMetric(expr, start, end, step);
  if (!plan.ok()) return plan.status();
  query::SearchRequest search = BaseSearch(request, plan->native, plan->from_ns, plan->to_ns);
  ASSIGN_OR_RETURN(query::SearchResponse answer, SearchWhole(state->query.load(), search));
  *stats = answer.stats;
  return logql::EvaluateMetric(expr, *plan, answer.rows);
}

HttpResponse HandleQueryRange(ApiState* state, const HttpRequest& request) {
  query::QueryEngine* engine = state->query.load();
  if (!state->ready.load() || engine == nullptr) return LokiUnready(*state);
  const int64_t started = state->clock->MonotonicNanos();
  const std::string text = request.Query("query");
  if (text.empty()) return LokiError(Status::InvalidArgument("query: required (a LogQL query)"));
  auto expr = logql::Parse(text);
  if (!expr.ok()) return LokiError(expr.status());
  auto range = ParseRange(request, state->clock->NowNanos());
  if (!range.ok()) return LokiError(range.status());
  auto limit = ParseLimit(request, state->options.max_search_limit);
  if (!limit.ok()) return LokiError(limit.status());
  std::string direction = request.Query("direction", "backward");
  for (char& c : direction) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (direction != "backward" && direction != "forward") {
    return LokiError(Status::InvalidArgument("direction: expected 'forward' or 'backward', got '" +
                                             request.Query("direction") + "'"));
  }
  const bool forward = direction == "forward";

  std::string body = "{\"status\":\"success\",\"data\":{\"resultType\":";
  if (!expr->is_metric) {
    int64_t interval = 0;
    if (request.HasQuery("interval")) {
      auto parsed = ParseLokiStep(request.Query("interval"));
      if (!parsed || *parsed < 0) {
        return LokiError(Status::InvalidArgument("interval: cannot parse '" +
                                                 request.Query("interval") + "' as a duration"));
      }
      interval = *parsed;
    }
    query::SearchRequest search = BaseSearch(request, expr->log.native, range->start, range->end);
    search.limit = *limit;
    auto answer = engine->Search(search);
    if (!answer.ok()) return LokiError(answer.status());
    if (forward && answer->hits.size() >= *limit && *limit > 0) {
      // More lines match than the limit: the oldest ones, by windows walked forward.
      auto oldest = OldestHits(engine, search, range->start, range->end, *limit);
      if (!oldest.ok()) return LokiError(oldest.status());
      std::reverse(oldest->begin(), oldest->end());  // StreamsJson takes them newest first
      answer->hits = std::move(*oldest);
    }
    body += "\"streams\",\"result\":";
    body += StreamsJson(expr->log, answer->hits, forward, interval);
    body += ",\"stats\":";
    AppendStats(answer->stats, answer->hits.size(), &body);
    body += '}';
    AppendWarnings(answer->warnings, &body);
    body += '}';
    HttpMetrics::Get().ObserveQuery(
        "loki", static_cast<double>(state->clock->MonotonicNanos() - started) / 1e9,
        answer->stats.cache_hit);
    return HttpResponse::Json(200, std::move(body));
  }

  // Loki's default step: (end - start) / 250, at least one second.
  int64_t step =
      std::max<int64_t>((range->end - range->start) / 250 / 1'000'000'000, 1) * 1'000'000'000;
  if (request.HasQuery("step")) {
    auto parsed = ParseLokiStep(request.Query("step"));
    if (!parsed || *parsed <= 0) {
      return LokiError(
          Status::InvalidArgument("step: cannot parse '" + request.Query("step") +
                                  "' as a positive duration (like 30s) or a number of seconds"));
    }
    step = *parsed;
  }
  query::QueryStats stats;
  auto series = RunMetric(state, request, *expr, range->start, range->end, step, &stats);
  if (!series.ok()) return LokiError(series.status());
  body += "\"matrix\",\"result\":[";
  size_t points = 0;
  for (size_t i = 0; i < series->size(); ++i) {
    const logql::Series& s = (*series)[i];
    if (i > 0) body.push_back(',');
    body += "{\"metric\":";
    AppendLabels(s.metric, &body);
    body += ",\"values\":[";
    for (size_t j = 0; j < s.points.size(); ++j) {
      if (j > 0) body.push_back(',');
      body += "[" + SampleTime(s.points[j].first) + ",\"" +
              logql::FormatSample(s.points[j].second) + "\"]";
    }
    points += s.points.size();
    body += "]}";
  }
  body += "],\"stats\":";
  AppendStats(stats, points, &body);
  body += "}}";
  HttpMetrics::Get().ObserveQuery(
      "loki", static_cast<double>(state->clock->MonotonicNanos() - started) / 1e9, stats.cache_hit);
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleInstantQuery(ApiState* state, const HttpRequest& request) {
  query::QueryEngine* engine = state->query.load();
  if (!state->ready.load() || engine == nullptr) return LokiUnready(*state);
  const std::string text = request.Query("query");
  if (text.empty()) return LokiError(Status::InvalidArgument("query: required (a LogQL query)"));
  auto expr = logql::Parse(text);
  if (!expr.ok()) return LokiError(expr.status());
  if (!expr->is_metric) {
    return LokiError(Status::InvalidArgument(
        "log queries are not supported as an instant query type, please change your query to a "
        "range query type"));
  }
  int64_t at = state->clock->NowNanos();
  if (request.HasQuery("time")) {
    auto parsed = ParseLokiTime(request.Query("time"));
    if (!parsed) {
      return LokiError(Status::InvalidArgument("time: cannot parse '" + request.Query("time") +
                                               "' as a timestamp"));
    }
    at = *parsed;
  }
  query::QueryStats stats;
  auto series = RunMetric(state, request, *expr, at, at, 0, &stats);
  if (!series.ok()) return LokiError(series.status());
  std::string body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[";
  for (size_t i = 0; i < series->size(); ++i) {
    const logql::Series& s = (*series)[i];
    if (i > 0) body.push_back(',');
    body += "{\"metric\":";
    AppendLabels(s.metric, &body);
    body += ",\"value\":[" + SampleTime(at) + ",\"" + logql::FormatSample(s.points.back().second) +
            "\"]}";
  }
  body += "],\"stats\":";
  AppendStats(stats, series->size(), &body);
  body += "}}";
  return HttpResponse::Json(200, std::move(body));
}

// The native filter of an optional "query" selector parameter ("*" without one).
Result<logql::Selector> ParseSelectorParam(const HttpRequest& request, std::string_view param) {
  const std::string text = request.Query(param);
  if (text.empty()) return logql::Selector{"*", {}};
  return logql::ParseSelector(text);
}

Result<std::string> SelectorFilter(const HttpRequest& request, std::string_view param) {
  auto selector = ParseSelectorParam(request, param);
  if (!selector.ok()) return selector.status();
  return selector->native;
}

// A native group-by name: quoted unless it is a plain name.
std::string NativeName(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string LevelLower(std::string value, std::string_view field) {
  if (field == "level") {
    for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return value;
}

// The non-empty string values of a native row by column (level in lower case, as Loki has it).
logql::Labels RowLabels(const query::Row& row) {
  logql::Labels labels;
  for (const auto& [k, v] : row) {
    const std::string* s = std::get_if<std::string>(&v);
    if (s == nullptr || s->empty()) continue;
    labels[k] = LevelLower(*s, k);
  }
  return labels;
}

// "data" of a sorted list of strings: ["a","b",...].
HttpResponse JsonStrings(const std::set<std::string>& values) {
  std::string data = "[";
  for (const std::string& v : values) {
    if (data.size() > 1) data.push_back(',');
    AppendJsonString(v, &data);
  }
  data.push_back(']');
  return JsonData(std::move(data));
}

HttpResponse HandleLabels(ApiState* state, const HttpRequest& request) {
  ReadStart read;
  if (auto refused = StartRead(state, request, &read)) return *refused;
  auto filter = SelectorFilter(request, "query");
  if (!filter.ok()) return LokiError(filter.status());
  query::SearchRequest search = BaseSearch(request, *filter, read.range.start, read.range.end);
  search.limit = kLabelSampleLines;
  auto answer = read.engine->Search(search);  // a sample: a partial answer is fine
  if (!answer.ok()) return LokiError(answer.status());
  std::set<std::string> names;
  for (const Record& r : answer->hits) {
    for (const auto& [k, v] : logql::StreamLabels(r, /*parsed=*/true)) names.insert(k);
  }
  return JsonStrings(names);
}

HttpResponse HandleLabelValues(ApiState* state, const HttpRequest& request) {
  query::QueryEngine* engine = state->query.load();
  if (!state->ready.load() || engine == nullptr) return LokiUnready(*state);
  // /loki/api/v1/label/<name>/values
  std::string_view path = request.path;
  constexpr std::string_view kPrefix = "/loki/api/v1/label/";
  std::string_view rest = path.substr(kPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || rest.substr(slash) != "/values" || slash == 0) {
    return LokiError(Status::NotFound("expected /loki/api/v1/label/<name>/values"));
  }
  const std::string label(rest.substr(0, slash));
  ReadStart read;
  if (auto refused = StartRead(state, request, &read)) return *refused;
  auto filter = SelectorFilter(request, "query");
  if (!filter.ok()) return LokiError(filter.status());
  const std::string field = logql::FieldOfLabel(label);
  query::SearchRequest search = BaseSearch(request, *filter + " | uniq " + NativeName(field),
                                           read.range.start, read.range.end);
  auto answer = SearchWhole(read.engine, search);
  if (!answer.ok()) return LokiError(answer.status());
  std::set<std::string> values;
  for (const query::Row& row : answer->rows) {
    for (const auto& [k, v] : row) {
      const std::string* s = std::get_if<std::string>(&v);
      if (s != nullptr && !s->empty()) values.insert(LevelLower(*s, field));
    }
  }
  return JsonStrings(values);
}

HttpResponse HandleSeries(ApiState* state, const HttpRequest& request) {
  ReadStart read;
  if (auto refused = StartRead(state, request, &read)) return *refused;
  std::vector<std::string> filters;
  for (const char* name : {"match[]", "match"}) {
    auto [begin, end] = request.query.equal_range(name);
    for (auto it = begin; it != end; ++it) {
      auto filter = logql::ParseSelector(it->second);
      if (!filter.ok()) return LokiError(filter.status().WithContext(name));
      filters.push_back(filter->native);
    }
  }
  std::string q;
  for (const std::string& f : filters) {
    if (!q.empty()) q += " OR ";
    q += "(" + f + ")";
  }
  if (q.empty()) q = "*";
  query::SearchRequest search =
      BaseSearch(request, q + " | count by service, host, level", read.range.start, read.range.end);
  auto answer = SearchWhole(read.engine, search);
  if (!answer.ok()) return LokiError(answer.status());
  std::set<logql::Labels> sets;
  for (const query::Row& row : answer->rows) sets.insert(RowLabels(row));
  std::string data = "[";
  for (const logql::Labels& labels : sets) {
    if (data.size() > 1) data.push_back(',');
    AppendLabels(labels, &data);
  }
  data.push_back(']');
  return JsonData(std::move(data));
}

// GET /loki/api/v1/index/stats: {"streams":N,"chunks":N,"entries":N,"bytes":N} of the lines a
// selector matches in the range ("chunks": the blocks and memtable chunks read).
HttpResponse HandleIndexStats(ApiState* state, const HttpRequest& request) {
  ReadStart read;
  if (auto refused = StartRead(state, request, &read)) return *refused;
  auto filter = SelectorFilter(request, "query");
  if (!filter.ok()) return LokiError(filter.status());
  uint64_t streams = 0, entries = 0, bytes = 0, chunks = 0;
  for (const char* pipe : {" | count by service, host, level", " | bytes"}) {
    query::SearchRequest search =
        BaseSearch(request, *filter + pipe, read.range.start, read.range.end);
    auto answer = SearchWhole(read.engine, search);
    if (!answer.ok()) return LokiError(answer.status());
    for (const query::Row& row : answer->rows) {
      const int64_t* n = std::get_if<int64_t>(&row.back().second);
      if (n == nullptr || *n == 0) continue;
      if (row.back().first == "count") {
        ++streams;
        entries += static_cast<uint64_t>(*n);
      } else {
        bytes += static_cast<uint64_t>(*n);
      }
    }
    chunks = answer->stats.blocks_read;
  }
  return HttpResponse::Json(200, "{\"streams\":" + std::to_string(streams) +
                                     ",\"chunks\":" + std::to_string(chunks) +
                                     ",\"entries\":" + std::to_string(entries) +
                                     ",\"bytes\":" + std::to_string(bytes) + "}");
}

// The fields /index/volume groups by: targetLabels, else the selector's labels, else service.
struct VolumeGrouping {
  std::vector<std::string> labels;
};

Result<VolumeGrouping> ParseVolumeGrouping(const HttpRequest& request,
                                           const logql::Selector& selector) {
  VolumeGrouping g;
  const std::string aggregate = request.Query("aggregateBy", "series");
  if (aggregate != "series") {
    return Status::InvalidArgument("aggregateBy: only 'series' is supported by Sawmill, got '" +
                                   aggregate + "'");
  }
  std::string targets = request.Query("targetLabels");
  size_t pos = 0;
  while (pos < targets.size()) {
    size_t comma = targets.find(',', pos);
    if (comma == std::string::npos) comma = targets.size();
    std::string label = targets.substr(pos, comma - pos);
    if (!label.empty()) g.labels.push_back(label);
    pos = comma + 1;
  }
  if (g.labels.empty()) g.labels = selector.labels;
  if (g.labels.empty()) g.labels = {"service"};
  if (g.labels.size() > 16) {
    return Status::InvalidArgument("targetLabels: at most 16 labels");
  }
  return g;
}

// The bytes of each group: native "bytes by" rows -> (labels, bucket or 0) -> bytes.
Result<std::map<logql::Labels, std::map<int64_t, int64_t>>> Volumes(
    ApiState* state, const HttpRequest& request, const logql::Selector& selector,
    const VolumeGrouping& g, int64_t from, int64_t to, int64_t step) {
  std::string native = selector.native + " | bytes by ";
  if (step > 0) native += "bucket_end(" + query::FormatDuration(step) + "), ";
  for (size_t i = 0; i < g.labels.size(); ++i) {
    if (i > 0) native += ", ";
    native += NativeName(logql::FieldOfLabel(g.labels[i]));
  }
  query::SearchRequest search = BaseSearch(request, native, from, to);
  ASSIGN_OR_RETURN(query::SearchResponse answer, SearchWhole(state->query.load(), search));
  std::map<logql::Labels, std::map<int64_t, int64_t>> out;
  for (const query::Row& row : answer.rows) {
    const int64_t* bytes = std::get_if<int64_t>(&row.back().second);
    if (bytes == nullptr || *bytes == 0) continue;
    int64_t bucket = 0;
    std::vector<std::pair<std::string, std::string>> values;
    size_t label_index = 0;
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      const std::string* s = std::get_if<std::string>(&row[i].second);
      if (s == nullptr) continue;
      if (step > 0 && i == 0) {
        bucket = ParseRfc3339(*s).value_or(0);
        continue;
      }
      const std::string& label = g.labels[label_index++];
      values.emplace_back(label, LevelLower(*s, logql::FieldOfLabel(label)));
    }
    logql::Labels labels;
    for (const auto& [label, value] : values) {
      if (!value.empty()) labels[label] = value;
    }
    if (!labels.empty()) out[labels][bucket] += *bytes;
  }
  return out;
}

HttpResponse HandleIndexVolume(ApiState* state, const HttpRequest& request, bool ranged) {
  ReadStart read;
  if (auto refused = StartRead(state, request, &read)) return *refused;
  const Range* range = &read.range;
  auto selector = ParseSelectorParam(request, "query");
  if (!selector.ok()) return LokiError(selector.status());
  auto grouping = ParseVolumeGrouping(request, *selector);
  if (!grouping.ok()) return LokiError(grouping.status());
  auto limit = ParseLimit(request, state->options.max_search_limit);
  if (!limit.ok()) return LokiError(limit.status());
  int64_t step = 0, from = range->start, to = range->end, first = 0, last = 0;
  if (ranged) {
    step = std::max<int64_t>((range->end - range->start) / 250 / 1'000'000'000, 1) * 1'000'000'000;
    if (request.HasQuery("step")) {
      auto parsed = ParseLokiStep(request.Query("step"));
      if (!parsed || *parsed <= 0 || *parsed % 1'000'000 != 0) {
        return LokiError(
            Status::InvalidArgument("step: expected a positive duration in whole "
                                    "milliseconds, got '" +
                                    request.Query("step") + "'"));
      }
      step = *parsed;
    }
    // Points at multiples of step, each the bytes of (t - step, t].
    first = range->start / step * step;
    last = range->end / step * step;
    if ((last - first) / step + 1 > logql::kMaxPoints) {
      return LokiError(Status::InvalidArgument("exceeded maximum resolution of " +
                                               std::to_string(logql::kMaxPoints) +
                                               " points: use a larger step"));
    }
    from = first - step + 1;
    to = last + 1;
  }
  auto volumes = Volumes(state, request, *selector, *grouping, from, to, step);
  if (!volumes.ok()) return LokiError(volumes.status());
  // The largest groups first, at most limit.
  std::vector<std::pair<int64_t, const logql::Labels*>> order;
  for (const auto& [labels, buckets] : *volumes) {
    int64_t total = 0;
    for (const auto& [b, n] : buckets) total += n;
    order.emplace_back(-total, &labels);
  }
  std::sort(order.begin(), order.end());
  if (order.size() > *limit) order.resize(*limit);
  std::string body = "{\"status\":\"success\",\"data\":{\"resultType\":";
  body += ranged ? "\"matrix\",\"result\":[" : "\"vector\",\"result\":[";
  for (size_t i = 0; i < order.size(); ++i) {
    if (i > 0) body.push_back(',');
    body += "{\"metric\":";
    AppendLabels(*order[i].second, &body);
    if (ranged) {
      body += ",\"values\":[";
      bool first_point = true;
      for (const auto& [t, n] : volumes->at(*order[i].second)) {
        if (!first_point) body.push_back(',');
        first_point = false;
        body += "[" + SampleTime(t) + ",\"" + std::to_string(n) + "\"]";
      }
      body += "]}";
    } else {
      body += ",\"value\":[" + SampleTime(range->end) + ",\"" + std::to_string(-order[i].first) +
              "\"]}";
    }
  }
  body += "]}}";
  return HttpResponse::Json(200, std::move(body));
}

// GET /loki/api/v1/detected_labels: the stream labels (service, host, level) the selected lines
// have, each with its exact number of distinct values in the range.
HttpResponse HandleDetectedLabels(ApiState* state, const HttpRequest& request) {
  ReadStart read;
  if (auto refused = StartRead(state, request, &read)) return *refused;
  auto filter = SelectorFilter(request, "query");
  if (!filter.ok()) return LokiError(filter.status());
  std::string body = "{\"detectedLabels\":[";
  bool first = true;
  for (const char* field : {"service", "host", "level"}) {
    query::SearchRequest search =
        BaseSearch(request, *filter + " | uniq " + field, read.range.start, read.range.end);
    auto answer = SearchWhole(read.engine, search);
    if (!answer.ok()) return LokiError(answer.status());
    size_t cardinality = 0;
    for (const query::Row& row : answer->rows) {
      const std::string* s = row.empty() ? nullptr : std::get_if<std::string>(&row[0].second);
      cardinality += s != nullptr && !s->empty();
    }
    if (cardinality == 0) continue;
    if (!first) body.push_back(',');
    first = false;
    body += "{\"label\":\"" + std::string(field) +
            "\",\"cardinality\":" + std::to_string(cardinality) + "}";
  }
  body += "]}";
  return HttpResponse::Json(200, std::move(body));
}

// The type Loki's detected_fields gives a value.
std::string ValueType(std::string_view v) {
  if (v == "true" || v == "false") return "boolean";
  int64_t i = 0;
  if (auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
      ec == std::errc() && p == v.data() + v.size()) {
    return "int";
  }
  double d = 0;
  if (auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
      ec == std::errc() && p == v.data() + v.size()) {
    return "float";
  }
  if (logql::ParsePromDuration(v)) return "duration";
  return "string";
}

// GET /loki/api/v1/detected_fields: the fields (not the stream labels) of the newest line_limit
// (default 1,000, as in Loki) lines the query matches, with their type and their number of
// distinct values among those lines.
HttpResponse HandleDetectedFields(ApiState* state, const HttpRequest& request) {
  ReadStart read;
  if (auto refused = StartRead(state, request, &read)) return *refused;
  query::QueryEngine* engine = read.engine;
  const Range* range = &read.range;
  std::string native = "*";
  if (!request.Query("query").empty()) {
    auto expr = logql::Parse(request.Query("query"));
    if (!expr.ok()) return LokiError(expr.status());
    if (expr->is_metric) {
      return LokiError(Status::InvalidArgument("detected_fields: expected a log query"));
    }
    native = expr->log.native;
  }
  size_t line_limit = 1000;
  if (request.HasQuery("line_limit")) {
    HttpRequest copy;
    copy.query.emplace("limit", request.Query("line_limit"));
    auto parsed = ParseLimit(copy, state->options.max_search_limit);
    if (!parsed.ok()) return LokiError(parsed.status().WithContext("line_limit"));
    line_limit = *parsed;
  }
  query::SearchRequest search = BaseSearch(request, native, range->start, range->end);
  search.limit = line_limit;
  auto answer = engine->Search(search);
  if (!answer.ok()) return LokiError(answer.status());
  struct Field {
    std::set<std::string> values;
    std::string type;
  };
  std::map<std::string, Field> fields;
  for (const Record& r : answer->hits) {
    auto add = [&](const std::string& name, const std::string& value) {
      if (value.empty()) return;
      Field& f = fields[name];
      if (f.values.size() < 100'000) f.values.insert(value);
      std::string type = ValueType(value);
      if (f.type.empty()) {
        f.type = type;
      } else if (f.type != type) {
        f.type = (f.type == "int" && type == "float") || (f.type == "float" && type == "int")
                     ? "float"
                     : "string";
      }
    };
    add("trace_id", r.trace_id);
    add("span_id", r.span_id);
    add("user_id", r.user_id);
    for (const auto& [k, v] : r.fields) add(k, v);
  }
  std::string body = "{\"fields\":[";
  bool first = true;
  for (const auto& [name, f] : fields) {
    if (!first) body.push_back(',');
    first = false;
    body += "{\"label\":";
    AppendJsonString(name, &body);
    body += ",\"type\":\"" + f.type + "\",\"cardinality\":" + std::to_string(f.values.size()) +
            ",\"parsers\":null}";
  }
  body += "],\"limit\":" + std::to_string(line_limit) + "}";
  return HttpResponse::Json(200, std::move(body));
}

// /loki/api/v1/patterns (docs/loki-api.md "Patterns"): the patterns of the matching lines
// (logql/patterns.h), each with its line count per step:
// {"status":"success","data":[{"pattern":"...","samples":[[<seconds>,<count>],...]}]}.
// Bounded: the newest kMaxPatternLines matching lines, kMaxPatterns patterns, kMaxPatternSteps
// steps; what a bound left out is said in "warnings".
constexpr size_t kMaxPatternLines = 100'000;
constexpr size_t kMaxPatterns = 1000;
constexpr int64_t kMaxPatternSteps = 1000;

HttpResponse HandlePatterns(ApiState* state, const HttpRequest& request) {
  ReadStart read;
  if (auto refused = StartRead(state, request, &read)) return *refused;
  query::QueryEngine* engine = read.engine;
  const Range* range = &read.range;
  if (request.Query("query").empty()) {
    return LokiError(Status::InvalidArgument(
        "query: a log query is required, e.g. query={service=\"api\"} |= \"error\""));
  }
  auto expr = logql::Parse(request.Query("query"));
  if (!expr.ok()) return LokiError(expr.status());
  if (expr->is_metric) {
    return LokiError(Status::InvalidArgument(
        "patterns: expected a log query (a stream selector and filters), not a metric query"));
  }
  const int64_t span = std::max<int64_t>(range->end - range->start, 1);
  int64_t step = std::max<int64_t>(10'000'000'000, (span + 99) / 100);  // 10 s, or 100 steps
  if (request.HasQuery("step")) {
    auto parsed = ParseLokiStep(request.Query("step"));
    if (!parsed || *parsed < 1'000'000'000) {
      return LokiError(Status::InvalidArgument(
          "step: expected a duration of at least 1s (like 10s or 1m), got '" +
          request.Query("step") + "'"));
    }
    step = *parsed;
  }
  if (span / step > kMaxPatternSteps) {
    return LokiError(Status::InvalidArgument(
        "step: " + request.Query("step") + " makes " + std::to_string(span / step) +
        " steps over the range; at most " + std::to_string(kMaxPatternSteps) +
        " (use a larger step or a shorter range)"));
  }
  const int64_t start = range->start / step * step;  // steps aligned to multiples of step
  logql::PatternTable table(start, step, kMaxPatterns);
  query::SearchRequest search = BaseSearch(request, expr->log.native, range->start, range->end);
  bool truncated = false;
  logql::Labels labels;
  std::string line;
  Status walked = ForEachHit(
      engine, search, range->start, range->end, kMaxPatternLines,
      [&](const Record& r) {
        logql::FormatEntry(expr->log, r, &labels, &line);
        table.Add(line, r.ts);
      },
      &truncated);
  if (!walked.ok()) return LokiError(walked);
  std::string body = "{\"status\":\"success\",\"data\":[";
  bool first = true;
  for (const logql::PatternTable::Pattern& p : table.Patterns()) {
    if (!first) body.push_back(',');
    first = false;
    body += "{\"pattern\":";
    AppendJsonString(p.pattern, &body);
    body += ",\"samples\":[";
    bool first_sample = true;
    for (const auto& [t, n] : p.samples) {
      if (!first_sample) body.push_back(',');
      first_sample = false;
      body += "[" + std::to_string(t / 1'000'000'000) + "," + std::to_string(n) + "]";
    }
    body += "]}";
  }
  body += "]";
  std::vector<std::string> warnings;
  if (truncated) {
    warnings.push_back("patterns of the newest " + std::to_string(kMaxPatternLines) +
                       " matching lines only (narrow the range or the query for all)");
  }
  if (table.dropped_lines() > 0) {
    warnings.push_back(std::to_string(table.dropped_lines()) + " lines of patterns past the " +
                       std::to_string(kMaxPatterns) + " first ones are not counted");
  }
  AppendWarnings(warnings, &body);
  body += "}";
  return HttpResponse::Json(200, std::move(body));
}
}  // namespace

FramedTailSubscriber LokiTailSubscriber(ApiState* state, tail::TailHub* hub) {
  return [state, hub](const HttpRequest& request) -> Result<FramedTail> {
    query::QueryEngine* engine = state->query.load();
    if (!state->ready.load() || engine == nullptr || state->stopping.load()) {
      return Status::Unavailable("the server is starting or stopping");
    }
    const std::string text = request.Query("query");
    if (text.empty()) return Status::InvalidArgument("query: required (a LogQL log query)");
    auto expr = logql::Parse(text);
    if (!expr.ok()) return expr.status();
    if (expr->is_metric) {
      return Status::InvalidArgument("tail: only log queries can be tailed, not metric queries");
    }
    auto limit = ParseLimit(request, state->options.max_search_limit);
    if (!limit.ok()) return limit.status();
    if (request.HasQuery("delay_for")) {
      const std::string delay = request.Query("delay_for");
      int value = -1;
      auto [p, ec] = std::from_chars(delay.data(), delay.data() + delay.size(), value);
      if (ec != std::errc() || p != delay.data() + delay.size() || value < 0 || value > 5) {
        return Status::InvalidArgument("delay_for: expected 0 to 5 seconds, got '" + delay + "'");
      }
    }
    const int64_t now = state->clock->NowNanos();
    int64_t start = now - kHourNs;
    if (request.HasQuery("start")) {
      auto parsed = ParseLokiTime(request.Query("start"));
      if (!parsed)
        return Status::InvalidArgument("start: cannot parse '" + request.Query("start") + "'");
      start = *parsed;
    }
    // Subscribe first, then read the history, so that no line falls between the two; a line in
    // both is sent once (by its id).
    auto session = hub->Subscribe(request.tenant, expr->log.native);
    if (!session.ok()) return session.status();
    auto shared = std::make_shared<std::pair<logql::LogQuery, std::set<uint64_t>>>();
    shared->first = expr->log;
    FramedTail tail;
    tail.session = *session;
    if (*limit > 0 && start < now) {
      query::SearchRequest search = BaseSearch(request, expr->log.native, start, now);
      search.limit = *limit;
      search.cancelled = nullptr;  // the request object does not outlive the upgrade
      auto answer = engine->Search(search);
      if (!answer.ok()) {
        (*session)->Close();
        return answer.status();
      }
      if (!answer->hits.empty()) {
        for (const Record& r : answer->hits) shared->second.insert(r.seq);
        tail.initial.push_back(
            "{\"streams\":" + StreamsJson(expr->log, answer->hits, /*forward=*/true, 0) +
            ",\"dropped_entries\":null}");
      }
    }
    tail.frame = [shared, clock = state->clock](const tail::TailEvent& event,
                                                std::vector<std::string>* out) {
      std::vector<Record> fresh;
      for (const Record& r : event.records) {
        if (shared->second.empty() || shared->second.count(r.seq) == 0) fresh.push_back(r);
      }
      if (fresh.empty() && event.dropped == 0) return;
      // StreamsJson wants hits newest first, like the search engine gives them.
      std::reverse(fresh.begin(), fresh.end());
      std::string message =
          "{\"streams\":" + StreamsJson(shared->first, fresh, true, 0) + ",\"dropped_entries\":";
      if (event.dropped == 0) {
        message += "null";
      } else {
        // The hub counts the lines a slow client lost, not which: one entry per lost line (at
        // most 1,000), without labels, at the time the loss was seen.
        message += '[';
        const std::string at = std::to_string(clock->NowNanos());
        const uint64_t n = std::min<uint64_t>(event.dropped, 1000);
        for (uint64_t i = 0; i < n; ++i) {
          if (i > 0) message += ',';
          message += "{\"labels\":{},\"timestamp\":\"" + at + "\"}";
        }
        message += ']';
      }
      message += '}';
      out->push_back(std::move(message));
    };
    return tail;
  };
}

std::optional<int64_t> ParseLokiTime(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find('.') != std::string_view::npos) {
    double seconds = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec == std::errc() && p == text.data() + text.size() && std::isfinite(seconds) &&
        std::fabs(seconds) < 9.2e9) {
      double whole = std::floor(seconds);
      return static_cast<int64_t>(whole) * 1'000'000'000 +
             static_cast<int64_t>(std::llround((seconds - whole) * 1e9));
    }
  }
  int64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc() && p == text.data() + text.size()) {
    const size_t digits = text.size() - (text[0] == '-' ? 1 : 0);
    if (digits <= 10) return value * 1'000'000'000;
    return value;
  }
  return ParseRfc3339(text);
}

std::optional<int64_t> ParseLokiStep(std::string_view text) {
  if (auto d = logql::ParsePromDuration(text)) return d;
  double seconds = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec == std::errc() && p == text.data() + text.size() && std::isfinite(seconds) &&
      seconds >= 0 && seconds < 9.2e9) {
    return static_cast<int64_t>(std::llround(seconds * 1e9));
  }
  return std::nullopt;
}

void RegisterLokiReadRoutes(Router* router, ApiState* state) {
  router->Add("GET", "/loki/api/v1/query_range",
              [state](const HttpRequest& r) { return HandleQueryRange(state, r); });
  router->Add("GET", "/loki/api/v1/query",
              [state](const HttpRequest& r) { return HandleInstantQuery(state, r); });
  router->Add("GET", "/loki/api/v1/series",
              [state](const HttpRequest& r) { return HandleSeries(state, r); });
  router->Add("GET", "/loki/api/v1/labels",
              [state](const HttpRequest& r) { return HandleLabels(state, r); });
  router->Add("GET", "/loki/api/v1/label",  // Loki's older spelling of /labels
              [state](const HttpRequest& r) { return HandleLabels(state, r); });
  router->Add("GET", "/loki/api/v1/label/*",
              [state](const HttpRequest& r) { return HandleLabelValues(state, r); });
  // /loki/api/v1/status/buildinfo and /loki/ready are the shipper probes (loki_routes.cc).
  router->Add("GET", "/loki/api/v1/index/stats",
              [state](const HttpRequest& r) { return HandleIndexStats(state, r); });
  router->Add("GET", "/loki/api/v1/index/volume",
              [state](const HttpRequest& r) { return HandleIndexVolume(state, r, false); });
  router->Add("GET", "/loki/api/v1/index/volume_range",
              [state](const HttpRequest& r) { return HandleIndexVolume(state, r, true); });
  router->Add("GET", "/loki/api/v1/detected_labels",
              [state](const HttpRequest& r) { return HandleDetectedLabels(state, r); });
  router->Add("GET", "/loki/api/v1/detected_fields",
              [state](const HttpRequest& r) { return HandleDetectedFields(state, r); });
  router->Add("GET", "/loki/api/v1/patterns",
              [state](const HttpRequest& r) { return HandlePatterns(state, r); });
  router->Add("GET", "/loki/api/v1/tail", [](const HttpRequest&) {
    return LokiError(Status::InvalidArgument(
        "/loki/api/v1/tail needs a WebSocket upgrade (Upgrade: websocket)"));
  });
  router->Add("GET", "/ready", [state](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain; charset=utf-8";
    if (state->ready.load() && !state->stopping.load()) {
      response.body = "ready\n";
    } else {
      response.status = 503;
      response.body = "not ready: the server is starting or stopping\n";
    }
    return response;
  });
}

}  // namespace sawmill::http
