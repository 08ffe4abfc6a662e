#include "cluster/part_codec.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>

#include "common/coding.h"
#include "common/json_string.h"
#include "wal/record_batch.h"

namespace sawmill::cluster {
namespace {

// "SWP" and a version byte: a body of another kind or version is refused, not misread. Version
// 2 adds the node's segment cut at the end, version 3 the fence after each cut
// (docs/cluster.md "Fenced answers"); a version 1 or 2 answer (a node of an older build) is read
// without them.
constexpr std::string_view kMagicV1 = "SWP\x01";
constexpr std::string_view kMagicV2 = "SWP\x02";
constexpr std::string_view kMagic = "SWP\x03";

}  // namespace

std::string EncodePartRequest(const query::PartRequest& r) {
  std::string out = "{\"tenant\":";
  AppendJsonString(r.tenant, &out);
  out += ",\"q\":";
  AppendJsonString(r.q, &out);
  out += ",\"from_ns\":" + std::to_string(r.range.from_ns) +
         ",\"to_ns\":" + std::to_string(r.range.to_ns) +
         ",\"all_time\":" + (r.all_time ? "true" : "false") +
         ",\"time_field\":" + (r.time_field_ts ? "\"ts\"" : "\"ingest_ts\"") +
         ",\"limit\":" + std::to_string(r.limit) +
         ",\"timeout_ms\":" + std::to_string(std::max<int64_t>(1, r.timeout_ns / 1'000'000)) +
         ",\"answer_version\":" + std::to_string(kPartAnswerVersion) + "}";
  return out;
}

namespace {

// The fields of an internal request's JSON body; errors name the route ("memtable-search")
// and the field.
class RequestFields {
 public:
  RequestFields(const boost::json::object& o, std::string_view route) : o_(o), route_(route) {}

  Status Text(const char* key, std::string* out) const {
    const auto* x = o_.if_contains(key);
    if (x == nullptr || !x->is_string()) return Wrong(key, "a string");
    *out = std::string(x->as_string());
    return Status::OK();
  }
  Status Number(const char* key, int64_t* out) const {
    const auto* x = o_.if_contains(key);
    if (x == nullptr || !(x->is_int64() || x->is_uint64())) return Wrong(key, "an integer");
    *out = x->is_int64() ? x->as_int64() : static_cast<int64_t>(x->as_uint64());
    return Status::OK();
  }
  Status Unsigned(const char* key, uint64_t* out) const {
    const auto* x = o_.if_contains(key);
    if (x == nullptr || !(x->is_uint64() || (x->is_int64() && x->as_int64() >= 0))) {
      return Wrong(key, "an integer >= 0");
    }
    *out = x->is_uint64() ? x->as_uint64() : static_cast<uint64_t>(x->as_int64());
    return Status::OK();
  }
  // The optional "answer_version" (a node of an older build does not send it): 0 when absent.
  Status AnswerVersion(uint32_t* out) const {
    if (!o_.contains("answer_version")) return Status::OK();
    int64_t version = 0;
    RETURN_IF_ERROR(Number("answer_version", &version));
    if (version < 1) return Error("\"answer_version\" must be at least 1");
    *out = static_cast<uint32_t>(std::min<int64_t>(version, UINT32_MAX));
    return Status::OK();
  }
  Status Error(const std::string& what) const {
    return Status::InvalidArgument(std::string(route_) + ": " + what);
  }

 private:
  Status Wrong(const char* key, const char* what) const {
    return Error(std::string("\"") + key + "\" must be " + what);
  }
  const boost::json::object& o_;
  const std::string_view route_;
};

Result<boost::json::object> ParseObject(std::string_view body, std::string_view route) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument(std::string(route) + ": the body is not a JSON object");
  }
  return std::move(v.as_object());
}

int64_t MillisToNanosCapped(int64_t ms) {
  return ms > INT64_MAX / 1'000'000 ? INT64_MAX : ms * 1'000'000;
}

}  // namespace

Result<query::PartRequest> DecodePartRequest(std::string_view body) {
  ASSIGN_OR_RETURN(boost::json::object o, ParseObject(body, "memtable-search"));
  const RequestFields fields(o, "memtable-search");
  query::PartRequest r;
  std::string field;
  int64_t limit = 0, timeout_ms = 0;
  RETURN_IF_ERROR(fields.Text("tenant", &r.tenant));
  RETURN_IF_ERROR(fields.Text("q", &r.q));
  RETURN_IF_ERROR(fields.Number("from_ns", &r.range.from_ns));
  RETURN_IF_ERROR(fields.Number("to_ns", &r.range.to_ns));
  RETURN_IF_ERROR(fields.Text("time_field", &field));
  RETURN_IF_ERROR(fields.Number("limit", &limit));
  RETURN_IF_ERROR(fields.Number("timeout_ms", &timeout_ms));
  const auto* all = o.if_contains("all_time");
  if (all == nullptr || !all->is_bool()) {
    return fields.Error("\"all_time\" must be true or false");
  }
  r.all_time = all->as_bool();
  if (field != "ts" && field != "ingest_ts") {
    return fields.Error("\"time_field\" must be ts or ingest_ts");
  }
  r.time_field_ts = field == "ts";
  if (limit < 0 || timeout_ms <= 0 || r.range.to_ns < r.range.from_ns) {
    return fields.Error("limit must be >= 0, timeout_ms > 0 and from_ns <= to_ns");
  }
  r.limit = static_cast<size_t>(limit);
  r.timeout_ns = MillisToNanosCapped(timeout_ms);
  RETURN_IF_ERROR(fields.AnswerVersion(&r.answer_version));
  return r;
}

std::string EncodeContextPartRequest(const query::ContextPartRequest& r) {
  std::string out = "{\"tenant\":";
  AppendJsonString(r.tenant, &out);
  out += ",\"id\":" + std::to_string(r.id) + ",\"before\":" + std::to_string(r.before) +
         ",\"after\":" + std::to_string(r.after) +
         ",\"timeout_ms\":" + std::to_string(std::max<int64_t>(1, r.timeout_ns / 1'000'000)) +
         ",\"answer_version\":" + std::to_string(kPartAnswerVersion);
  if (r.around) {
    out += ",\"around\":{\"service\":";
    AppendJsonString(r.around->service, &out);
    out += ",\"host\":";
    AppendJsonString(r.around->host, &out);
    out += ",\"ingest_ts\":" + std::to_string(r.around->ingest_ts) +
           ",\"seq\":" + std::to_string(r.around->seq) + "}";
  }
  out += "}";
  return out;
}

Result<query::ContextPartRequest> DecodeContextPartRequest(std::string_view body) {
  ASSIGN_OR_RETURN(boost::json::object o, ParseObject(body, "memtable-context"));
  const RequestFields fields(o, "memtable-context");
  query::ContextPartRequest r;
  uint64_t before = 0, after = 0;
  int64_t timeout_ms = 0;
  RETURN_IF_ERROR(fields.Text("tenant", &r.tenant));
  RETURN_IF_ERROR(fields.Unsigned("id", &r.id));
  RETURN_IF_ERROR(fields.Unsigned("before", &before));
  RETURN_IF_ERROR(fields.Unsigned("after", &after));
  RETURN_IF_ERROR(fields.Number("timeout_ms", &timeout_ms));
  // The cap holds across the fan-out: a peer answers no more than the asking node may.
  if (before > query::kMaxContextLines || after > query::kMaxContextLines || timeout_ms <= 0) {
    return fields.Error("before and after must be at most " +
                        std::to_string(query::kMaxContextLines) + ", timeout_ms > 0");
  }
  r.before = static_cast<size_t>(before);
  r.after = static_cast<size_t>(after);
  r.timeout_ns = MillisToNanosCapped(timeout_ms);
  RETURN_IF_ERROR(fields.AnswerVersion(&r.answer_version));
  if (const auto* around = o.if_contains("around")) {
    if (!around->is_object()) return fields.Error("\"around\" must be an object");
    const RequestFields anchor(around->as_object(), "memtable-context: around");
    query::ContextAnchor a;
    RETURN_IF_ERROR(anchor.Text("service", &a.service));
    RETURN_IF_ERROR(anchor.Text("host", &a.host));
    RETURN_IF_ERROR(anchor.Number("ingest_ts", &a.ingest_ts));
    RETURN_IF_ERROR(anchor.Unsigned("seq", &a.seq));
    r.around = std::move(a);
  }
  r.memtables_only = true;  // a peer answers for its memtables alone
  return r;
}

uint32_t PartAnswerVersionFor(const query::PartRequest& request) {
  if (request.answer_version == 0) return kPartAnswerVersionUnsaid;
  return std::min(request.answer_version, kPartAnswerVersion);
}

uint32_t PartAnswerVersionFor(const query::ContextPartRequest& request) {
  // The route is newer than version 3: a request that does not say still reads it.
  if (request.answer_version == 0) return kPartAnswerVersion;
  return std::min(request.answer_version, kPartAnswerVersion);
}

std::string EncodePartAnswer(const query::PartAnswer& a, uint32_t version) {
  version = std::clamp<uint32_t>(version, 1, kPartAnswerVersion);
  std::string out(version == 1 ? kMagicV1 : version == 2 ? kMagicV2 : kMagic);
  PutVarint32(&out, a.partial ? 1 : 0);
  PutVarint64(&out, a.stats.rows_scanned);
  PutVarint64(&out, a.stats.rows_matched);
  PutVarint64(&out, a.stats.memtable_rows_scanned);
  PutVarint32(&out, static_cast<uint32_t>(a.warnings.size()));
  for (const std::string& w : a.warnings) PutLengthPrefixed(&out, w);
  PutVarint32(&out, static_cast<uint32_t>(a.hits.size()));
  std::string one;
  for (const Record& r : a.hits) {
    one.clear();
    wal::EncodeBatch(r.tenant, {r}, &one);
    wal::SetBatchBaseSeq(one.data(), r.seq);
    PutLengthPrefixed(&out, one);
  }
  PutVarint32(&out, a.groups.dropped ? 1 : 0);
  PutVarsint64(&out, a.groups.min_bucket);
  PutVarsint64(&out, a.groups.max_bucket);
  PutVarint32(&out, static_cast<uint32_t>(a.groups.groups.size()));
  for (const query::GroupCount& g : a.groups.groups) {
    PutVarsint64(&out, g.bucket);
    PutVarint32(&out, static_cast<uint32_t>(g.values.size()));
    for (const std::string& value : g.values) PutLengthPrefixed(&out, value);
    PutVarsint64(&out, g.count);
  }
  if (version == 1) return out;  // no cuts
  // The node's own cut (its id is known to the asking side).
  PutVarint32(&out, static_cast<uint32_t>(a.cuts.size()));
  for (const query::SegmentCut& cut : a.cuts) {
    PutVarint64(&out, cut.registered_through);
    PutVarint32(&out, static_cast<uint32_t>(cut.registering.size()));
    for (uint64_t id : cut.registering) PutVarint64(&out, id);
    if (version == 2) continue;  // no fence
    PutVarint32(&out, cut.fence.set ? 1 : 0);
    PutVarint64(&out, cut.fence.takeover_generation);
    PutVarsint64(&out, cut.fence.heartbeat_age_ns);
    PutVarint32(&out, cut.fence.knows_takeovers ? 1 : 0);
    PutVarint32(&out, static_cast<uint32_t>(cut.fence.takeovers.size()));
    for (const auto& [node, generation] : cut.fence.takeovers) {
      PutLengthPrefixed(&out, node);
      PutVarint64(&out, generation);
    }
  }
  return out;
}

Result<query::PartAnswer> DecodePartAnswer(std::string_view in) {
  auto bad = [](const char* what) {
    return Status::DataLoss(std::string("memtable-search answer: cannot decode ") + what);
  };
  const bool v1 = in.substr(0, kMagicV1.size()) == kMagicV1;
  const bool v2 = in.substr(0, kMagicV2.size()) == kMagicV2;
  if (!v1 && !v2 && in.substr(0, kMagic.size()) != kMagic) {
    return bad("its header (not a part answer v1, v2 or v3)");
  }
  in.remove_prefix(kMagic.size());
  query::PartAnswer a;
  uint32_t flag = 0, n = 0;
  if (!GetVarint32(&in, &flag)) return bad("partial");
  a.partial = flag != 0;
  if (!GetVarint64(&in, &a.stats.rows_scanned) || !GetVarint64(&in, &a.stats.rows_matched) ||
      !GetVarint64(&in, &a.stats.memtable_rows_scanned)) {
    return bad("stats");
  }
  if (!GetVarint32(&in, &n) || n > in.size()) return bad("warning count");
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view w;
    if (!GetLengthPrefixed(&in, &w)) return bad("a warning");
    a.warnings.emplace_back(w);
  }
  if (!GetVarint32(&in, &n) || n > in.size()) return bad("hit count");
  a.hits.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view batch;
    if (!GetLengthPrefixed(&in, &batch)) return bad("a hit");
    const size_t before = a.hits.size();
    if (!wal::DecodeBatch(batch, &a.hits).ok() || a.hits.size() != before + 1) {
      return bad("a hit's record");
    }
  }
  if (!GetVarint32(&in, &flag) || !GetVarsint64(&in, &a.groups.min_bucket) ||
      !GetVarsint64(&in, &a.groups.max_bucket)) {
    return bad("the groups' header");
  }
  a.groups.dropped = flag != 0;
  if (!GetVarint32(&in, &n) || n > in.size()) return bad("group count");
  a.groups.groups.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    query::GroupCount g;
    uint32_t values = 0;
    if (!GetVarsint64(&in, &g.bucket) || !GetVarint32(&in, &values) || values > in.size()) {
      return bad("a group");
    }
    for (uint32_t j = 0; j < values; ++j) {
      std::string_view value;
      if (!GetLengthPrefixed(&in, &value)) return bad("a group value");
      g.values.emplace_back(value);
    }
    if (!GetVarsint64(&in, &g.count)) return bad("a group count");
    a.groups.groups.push_back(std::move(g));
  }
  if (!v1) {
    if (!GetVarint32(&in, &n) || n > in.size()) return bad("cut count");
    for (uint32_t i = 0; i < n; ++i) {
      query::SegmentCut cut;
      uint32_t ids = 0;
      if (!GetVarint64(&in, &cut.registered_through) || !GetVarint32(&in, &ids) ||
          ids > in.size()) {
        return bad("a cut");
      }
      cut.registering.resize(ids);
      for (uint64_t& id : cut.registering) {
        if (!GetVarint64(&in, &id)) return bad("a cut's segment id");
      }
      if (!v2) {
        uint32_t set = 0;
        if (!GetVarint32(&in, &set) || set > 1 ||
            !GetVarint64(&in, &cut.fence.takeover_generation) ||
            !GetVarsint64(&in, &cut.fence.heartbeat_age_ns)) {
          return bad("a cut's fence");
        }
        cut.fence.set = set == 1;
        uint32_t knows = 0, known = 0;
        if (!GetVarint32(&in, &knows) || knows > 1 || !GetVarint32(&in, &known) ||
            known > in.size()) {
          return bad("a cut's known takeovers");
        }
        cut.fence.knows_takeovers = knows == 1;
        for (uint32_t k = 0; k < known; ++k) {
          std::string_view node;
          uint64_t generation = 0;
          if (!GetLengthPrefixed(&in, &node) || !GetVarint64(&in, &generation)) {
            return bad("a cut's known takeover");
          }
          cut.fence.takeovers[std::string(node)] = generation;
        }
      }
      a.cuts.push_back(std::move(cut));
    }
  }
  if (!in.empty()) return bad("its end (trailing bytes)");
  return a;
}

}  // namespace sawmill::cluster
