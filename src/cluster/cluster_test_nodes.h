// Test-only: cluster nodes that live in one process (the cluster tests on one PostgreSQL) and
// their fan-out, each asking its peers by calling their query engines instead of over HTTP.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "cluster/cluster_node.h"
#include "cluster/fanout.h"
#include "cluster/node_registry.h"
#include "cluster/segment_refresh.h"
#include "query/query_engine.h"
#include "storage/engine.h"

namespace sawmill::cluster {

// The flush threads of an in-process node unless its test sets them: what `sawmill server`
// ships (ServerConfig::flush_threads, src/http/server_config.h: 1, for memory), on a cluster
// node too, rather than the engine's own default (2). Tests of two flushes at once set 2.
inline constexpr int kServerFlushThreads = 1;

// What a user's query asks a node: "q" over all time, the newest "limit", the result cache off.
inline Result<query::SearchResponse> SearchAllTime(query::QueryEngine& engine, const std::string& q,
                                                   size_t limit = 100) {
  query::SearchRequest r;
  r.q = q;
  r.all_time = true;
  r.limit = limit;
  r.use_cache = false;
  return engine.Search(r);
}

// The "count" of a `| count` answer; -1 when the answer is not one row with a count.
inline int64_t CountOf(const query::SearchResponse& response) {
  if (response.rows.size() != 1) return -1;
  for (const auto& [name, value] : response.rows[0]) {
    if (name == "count") return std::get<int64_t>(value);
  }
  return -1;
}

// An answer's warnings, one a line (for a failure message).
inline std::string Warnings(const query::SearchResponse& response) {
  std::string out;
  for (const std::string& w : response.warnings) out += w + "\n";
  return out;
}

// The local query engine (the node's own, not its fan-out) of the test's node "id"; null when
// the test has no such node.
using FindLocalEngine = std::function<query::QueryEngine*(const std::string& id)>;

// A node of such a test: its cluster node, engine, own query engine ("local"), segment view and
// fan-out over the others, and the query engine over that ("query"). A test's own node type may
// derive from it for what it adds (its catalog wrappers, its stalls).
struct InProcessNode {
  std::string id;
  std::unique_ptr<ClusterNode> cluster;
  std::unique_ptr<storage::Engine> engine;
  std::unique_ptr<query::QueryEngine> local;
  std::unique_ptr<SegmentRefresh> refresh;
  std::unique_ptr<Fanout> fanout;
  std::unique_ptr<FanoutQueryEngine> query;
};

// The FindLocalEngine of a test's nodes: "nodes" points to a container of pointers to nodes
// with an "id" and a "local" query engine, read at each call.
template <class Nodes>
FindLocalEngine LocalEngineIn(const Nodes* nodes) {
  return [nodes](const std::string& id) -> query::QueryEngine* {
    for (const auto& node : *nodes) {
      if (node->id == id) return node->local.get();
    }
    return nullptr;
  };
}

// Called by the asking side just before and just after a peer answers (the peer's id), e.g. to
// stall an answer after its node checked its fence; null: nothing.
struct AnswerHooks {
  std::function<void(const std::string&id)> before, after;
};

// A node's fan-out over the peers "registry" sees and the query engine over it: "local" with
// the fan-out, its segment view caught up by "refresh", the answers checked after the snapshot
// by "check" (FanoutQueryEngine; {}: not checked). A peer is asked by calling SearchMemtables
// on the engine "find" gives for it, between "hooks", through the wire codec both ways
// (part_codec.h, in the version the request asks for); a peer not found or a request that
// does not decode is a partial part, and an error a partial part with a warning naming the
// node, as over HTTP (fanout.cc).
struct InProcessFanout {
  InProcessFanout(NodeRegistry* registry, query::QueryEngine* local, SegmentRefresh* refresh,
                  FindLocalEngine find, AnswerCheck check = {}, AnswerHooks hooks = {});

  std::unique_ptr<Fanout> fanout;
  std::unique_ptr<FanoutQueryEngine> query;  // uses "fanout": declared after it
};

}  // namespace sawmill::cluster
