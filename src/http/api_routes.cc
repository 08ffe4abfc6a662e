#include "http/api_routes.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>

#include "common/hash.h"
#include "common/metrics.h"
#include "http/export_routes.h"
#include "http/http_metrics.h"
#include "http/json_writer.h"
#include "http/shipper_routes.h"
#include "ingest/normalize.h"
#include "query/parser.h"
#include "storage/job_gate.h"

namespace sawmill::http {

namespace {

double SecondsSince(Clock* clock, int64_t start_ns) {
  return static_cast<double>(clock->MonotonicNanos() - start_ns) / 1e9;
}

HttpResponse Unready(const ApiState& state) {
  if (state.stopping.load()) {
    return HttpResponse::Error(Status::Unavailable("the server is stopping"));
  }
  return HttpResponse::Error(
      Status::Unavailable("the server is starting (replaying the write-ahead log)"));
}

bool Truthy(std::string_view value) {
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

Result<uint64_t> ParseCount(std::string_view name, std::string_view text, uint64_t max) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Status::InvalidArgument(std::string(name) + ": expected a non-negative integer, got '" +
                                   std::string(text) + "'");
  }
  if (value > max) {
    return Status::InvalidArgument(std::string(name) + ": at most " + std::to_string(max) +
                                   ", got " + std::string(text));
  }
  return value;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Accepted media types for native ingestion; see docs/api.md. Returns an error message or "".
std::string CheckIngestContentType(std::string_view header) {
  std::string type = Lower(header.substr(0, header.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  while (!type.empty() && type.front() == ' ') type.erase(type.begin());
  if (type.empty() || type.rfind("text/", 0) == 0) return "";
  static const char* const kAccepted[] = {
      "application/x-ndjson",     "application/ndjson",
      "application/json",         "application/jsonl",
      "application/x-jsonlines",  "application/jsonlines",
      "application/octet-stream", "application/x-www-form-urlencoded"};
  for (const char* accepted : kAccepted) {
    if (type == accepted) return "";
  }
  std::string hint;
  if (type.rfind("multipart/", 0) == 0) {
    hint = "; send the lines as the raw body (curl --data-binary @file), not as a form upload";
  } else if (type == "application/gzip" || type == "application/x-gzip" ||
             type == "application/zstd" || type == "application/x-lz4") {
    hint = "; to send compressed lines set Content-Encoding (gzip, zstd, lz4) instead";
  } else if (type == "application/x-protobuf") {
    hint = "; OTLP/HTTP protobuf goes to /v1/logs";
  }
  return "Content-Type '" + type +
         "' is not accepted by /api/v1/ingest: send NDJSON (application/x-ndjson) or plain " +
         "text lines (text/plain)" + hint;
}

// What /api/v1/ingest keeps with an Idempotency-Key as its answer: the four counts, in decimal,
// comma-separated (accepted,skipped,truncated,parse_failed). Small, so that a million keys fit.
std::string EncodeIngestAnswer(const ingest::IngestCounts& counts) {
  return std::to_string(counts.accepted) + "," + std::to_string(counts.skipped) + "," +
         std::to_string(counts.truncated) + "," + std::to_string(counts.parse_failed);
}

std::string IngestAnswerJson(std::string_view answer) {
  static const char* const kNames[] = {"accepted", "skipped", "truncated", "parse_failed"};
  std::string json = "{";
  for (int i = 0; i < 4; ++i) {
    size_t comma = answer.find(',');
    std::string_view number = answer.substr(0, comma);
    if (number.empty()) number = "0";
    if (i > 0) json += ',';
    json += std::string("\"") + kNames[i] + "\":" + std::string(number);
    answer = comma == std::string_view::npos ? std::string_view() : answer.substr(comma + 1);
  }
  return json + "}";
}

// Identifies an ingest batch for Idempotency-Key checks: the body (after Content-Encoding
// decoding, so that a retry compressed differently is the same batch) and the query parameters
// that change what is stored.
uint64_t IngestBodyHash(const HttpRequest& request) {
  std::string params = request.Query("service");
  params.push_back('\0');
  params += request.Query("host");
  params.push_back('\0');
  params += request.Query("level");
  return Hash64(request.body, Hash64(params));
}

// The answer to a batch whose Idempotency-Key is known: the first answer again when the body is
// the same, 422 when the key was used for a different batch.
HttpResponse IdempotentAnswer(const storage::IdempotencyKey& previous, uint64_t body_hash) {
  if (previous.body_hash != body_hash) {
    std::string message = "Idempotency-Key '" + previous.key +
                          "' was already used for a different batch (" +
                          std::to_string(previous.count) + " records accepted at " +
                          FormatRfc3339Nanos(previous.created_ns) +
                          "); nothing was stored: send a new batch under a new key";
    std::string body = "{\"error\":";
    AppendJsonString(message, &body);
    body += "}";
    return HttpResponse::Json(422, std::move(body));
  }
  HttpResponse response = HttpResponse::Json(200, IngestAnswerJson(previous.answer));
  response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

HttpResponse HandleIngest(ApiState* state, const HttpRequest& request) {
  if (!state->ready.load() || state->stopping.load()) return Unready(*state);
  if (std::string problem = CheckIngestContentType(request.Header("content-type"));
      !problem.empty()) {
    return HttpResponse::Json(
        415, "{\"error\":" + [&] {
          std::string quoted;
          AppendJsonString(problem, &quoted);
          return quoted;
        }() + "}");
  }
  if (const void* nul = std::memchr(request.body.data(), '\0', request.body.size())) {
    size_t at = static_cast<const char*>(nul) - request.body.data();
    return HttpResponse::Error(
        Status::InvalidArgument("the body is not text: NUL byte at byte " + std::to_string(at) +
                                " (after Content-Encoding decoding); nothing was stored"),
        static_cast<int>(std::min<size_t>(at, INT32_MAX)));
  }
  ingest::IngestCall call = IngestCallFromRequest(request, "native");
  call.bad_level = ingest::BadLevel::kReject;  // the native client reads the error
  Result<ingest::ShipperContext> context = state->pipeline.Begin(call);
  if (!context.ok()) return HttpResponse::Error(context.status());
  std::string key = request.Header("idempotency-key");
  if (key.size() > 256) {
    return HttpResponse::Error(Status::InvalidArgument("Idempotency-Key: at most 256 characters"));
  }
  // Holds the key while this request runs: a concurrent retry waits, then finds the key.
  IdempotencyHold hold(&state->idempotency, request.tenant, key);
  if (!hold.status().ok()) return HttpResponse::Error(hold.status());
  const uint64_t body_hash = key.empty() ? 0 : IngestBodyHash(request);
  if (!key.empty()) {
    if (auto previous = state->sink.FindIdempotencyKey(request.tenant, key)) {
      return IdempotentAnswer(*previous, body_hash);
    }
  }

  std::vector<Record> records;
  ingest::IngestCounts counts;
  ingest::NormalizeBody(request.body, context->defaults, context->options, context->now_ns,
                        &records, &counts);
  const std::string answer = EncodeIngestAnswer(counts);
  Status status;
  if (key.empty()) {
    status = state->pipeline.Submit(*context, "native", &records);
  } else {
    const ingest::BatchKey batch_key{key, body_hash, answer};
    status = state->pipeline.Submit(*context, "native", &records, &batch_key);
    if (status.code() == StatusCode::kAlreadyExists) {
      // Taken meanwhile by a caller that does not go through this route's gate.
      if (auto previous = state->sink.FindIdempotencyKey(request.tenant, key)) {
        return IdempotentAnswer(*previous, body_hash);
      }
      return HttpResponse::Error(Status::Unavailable(
          "a batch with this Idempotency-Key is still being stored; retry with the same key"));
    }
  }
  if (!status.ok()) return HttpResponse::Error(status);
  return HttpResponse::Json(200, IngestAnswerJson(answer));
}

// Unacknowledged WAL damage whose time range overlaps the search's: one warning each (at most
// kMaxDamageWarnings, then a count), saying what, where, how many bytes and how to acknowledge.
void AddWalDamageWarnings(ApiState* state, const query::SearchRequest& search,
                          std::vector<std::string>* warnings) {
  constexpr size_t kMaxDamageWarnings = 5;
  storage::Engine* engine = state->engine.load();
  if (engine == nullptr) return;
  auto damage = engine->ListWalDamage(/*unacknowledged_only=*/true);
  if (!damage.ok() || damage->empty()) return;
  auto range = query::ParseTimeRange(search.since, search.from, search.to, search.all_time,
                                     state->clock->NowNanos());
  if (!range.ok()) return;
  size_t shown = 0, more = 0;
  for (const storage::WalDamageEntry& d : *damage) {
    if (!d.Overlaps(range->from_ns, range->to_ns, search.time_field_ts)) continue;
    if (shown == kMaxDamageWarnings) {
      ++more;
      continue;
    }
    ++shown;
    std::string when = "records of unknown time";
    if (d.range_known) {
      const bool ts = search.time_field_ts;
      when = std::string("records with ") + (ts ? "ts" : "ingest_ts") + " in " +
             FormatRfc3339Nanos(ts ? d.min_ts : d.min_ingest_ts) + " .. " +
             FormatRfc3339Nanos(ts ? d.max_ts : d.max_ingest_ts);
    }
    const std::string id = std::to_string(d.id);
    warnings->push_back("WAL damage #" + id + " (" + d.kind + "): " + std::to_string(d.bytes) +
                        " bytes at offset " + std::to_string(d.offset) + " of WAL file " + d.file +
                        " were lost at start-up; " + when +
                        " may be missing from this answer. Once handled, acknowledge it: "
                        "sawmill admin damage ack " +
                        id + " (POST /api/v1/admin/damage/ack?id=" + id + ")");
  }
  if (more > 0) {
    warnings->push_back(std::to_string(more) +
                        " more unacknowledged WAL damage entries overlap this time range "
                        "(sawmill admin damage list)");
  }
}

void AppendDamageJson(const storage::WalDamageEntry& d, std::string* out) {
  *out += "{\"id\":" + std::to_string(d.id) + ",\"file\":";
  AppendJsonString(d.file, out);
  *out += ",\"offset\":" + std::to_string(d.offset) + ",\"bytes\":" + std::to_string(d.bytes) +
          ",\"kind\":";
  AppendJsonString(d.kind, out);
  *out += ",\"detail\":";
  AppendJsonString(d.detail, out);
  *out += ",\"acknowledged_loss\":";
  *out += d.acknowledged_loss ? "true" : "false";
  *out += ",\"time_range\":";
  if (d.range_known) {
    *out += "{\"ts\":[\"" + FormatRfc3339Nanos(d.min_ts) + "\",\"" + FormatRfc3339Nanos(d.max_ts) +
            "\"],\"ingest_ts\":[\"" + FormatRfc3339Nanos(d.min_ingest_ts) + "\",\"" +
            FormatRfc3339Nanos(d.max_ingest_ts) + "\"]}";
  } else {
    *out += "null";
  }
  *out += ",\"first_seen\":\"" + FormatRfc3339Nanos(d.first_seen_ns) + "\",\"acknowledged\":";
  *out += d.acked_ns != 0 ? "true" : "false";
  *out += ",\"acknowledged_at\":";
  *out += d.acked_ns != 0 ? "\"" + FormatRfc3339Nanos(d.acked_ns) + "\"" : std::string("null");
  *out += '}';
}

HttpResponse HandleDamageList(ApiState* state, const HttpRequest& request) {
  storage::Engine* engine = state->engine.load();
  if (!state->ready.load() || engine == nullptr) return Unready(*state);
  auto damage = engine->ListWalDamage(Truthy(request.Query("unacknowledged")));
  if (!damage.ok()) return HttpResponse::Error(damage.status());
  size_t unacknowledged = 0;
  std::string body = "{\"damage\":[";
  for (size_t i = 0; i < damage->size(); ++i) {
    if (i > 0) body += ',';
    AppendDamageJson((*damage)[i], &body);
    unacknowledged += (*damage)[i].acked_ns == 0;
  }
  body += "],\"unacknowledged\":" + std::to_string(unacknowledged) + "}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleDamageAck(ApiState* state, const HttpRequest& request) {
  storage::Engine* engine = state->engine.load();
  if (!state->ready.load() || engine == nullptr) return Unready(*state);
  const bool all = Truthy(request.Query("all"));
  if (all == request.HasQuery("id")) {
    return HttpResponse::Error(Status::InvalidArgument(
        "give either id=N (one damage entry, see GET /api/v1/admin/damage) or all=true"));
  }
  uint64_t id = 0;
  if (!all) {
    auto parsed = ParseCount("id", request.Query("id"), UINT64_MAX);
    if (!parsed.ok()) return HttpResponse::Error(parsed.status());
    if (*parsed == 0) return HttpResponse::Error(Status::InvalidArgument("id: ids start at 1"));
    id = *parsed;
  }
  auto changed = engine->AcknowledgeWalDamage(id);
  if (!changed.ok()) return HttpResponse::Error(changed.status());
  return HttpResponse::Json(200, "{\"acknowledged\":" + std::to_string(*changed) + "}");
}

// A slot of the request's tenant's concurrent-query quota, held while the handler runs.
Result<std::shared_ptr<void>> QuerySlot(ApiState* state, const HttpRequest& request) {
  if (state->query_limiter == nullptr) return std::shared_ptr<void>();
  return state->query_limiter->Acquire(request.tenant);
}

HttpResponse HandleSearch(ApiState* state, const HttpRequest& request) {
  query::QueryEngine* engine = state->query.load();
  if (!state->ready.load() || engine == nullptr) return Unready(*state);
  auto slot = QuerySlot(state, request);
  if (!slot.ok()) return HttpResponse::Error(slot.status());
  query::SearchRequest search;
  search.tenant = request.tenant;
  // With tokens, the per-user limit counts per token: a self-declared header would let one
  // caller pose as many.
  search.user = request.caller.authenticated
                    ? "token:" + request.caller.token_id
                    : request.Header("x-sawmill-user", request.remote_address);
  search.role = request.caller.role;  // reader_max_range (tenant_limits.h)
  search.q = request.Query("q");
  search.since = request.Query("since");
  search.from = request.Query("from");
  search.to = request.Query("to");
  search.all_time = Truthy(request.Query("all_time"));
  search.explain = Truthy(request.Query("explain"));
  if (request.HasQuery("limit")) {
    auto limit = ParseCount("limit", request.Query("limit"), state->options.max_search_limit);
    if (!limit.ok()) return HttpResponse::Error(limit.status());
    search.limit = *limit;
  }
  std::string time_field = request.Query("time_field", "ingest_ts");
  if (time_field != "ingest_ts" && time_field != "ts") {
    return HttpResponse::Error(Status::InvalidArgument(
        "time_field: expected 'ingest_ts' (default) or 'ts', got '" + time_field + "'"));
  }
  search.time_field_ts = time_field == "ts";
  if (request.HasQuery("cache")) search.use_cache = Truthy(request.Query("cache"));
  // use_indexes=0 answers by brute force (no index, bloom or min/max pruning): the baseline of
  // the benchmarks and a way to rule out an index bug during an incident.
  if (request.HasQuery("use_indexes")) search.use_indexes = Truthy(request.Query("use_indexes"));
  search.cancelled = request.client_gone.get();   // the client hung up: stop scanning
  SearchProgressRegistry::Registration progress;  // ?progress_id: readable while it runs
  if (request.HasQuery("progress_id")) {
    search.progress = std::make_shared<query::SearchProgress>();
    auto registered = state->search_progress.Register(request.tenant, request.Query("progress_id"),
                                                      search.progress);
    if (!registered.ok()) return HttpResponse::Error(registered.status());
    progress = std::move(*registered);
  }
  if (request.HasQuery("cursor")) {
    // The next page: the hits after the cursor (export_routes.h), newest first.
    auto cursor = ParseCursor(request.Query("cursor"));
    if (!cursor.ok()) return HttpResponse::Error(cursor.status());
    if (search.q.find('|') != std::string::npos) {
      auto parsed = query::ParseQuery(search.q);
      if (parsed.ok() && !parsed->pipes.empty()) {
        return HttpResponse::Error(
            Status::InvalidArgument("cursor: pages the hits of a filter, not a pipe's rows"));
      }
    }
    auto range = query::ParseTimeRange(search.since, search.from, search.to, search.all_time,
                                       state->clock->NowNanos());
    if (!range.ok()) return HttpResponse::Error(range.status());
    search.since.clear();
    search.all_time = false;
    search.from = FormatRfc3339Nanos(range->from_ns);
    const int64_t after = cursor->time < INT64_MAX ? cursor->time + 1 : INT64_MAX;
    search.to = FormatRfc3339Nanos(std::min(range->to_ns, after));
    search.q = "(" + (search.q.empty() ? std::string("*") : search.q) + ") AND " +
               AfterCursorFilter(*cursor, search.time_field_ts, /*oldest_first=*/false);
  }

  int64_t start = state->clock->MonotonicNanos();
  auto result = engine->Search(search);
  if (!result.ok()) {
    return HttpResponse::Error(result.status(), ErrorPosition(result.status().message(), search.q));
  }
  const query::SearchResponse& answer = *result;
  std::vector<std::string> warnings = answer.warnings;
  AddWalDamageWarnings(state, search, &warnings);
  HttpMetrics::Get().ObserveQuery(answer.is_pipe ? "pipe" : "filter",
                                  SecondsSince(state->clock, start), answer.stats.cache_hit);
  std::string body;
  body.reserve(256 + answer.hits.size() * 256);
  if (answer.is_pipe) {
    body += "{\"rows\":[";
    for (size_t i = 0; i < answer.rows.size(); ++i) {
      if (i > 0) body += ',';
      AppendRowJson(answer.rows[i], &body);
    }
  } else {
    body += "{\"hits\":[";
    for (size_t i = 0; i < answer.hits.size(); ++i) {
      if (i > 0) body += ',';
      AppendRecordJson(answer.hits[i], &body);
    }
  }
  body += "],\"stats\":";
  AppendStatsJson(answer.stats, &body);
  body += ",\"partial\":";
  body += answer.partial ? "true" : "false";
  body += ",\"warnings\":[";
  for (size_t i = 0; i < warnings.size(); ++i) {
    if (i > 0) body += ',';
    AppendJsonString(warnings[i], &body);
  }
  body += ']';
  if (!answer.is_pipe && !answer.partial && search.limit > 0 &&
      answer.hits.size() >= search.limit) {
    // More may match: the next page starts after the last hit (&cursor=<next_cursor>). Not
    // after a partial answer: its hits need not be the newest, and a cursor could skip lines.
    body += ",\"next_cursor\":\"" + FormatCursor(answer.hits.back(), search.time_field_ts) + "\"";
  }
  if (search.explain) {
    body += ",\"plan\":";
    AppendJsonString(answer.plan, &body);
  }
  body += '}';
  HttpResponse response = HttpResponse::Json(200, std::move(body));
  response.rows = static_cast<int64_t>(answer.is_pipe ? answer.rows.size() : answer.hits.size());
  return response;
}

HttpResponse HandleContext(ApiState* state, const HttpRequest& request) {
  query::QueryEngine* engine = state->query.load();
  if (!state->ready.load() || engine == nullptr) return Unready(*state);
  auto slot = QuerySlot(state, request);
  if (!slot.ok()) return HttpResponse::Error(slot.status());
  if (!request.HasQuery("id")) {
    return HttpResponse::Error(Status::InvalidArgument("id: required (the id of a search hit)"));
  }
  auto id = ParseCount("id", request.Query("id"), UINT64_MAX);
  if (!id.ok()) return HttpResponse::Error(id.status());
  uint64_t before = 50, after = 50;
  size_t max = state->options.max_context_lines;
  if (request.HasQuery("before")) {
    auto parsed = ParseCount("before", request.Query("before"), max);
    if (!parsed.ok()) return HttpResponse::Error(parsed.status());
    before = *parsed;
  }
  if (request.HasQuery("after")) {
    auto parsed = ParseCount("after", request.Query("after"), max);
    if (!parsed.ok()) return HttpResponse::Error(parsed.status());
    after = *parsed;
  }
  int64_t start = state->clock->MonotonicNanos();
  auto result = engine->Context(request.tenant, *id, before, after);
  if (!result.ok()) return HttpResponse::Error(result.status());
  HttpMetrics::Get().ObserveQuery("context", SecondsSince(state->clock, start), false);
  std::string body = "{\"before\":[";
  for (size_t i = 0; i < result->before.size(); ++i) {
    if (i > 0) body += ',';
    AppendRecordJson(result->before[i], &body);
  }
  body += "],\"hit\":";
  AppendRecordJson(result->hit, &body);
  body += ",\"after\":[";
  for (size_t i = 0; i < result->after.size(); ++i) {
    if (i > 0) body += ',';
    AppendRecordJson(result->after[i], &body);
  }
  body += "]";
  // A cluster node's context, when a node did not answer (docs/cluster.md "Context across
  // nodes"); one node's answer has neither.
  if (result->partial || !result->warnings.empty()) {
    body += std::string(",\"partial\":") + (result->partial ? "true" : "false") + ",\"warnings\":[";
    for (size_t i = 0; i < result->warnings.size(); ++i) {
      if (i > 0) body += ',';
      AppendJsonString(result->warnings[i], &body);
    }
    body += "]";
  }
  body += "}";
  HttpResponse response = HttpResponse::Json(200, std::move(body));
  response.rows = static_cast<int64_t>(result->before.size() + 1 + result->after.size());
  return response;
}

HttpResponse HandleFlush(ApiState* state, const HttpRequest&) {
  storage::Engine* engine = state->engine.load();
  if (!state->ready.load() || engine == nullptr) return Unready(*state);
  int64_t start = state->clock->MonotonicNanos();
  Status status = engine->Flush();
  if (!status.ok()) return HttpResponse::Error(status);
  storage::EngineStats stats = engine->stats();
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.3f", SecondsSince(state->clock, start) * 1000);
  return HttpResponse::Json(200,
                            "{\"flushed\":true,\"segments\":" + std::to_string(stats.segments) +
                                ",\"elapsed_ms\":" + elapsed + "}");
}

// Runs compaction rounds until one merges nothing (at most kMaxRounds), so that an operator or a
// benchmark can ask for "flushed and compacted" and get it when the call returns.
HttpResponse HandleCompact(ApiState* state, const HttpRequest&) {
  constexpr int kMaxRounds = 64;
  storage::Engine* engine = state->engine.load();
  if (!state->ready.load() || engine == nullptr) return Unready(*state);
  int64_t start = state->clock->MonotonicNanos();
  const uint64_t before = engine->stats().segments;
  for (int round = 0; round < kMaxRounds; ++round) {
    uint64_t compactions = engine->stats().compactions;
    Status status;
    {
      // A round of the job like the background ones: in a cluster it merges only partitions
      // whose lease it claims, its swap fenced by that lease (docs/cluster.md "Job leases as
      // built"); partitions another node works on are left to it.
      storage::JobRound job("compaction", storage::JobRound::kPerPartition);
      status = engine->CompactNow();
    }
    if (!status.ok()) return HttpResponse::Error(status);
    if (engine->stats().compactions == compactions) break;
  }
  const uint64_t now = engine->stats().segments;
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.3f", SecondsSince(state->clock, start) * 1000);
  return HttpResponse::Json(
      200, "{\"compacted\":true,\"segments_before\":" + std::to_string(before) +
               ",\"segments\":" + std::to_string(now) + ",\"elapsed_ms\":" + elapsed + "}");
}

// The segment catalog for operators: every segment (or those in ?state=), with counts by state.
HttpResponse HandleSegments(ApiState* state, const HttpRequest& request) {
  constexpr uint64_t kMaxListed = 100000;
  storage::Engine* engine = state->engine.load();
  if (!state->ready.load() || engine == nullptr) return Unready(*state);
  uint64_t limit = 1000;
  if (request.HasQuery("limit")) {
    auto parsed = ParseCount("limit", request.Query("limit"), kMaxListed);
    if (!parsed.ok()) return HttpResponse::Error(parsed.status());
    limit = *parsed;
  }
  const std::string want_state = request.Query("state");
  if (!want_state.empty() && want_state != "active" && want_state != "corrupt" &&
      want_state != "missing") {
    return HttpResponse::Error(Status::InvalidArgument(
        "state: expected active, corrupt or missing, got '" + want_state + "'"));
  }
  auto segments = engine->ListSegments();
  if (!segments.ok()) return HttpResponse::Error(segments.status());
  std::map<std::string, uint64_t> counts = {{"active", 0}, {"corrupt", 0}, {"missing", 0}};
  std::string list;
  uint64_t listed = 0, matching = 0;
  for (const storage::SegmentStatus& s : *segments) {
    ++counts[s.state];
    if (!want_state.empty() && s.state != want_state) continue;
    ++matching;
    if (listed == limit) continue;
    if (listed++ > 0) list += ',';
    list += "{\"id\":" + std::to_string(s.id) + ",\"tenant\":";
    AppendJsonString(s.tenant, &list);
    list += ",\"partition\":" + std::to_string(s.partition) +
            ",\"rows\":" + std::to_string(s.rows) + ",\"bytes\":" + std::to_string(s.bytes) +
            ",\"min_ts\":" + std::to_string(s.min_ts) + ",\"max_ts\":" + std::to_string(s.max_ts) +
            ",\"tier\":";
    AppendJsonString(s.tier, &list);
    list += ",\"path\":";
    AppendJsonString(s.path, &list);
    list += ",\"state\":";
    AppendJsonString(s.state, &list);
    list += '}';
  }
  std::string body = "{\"segments\":[" + list + "],\"matching\":" + std::to_string(matching) +
                     ",\"truncated\":" + (listed < matching ? "true" : "false") + ",\"counts\":{";
  bool first = true;
  for (const auto& [name, n] : counts) {
    if (!first) body += ',';
    first = false;
    AppendJsonString(name, &body);
    body += ':' + std::to_string(n);
  }
  body += "}}";
  return HttpResponse::Json(200, std::move(body));
}

HttpResponse HandleMetrics(ApiState* state, const HttpRequest&) {
  HttpMetrics::Get().SetReady(state->ready.load() && !state->stopping.load());
  HttpResponse response;
  response.status = 200;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = SerializeMetrics();
  return response;
}

}  // namespace

Result<std::string> TenantFromHeader(std::string_view header) {
  if (header.empty()) return std::string("default");
  if (header.size() > 150 || header == "." || header == "..") {
    return Status::InvalidArgument(
        "X-Scope-OrgID: a tenant id is 1 to 150 characters, not '.'"
        " or '..'");
  }
  for (size_t i = 0; i < header.size(); ++i) {
    char c = header[i];
    if (std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!-_.*'()", c) != nullptr) {
      continue;
    }
    return Status::InvalidArgument("X-Scope-OrgID: character " + std::to_string(i + 1) +
                                   " is not allowed (letters, digits and !-_.*'() are)");
  }
  return std::string(header);
}

int ErrorPosition(std::string_view message, std::string_view query) {
  // The last " at L:C" in the message.
  size_t at = message.rfind(" at ");
  while (at != std::string_view::npos) {
    std::string_view rest = message.substr(at + 4);
    int line = 0, col = 0;
    auto r1 = std::from_chars(rest.data(), rest.data() + rest.size(), line);
    if (r1.ec == std::errc() && r1.ptr < rest.data() + rest.size() && *r1.ptr == ':') {
      auto r2 = std::from_chars(r1.ptr + 1, rest.data() + rest.size(), col);
      if (r2.ec == std::errc() && line >= 1 && col >= 1) {
        size_t offset = 0;
        for (int l = 1; l < line; ++l) {
          size_t nl = query.find('\n', offset);
          if (nl == std::string_view::npos) break;
          offset = nl + 1;
        }
        return static_cast<int>(std::min(offset + col - 1, query.size()));
      }
    }
    if (at == 0) break;
    at = message.rfind(" at ", at - 1);
  }
  return -1;
}

void RegisterApiRoutes(Router* router, ApiState* state) {
  HttpMetrics::Get();  // registers the families so that /metrics lists them from the start
  ingest::PipelineOptions pipeline_options = state->pipeline.options();
  pipeline_options.max_line_bytes = state->options.max_line_bytes;
  state->pipeline.set_options(pipeline_options);
  state->pipeline.set_clock(state->clock);
  state->pipeline.AddListener(
      [](const ingest::BatchInfo& batch, const std::vector<Record>& records) {
        uint64_t bytes = 0;
        std::map<uint32_t, uint64_t> by_flags;
        for (const Record& record : records) {
          bytes += record.message.size();
          for (const auto& [key, value] : record.fields) bytes += key.size() + value.size();
          if (record.flags != 0) ++by_flags[record.flags];
        }
        auto& metrics = HttpMetrics::Get();
        metrics.CountIngested(batch.tenant, batch.protocol, records.size(), bytes);
        for (const auto& [flags, count] : by_flags) metrics.CountFlagged(flags, count);
      });
  router->Add("POST", "/api/v1/ingest",
              [state](const HttpRequest& r) { return HandleIngest(state, r); });
  router->Add("GET", "/api/v1/search",
              [state](const HttpRequest& r) { return HandleSearch(state, r); });
  router->Add("GET", "/api/v1/search/progress", [state](const HttpRequest& r) {
    return HandleSearchProgress(&state->search_progress, r);
  });
  router->Add("GET", "/api/v1/context",
              [state](const HttpRequest& r) { return HandleContext(state, r); });
  router->Add("POST", "/api/v1/admin/flush",
              [state](const HttpRequest& r) { return HandleFlush(state, r); });
  router->Add("GET", "/api/v1/admin/segments",
              [state](const HttpRequest& r) { return HandleSegments(state, r); });
  router->Add("POST", "/api/v1/admin/compact",
              [state](const HttpRequest& r) { return HandleCompact(state, r); });
  router->Add("GET", "/api/v1/admin/damage",
              [state](const HttpRequest& r) { return HandleDamageList(state, r); });
  router->Add("POST", "/api/v1/admin/damage/ack",
              [state](const HttpRequest& r) { return HandleDamageAck(state, r); });
  router->Add("GET", "/api/v1/tail", [](const HttpRequest&) {
    return HttpResponse::Error(Status::InvalidArgument(
        "live tail needs a WebSocket upgrade (Upgrade: websocket) or Accept: text/event-stream"));
  });
  router->Add("GET", "/healthz",
              [](const HttpRequest&) { return HttpResponse::Json(200, "{\"status\":\"ok\"}"); });
  router->Add("GET", "/readyz", [state](const HttpRequest&) {
    if (state->ready.load() && !state->stopping.load()) {
      storage::Engine* engine = state->engine.load();
      Status writes = engine != nullptr ? engine->WriteHealth() : Status::OK();
      if (!writes.ok()) {
        // Not ready for writes: a load balancer should send them elsewhere. Searches still work.
        std::string body = "{\"status\":";
        AppendJsonString(writes.message().substr(0, writes.message().find(" (")), &body);
        body += ",\"error\":";
        AppendJsonString(writes.message(), &body);
        body += '}';
        HttpResponse response = HttpResponse::Json(503, std::move(body));
        response.headers.emplace_back("Retry-After", "1");
        return response;
      }
      return HttpResponse::Json(200, "{\"status\":\"ready\"}");
    }
    return Unready(*state);
  });
  router->Add("GET", "/metrics", [state](const HttpRequest& r) { return HandleMetrics(state, r); });
}

}  // namespace sawmill::http
