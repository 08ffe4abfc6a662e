// CONTRACT between the query engine (src/query) and its users (src/http, src/tail, the CLI).
// The query owner implements it. Language reference: docs/query-language.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "objstore/cold_cache.h"
#include "sawmill/record.h"
#include "sawmill/status.h"
#include "storage/engine.h"

namespace sawmill::query {

// A syntax error: message like "expected a value after '=' at 1:9", plus where.
struct ParseError {
  std::string message;
  int line = 1;
  int column = 1;     // 1-based
  size_t offset = 0;  // byte offset into the query
  // The query echoed with a caret under the position, two lines.
  std::string Pretty(std::string_view query) const;
};

// A compiled filter (the part before any pipe), used by the tail hub on every ingested record.
// Immutable and thread-safe once compiled.
class Matcher {
 public:
  virtual ~Matcher() = default;
  virtual bool Matches(const Record& record) const = 0;
};

// Compiles the filter of "query". A query with pipes is rejected (tail takes filters only).
// Errors: InvalidArgument whose message is the ParseError's (position included).
Result<std::shared_ptr<const Matcher>> CompileFilter(std::string_view query);

// Time range in ns since the epoch, [from, to).
struct TimeRange {
  int64_t from_ns = 0;
  int64_t to_ns = 0;
  bool relative = false;  // came from "since": rounded for the cache
};

// Parses the request's time parameters: since=15m|1h|7d|30s, or from/to as RFC 3339 or epoch
// seconds/ms/ns. All empty: the last hour. "all_time": no bound.
// Errors: InvalidArgument naming the parameter.
Result<TimeRange> ParseTimeRange(std::string_view since, std::string_view from, std::string_view to,
                                 bool all_time, int64_t now_ns);

// The live progress of a search over cold data (segments in the cold store), read by another
// thread while it runs (GET /api/v1/search/progress, the progress line of `sawmill search`).
struct SearchProgress {
  std::atomic<uint64_t> cold_segments{0};       // planned segments in the cold tier
  std::atomic<uint64_t> cold_segments_read{0};  // of them, finished (read or skipped)
  std::atomic<uint64_t> cold_bytes{0};          // their size: the most the search may fetch
  objstore::ColdReadTally cold_reads;           // bytes fetched from the store / from the cache
};

struct PartRequest;  // cluster fan-out, below
struct PartAnswer;

struct SearchRequest {
  std::string tenant = "default";
  std::string user;  // for the per-user concurrency limit; empty = anonymous
  // The caller's role ("reader", "tenant-admin", ...; empty without tokens). The engine does not
  // read it: the server's quota layer does (docs/security.md "Quotas").
  std::string role;
  std::string q;
  std::string since, from, to;  // raw request parameters, see ParseTimeRange
  bool all_time = false;
  size_t limit = 100;
  bool time_field_ts = false;  // filter on ts instead of ingest_ts
  bool explain = false;
  bool use_indexes = true;  // false: brute-force scan (benchmarks and differential tests)
  bool use_cache = true;
  // Set (by the HTTP server) when the client went away: the query stops at its next limit
  // check, like at the deadline, and counts in sawmill_queries_cancelled_total. May be null;
  // else it must outlive Search().
  const std::atomic<bool>* cancelled = nullptr;
  // Updated while the search runs when set (a search answered from the result cache or by an
  // identical running search reads nothing and leaves it at zero).
  std::shared_ptr<SearchProgress> progress;
  // Cluster fan-out (see PartRequest below): the other nodes' parts, merged into the answer.
  // Such a search is not answered from, nor stored in, the result cache (other nodes'
  // memtables are not part of its key). Null: this node only.
  std::function<PartAnswer(const PartRequest&)> remote;
  // Cluster fan-out, second step: called after this node took its snapshot and before
  // anything is read (so that whatever the snapshot holds was in place when it is called), with
  // remote's part and the fence of this node's own memtables (unset when they are not in the
  // answer); returns the part to use instead when some node's answer must be left out (a node
  // taken over while the query ran, docs/cluster.md "Fenced answers"), and says in
  // "*own_refused" why this node's own memtables must be left out, if they must. Null: none.
  std::function<std::optional<PartAnswer>(const PartAnswer& part, const storage::MemtableFence& own,
                                          std::string* own_refused)>
      check_remote;
};

struct QueryStats {
  uint64_t segments_total = 0;
  uint64_t segments_after_time = 0;
  uint64_t segments_after_index = 0;
  uint64_t segments_after_bloom = 0;
  uint64_t segments_pruned_by_index = 0;  // of segments_after_time: the inverted index said none
  uint64_t segments_not_needed = 0;       // of segments_after_time: the newest hits were found
  uint64_t blocks_total = 0;
  uint64_t blocks_read = 0;
  uint64_t bytes_read_compressed = 0;
  uint64_t bytes_read_raw = 0;
  uint64_t rows_scanned = 0;
  uint64_t rows_matched = 0;
  uint64_t memtable_rows_scanned = 0;
  // Of rows_matched: counted from the inverted index's postings without reading a row (a plain
  // `count` whose filter the index answers exactly, over blocks wholly inside the time range).
  uint64_t rows_counted_from_index = 0;
  // Of rows_scanned: rows of which an aggregation read only the columns it groups by (and the
  // time), or which an id lookup ruled out from its id column alone, building no record.
  uint64_t rows_from_columns = 0;
  // Cold tier (docs/api.md): planned segments in the cold store and how many were read, their
  // bytes (the most this query could fetch), bytes fetched from the cold store and bytes served
  // by the local cold cache.
  uint64_t cold_segments = 0;
  uint64_t cold_segments_read = 0;
  uint64_t cold_bytes = 0;
  uint64_t cold_bytes_fetched = 0;
  uint64_t cold_bytes_cached = 0;
  double elapsed_ms = 0;
  bool cache_hit = false;
};

// One output row of a pipe: ordered (name, value) pairs, e.g.
// {"bucket":"2026-11-30T10:01:00Z","level":"ERROR","count":12}. Numbers are int64.
using Value = std::variant<std::string, int64_t>;
using Row = std::vector<std::pair<std::string, Value>>;

struct SearchResponse {
  bool is_pipe = false;
  std::vector<Record> hits;  // filters: newest first
  std::vector<Row> rows;     // pipes
  QueryStats stats;
  bool partial = false;
  std::vector<std::string> warnings;
  std::string plan;  // explain: the plan, human-readable
};

// ---- Cluster fan-out (issue 20, docs/cluster.md "Read path") ----
// A query on a node of a cluster also asks every other live node for the part of the answer
// only it holds (its memtables) and merges it before finishing: hits newest first with the
// same limit, aggregations from their unfinished groups (counts add; top, uniq, sort and head
// are applied once, on the merged groups).

// One group of an unfinished aggregation: its time bucket (0 without one), its group values in
// the query's group-by order, and its count (lines, or bytes for `bytes`).
struct GroupCount {
  int64_t bucket = 0;
  std::vector<std::string> values;
  int64_t count = 0;
  friend bool operator==(const GroupCount&, const GroupCount&) = default;
};
struct AggregateState {
  std::vector<GroupCount> groups;
  bool dropped = false;  // groups past kMaxGroups were dropped: the counts are partial
  int64_t min_bucket = INT64_MAX, max_bucket = INT64_MIN;  // buckets seen (all_time ranges)
};

// What another node is asked: the query as text, the resolved range and the hit limit.
struct PartRequest {
  std::string tenant;
  std::string q;
  TimeRange range;
  bool all_time = false;
  bool time_field_ts = false;
  size_t limit = 100;
  int64_t timeout_ns = 0;  // what is left of the query's time; > 0
  // The highest part answer version the asking node reads (cluster/part_codec.h); 0 when the
  // request did not say (a node of a build before it was asked: answered in version 2).
  uint32_t answer_version = 0;
};

// Where a node's answer stops and its segments start (docs/cluster.md "Exactly once across
// nodes"), as of the moment it took its memtables: every segment that node flushed and
// registered at or below change "registered_through" (catalog::SegmentView::registered), and not
// in "registering", holds lines its answer does not; every other segment it flushed holds lines
// its answer does. The asking node reads the first kind from the shared store and leaves the
// second out.
struct SegmentCut {
  std::string node;  // the node's id (set by the asking side)
  uint64_t registered_through = 0;
  std::vector<uint64_t> registering;  // segment ids whose registration was under way
  // What the answer stands on (docs/cluster.md "Fenced answers"): the asking node checks it
  // after its snapshot (SearchRequest::check_remote) and leaves out the answer of a node taken
  // over meanwhile.
  storage::MemtableFence fence;

  friend bool operator==(const SegmentCut&, const SegmentCut&) = default;
};

// Another node's part: hits newest first (at most the limit), or the unfinished groups.
struct PartAnswer {
  std::vector<Record> hits;
  AggregateState groups;
  QueryStats stats;  // rows_scanned, rows_matched, memtable_rows_scanned are added in
  bool partial = false;
  std::vector<std::string> warnings;  // e.g. "node X did not answer within 2.5 s: ..."
  // One per node that answered: a node's own part has one (its node left empty), merged parts
  // have every answering node's. A search plans its segments after the parts are in, leaving
  // out of each node's segments those its cut says its answer holds (SearchRequest::remote).
  std::vector<SegmentCut> cuts;
};

// Asks the other nodes (all of them, in parallel) and merges their parts into one; called once
// per search, before its snapshot is taken (so that the snapshot's segments can be cut where
// each answering node's part ends: PartAnswer::cuts), and must return by the request's timeout
// (a node that does not answer by then makes the part partial, with a warning naming it).
using RemoteParts = std::function<PartAnswer(const PartRequest&)>;  // SearchRequest::remote

// The most lines a context answers on each side of its hit (GET /api/v1/context's own cap is
// at most this); a part one node asks another for is capped alike.
inline constexpr size_t kMaxContextLines = 1000;
// InvalidArgument when "before" or "after" is over it.
Status CheckContextLines(size_t before, size_t after);

struct ContextResponse {
  std::vector<Record> before;  // oldest first
  Record hit;
  std::vector<Record> after;  // oldest first
  // A cluster node's context (docs/cluster.md "Context across nodes"): a node that did not
  // answer makes it partial, each warning naming the node. On one node as on a cluster node, a
  // segment that could not be read makes it partial, each warning naming the segment.
  bool partial = false;
  std::vector<std::string> warnings;
};

// ---- Context in a cluster (docs/cluster.md "Context across nodes") ----
// On one node the lines around a hit are its service's and host's nearest by seq, which is the
// order that node took them in. A cluster has no such order (each node takes seqs in blocks of
// its own), so there they are the nearest by (ingest_ts, seq): the time the node that took a
// line in received it, ties broken by the seq, the same whichever node is asked.

// The hit a context is taken around, in the cluster's order.
struct ContextAnchor {
  std::string service, host;
  int64_t ingest_ts = 0;
  uint64_t seq = 0;
  friend bool operator==(const ContextAnchor&, const ContextAnchor&) = default;
};
inline ContextAnchor AnchorOf(const Record& hit) {
  return {hit.service, hit.host, hit.ingest_ts, hit.seq};
}

// One node's part of a cluster context (POST /internal/v1/memtable-context when
// memtables_only; the asking node's own part otherwise).
struct ContextPartRequest {
  std::string tenant;
  uint64_t id = 0;               // the hit's id (its seq)
  size_t before = 0, after = 0;  // each at most kMaxContextLines
  // The hit, when the asking node has it: the part is its neighbours. Unset: the node looks for
  // record "id" and, when it has it, answers it with its neighbours; else nothing.
  std::optional<ContextAnchor> around;
  bool memtables_only = false;  // this node's memtables alone (a peer's part)
  int64_t timeout_ns = 0;       // > 0: what is left of the context's time
  // The highest part answer version the asking node reads (cluster/part_codec.h).
  uint32_t answer_version = 0;
};

struct QueryOptions {
  Clock* clock = nullptr;       // nullptr: Clock::Real()
  uint32_t worker_threads = 0;  // 0: hardware concurrency
  uint64_t max_bytes_scanned = 1ull << 40;
  // The time limit of one query (the server's --query-timeout): past it the query stops and
  // answers partial=true with a warning naming the limit.
  int64_t max_query_ns = 60'000'000'000;
  uint32_t max_concurrent_per_user = 5;
  uint64_t cache_bytes = 64ull << 20;
  int64_t cache_ttl_ns = 30'000'000'000;
  // storage::EngineOptions::partitions, for pruning by partition when a query fixes both service
  // and host. 0: no partition pruning (the inverted index still prunes those segments).
  uint32_t partitions = 0;
  // ExecOptions::columnar: aggregations read only their columns. false only to measure the
  // record path (bench_query --columnar 0).
  bool columnar = true;
};

// Thread-safe. "engine" must outlive the QueryEngine.
class QueryEngine {
 public:
  virtual ~QueryEngine() = default;
  static std::unique_ptr<QueryEngine> Create(storage::Engine* engine, const QueryOptions& options);

  // Errors: InvalidArgument (syntax, with position; bad time range; a query over the limits of
  // parser.h), ResourceExhausted (too many concurrent queries for this user), Unavailable
  // (request.cancelled was set while waiting for an identical query's answer). A limit hit
  // mid-query is not an error: the answer has partial=true and a warning. A partial answer is
  // never cached; an answer cut short by its client's cancellation is not shared with the
  // identical queries waiting for it (one of them runs the query again).
  virtual Result<SearchResponse> Search(const SearchRequest& request) = 0;

  // The "before" and "after" lines around record "id" (its seq) from the same service and host.
  // A segment that cannot be read is skipped, the answer partial with a warning naming it
  // (docs/cluster.md "A segment that cannot be read"). Errors: NotFound when no record has that
  // id; Unavailable when none was found and a segment that may hold it could not be read (named);
  // DeadlineExceeded when the lookup ran past max_query_ns (checked before every block it reads).
  virtual Result<ContextResponse> Context(std::string_view tenant, uint64_t id, size_t before,
                                          size_t after) = 0;

  // A node's part of a cluster query (POST /internal/v1/memtable-search): "request" over this
  // node's memtables only, hits newest first up to the limit or the unfinished groups, stopped
  // at the timeout (partial). Errors: InvalidArgument for a query that does not parse.
  virtual Result<PartAnswer> SearchMemtables(const PartRequest& request) = 0;

  // A node's part of a cluster context (ContextPartRequest): in "hits", the record "id" when
  // it was looked for and found, and the "before" nearest lines below and the "after" nearest
  // above the anchor by (ingest_ts, seq) of the same service and host, in no order; in "cuts",
  // this node's cut as of the snapshot it read (always one, so that an answer is told from a
  // failure). A segment that cannot be read makes it partial, a warning naming the segment (the
  // hit not found then: it may be in that segment). Errors: InvalidArgument (before or after over
  // kMaxContextLines), DeadlineExceeded (past the timeout or max_query_ns, checked before every
  // block it reads).
  virtual Result<PartAnswer> ContextPart(const ContextPartRequest& request) = 0;
};

}  // namespace sawmill::query
