// The wire form of a cluster query's parts (docs/cluster.md "Read path"): what
// POST /internal/v1/memtable-search is asked (JSON, readable in a log) and what it answers
// (binary: hits as WAL record encodings, groups as varints; docs/format/cluster.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "query/query_engine.h"
#include "sawmill/status.h"

namespace sawmill::cluster {

// The part answer versions (docs/format/cluster.md): 1 without cuts, 2 with cuts, 3 with each
// cut's fence. This build reads and writes every one of them.
inline constexpr uint32_t kPartAnswerVersion = 3;
// What a request that does not say which versions it reads is answered in: its node is of a
// build before "answer_version" was sent, which reads versions 1 and 2 only.
inline constexpr uint32_t kPartAnswerVersionUnsaid = 2;

// The request body: {"tenant":..,"q":..,"from_ns":..,"to_ns":..,"all_time":..,
// "time_field":"ingest_ts"|"ts","limit":..,"timeout_ms":..,"answer_version":..}; this build
// sends answer_version kPartAnswerVersion, and older builds leave it out.
std::string EncodePartRequest(const query::PartRequest& request);
// Errors: InvalidArgument naming the field that is missing or of the wrong type.
Result<query::PartRequest> DecodePartRequest(std::string_view body);

// The version to answer "request" in: the highest this build writes and the asking node reads
// (kPartAnswerVersionUnsaid when the request does not say).
uint32_t PartAnswerVersionFor(const query::PartRequest& request);

// The request body of POST /internal/v1/memtable-context (a cluster context's part):
// {"tenant":..,"id":..,"before":..,"after":..,"timeout_ms":..,"answer_version":..} and, when the
// asking node has the hit, "around":{"service":..,"host":..,"ingest_ts":..,"seq":..}. The
// answer is a part answer (below): the hit when it was looked for and found, and its
// neighbours; before and after at most query::kMaxContextLines.
std::string EncodeContextPartRequest(const query::ContextPartRequest& request);
// Errors: InvalidArgument naming the field that is missing, of the wrong type or over the cap.
// The request decoded is for the memtables alone.
Result<query::ContextPartRequest> DecodeContextPartRequest(std::string_view body);
// The version to answer a context part in (the route came with version 3: a request that does
// not say is answered in it).
uint32_t PartAnswerVersionFor(const query::ContextPartRequest& request);

// The answer body (Content-Type application/x-sawmill-part), in "version" (1 to
// kPartAnswerVersion): version 2 leaves out the cuts' fences, version 1 the cuts, for an asking
// node of an older build (docs/cluster.md "Fenced answers": what it gets).
std::string EncodePartAnswer(const query::PartAnswer& answer,
                             uint32_t version = kPartAnswerVersion);
// Errors: DataLoss naming what did not decode.
Result<query::PartAnswer> DecodePartAnswer(std::string_view body);

inline constexpr const char* kPartAnswerContentType = "application/x-sawmill-part";

}  // namespace sawmill::cluster
