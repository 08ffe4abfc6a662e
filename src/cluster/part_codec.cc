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

Result<query::PartRequest> DecodePartRequest(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument("memtable-search: the body is not a JSON object");
  }
  const boost::json::object& o = v.as_object();
  auto text = [&o](const char* key, std::string* out) -> Status {
    const auto* x = o.if_contains(key);
    if (x == nullptr || !x->is_string()) {
      return Status::InvalidArgument(std::string("memtable-search: \"") + key +
                                     "\" must be a string");
    }
    *out = std::string(x->as_string());
    return Status::OK();
  };
  auto number = [&o](const char* key, int64_t* out) -> Status {
    const auto* x = o.if_contains(key);
    if (x == nullptr || !(x->is_int64() || x->is_uint64())) {
      return Status::InvalidArgument(std::string("memtable-search: \"") + key +
                                     "\" must be an integer");
    }
    *out = x->is_int64() ? x->as_int64() : static_cast<int64_t>(x->as_uint64());
    return Status::OK();
  };
  query::PartRequest r;
  std::string field;
  int64_t limit = 0, timeout_ms = 0;
  RETURN_IF_ERROR(text("tenant", &r.tenant));
  RETURN_IF_ERROR(text("q", &r.q));
  RETURN_IF_ERROR(number("from_ns", &r.range.from_ns));
  RETURN_IF_ERROR(number("to_ns", &r.range.to_ns));
  RETURN_IF_ERROR(text("time_field", &field));
  RETURN_IF_ERROR(number("limit", &limit));
  RETURN_IF_ERROR(number("timeout_ms", &timeout_ms));
  const auto* all = o.if_contains("all_time");
  if (all == nullptr || !all->is_bool()) {
    return Status::InvalidArgument("memtable-search: \"all_time\" must be true or false");
  }
  r.all_time = all->as_bool();
  if (field != "ts" && field != "ingest_ts") {
    return Status::InvalidArgument("memtable-search: \"time_field\" must be ts or ingest_ts");
  }
  r.time_field_ts = field == "ts";
  if (limit < 0 || timeout_ms <= 0 || r.range.to_ns < r.range.from_ns) {
    return Status::InvalidArgument(
        "memtable-search: limit must be >= 0, timeout_ms > 0 and from_ns <= to_ns");
  }
  r.limit = static_cast<size_t>(limit);
  r.timeout_ns = timeout_ms > INT64_MAX / 1'000'000 ? INT64_MAX : timeout_ms * 1'000'000;
  // Optional: a node of an older build does not send it.
  if (o.contains("answer_version")) {
    int64_t version = 0;
    RETURN_IF_ERROR(number("answer_version", &version));
    if (version < 1) {
      return Status::InvalidArgument("memtable-search: \"answer_version\" must be at least 1");
    }
    r.answer_version = static_cast<uint32_t>(std::min<int64_t>(version, UINT32_MAX));
  }
  return r;
}

uint32_t PartAnswerVersionFor(const query::PartRequest& request) {
  if (request.answer_version == 0) return kPartAnswerVersionUnsaid;
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
