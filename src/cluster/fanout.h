// The query fan-out of a cluster node (docs/cluster.md "Read path"): a search on any node also
// asks every other live node (the node registry's list as of its last heartbeat) for its
// memtables' part, over POST /internal/v1/memtable-search, all in parallel, and the executor
// merges the parts into its own answer (query_engine.h "Cluster fan-out"). A node that does not
// answer by the query's deadline, or answers with an error, makes the answer partial with a
// warning naming it: never a silent gap.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/node_registry.h"
#include "common/clock.h"
#include "query/query_engine.h"

namespace sawmill::cluster {

struct FanoutOptions {
  std::string secret;  // the cluster_secret, sent in X-Sawmill-Cluster-Secret
  // The most any one node is waited for, whatever is left of the query's time.
  int64_t max_wait_ns = 60 * kNanosPerSecond;
};

// Several nodes' parts as one: hits and groups put together (the executor keeps the newest hits
// and adds the groups up), counts added, partial if any is, every warning kept.
query::PartAnswer MergeParts(std::vector<query::PartAnswer> parts);

// The live nodes other than this one (NodeRegistry::Peers; empty before it registered).
using PeerList = std::function<std::vector<catalog::NodeRow>()>;

// Brings this node's segment view up to catalog change "at_least" within "timeout_ns" and
// returns the change it reached, with "*error" set when that is below "at_least"
// (SegmentRefresh::CatchUp). Null: this node keeps no view of other nodes' segments.
using ViewCatchUp =
    std::function<uint64_t(uint64_t at_least, int64_t timeout_ns, std::string* error)>;

// The internal routes a peer is asked on (docs/api.md "Cluster").
inline constexpr const char* kMemtableSearchRoute = "/internal/v1/memtable-search";
inline constexpr const char* kMemtableContextRoute = "/internal/v1/memtable-context";

// One peer's part, asked with "body" on "route" (one of the two above) over HTTP by default (the
// cluster tests of one process ask engines directly). A failure is a partial part with a
// warning naming the node.
using AskPeer =
    std::function<query::PartAnswer(const catalog::NodeRow& peer, std::string_view route,
                                    const std::string& body, int64_t timeout_ns)>;

class Fanout {
 public:
  // "ask" null: POST on the route with the cluster secret.
  Fanout(PeerList peers, FanoutOptions options, AskPeer ask = nullptr);

  // The other nodes' parts of "request", merged: every live peer asked in parallel, each given
  // what is left of request.timeout_ns; each answering peer's cut names it. Thread-safe.
  query::PartAnswer AskPeers(const query::PartRequest& request) const;
  // The same, one part per peer (in the order of the peer list).
  std::vector<query::PartAnswer> AskEach(const query::PartRequest& request) const;
  // A cluster context's parts (POST /internal/v1/memtable-context, memtables only), one per
  // live peer, or per peer of "only" when set; each answering peer's part has its cut, naming
  // it; a failed one has none.
  std::vector<query::PartAnswer> AskEachContext(const query::ContextPartRequest& request,
                                                const std::vector<std::string>* only) const;

  // True when other live nodes exist (as of the last heartbeat).
  bool HasPeers() const { return !peers_().empty(); }
  // FanoutOptions::max_wait_ns.
  int64_t max_wait_ns() const { return options_.max_wait_ns; }

 private:
  // "body" on "route" to every peer of "peers" at once, given "timeout" each.
  std::vector<query::PartAnswer> AskAll(const std::vector<catalog::NodeRow>& peers,
                                        std::string_view route, const std::string& body,
                                        int64_t timeout) const;
  // What a peer is given of "timeout_ns" (at most max_wait_ns): this node waits "*wait", the
  // peer stops a little before, so that a partial part still arrives in time.
  int64_t PeerTimeout(int64_t timeout_ns, int64_t* wait) const;

  const PeerList peers_;
  const FanoutOptions options_;
  const AskPeer ask_;
};

// The querying side of the fenced answers (docs/cluster.md "Fenced answers"): after this node
// took its snapshot, every answer must still stand, i.e. no other node took the answering node's
// WAL objects over since the generation its answer carries (a stalled answer would otherwise
// count their lines twice, from its memtables and from the taker's).
struct AnswerCheck {
  std::string self;  // this node's id: its own memtables are checked as one more answer
  // The catalog's takeover generations (ClusterNode::ReadTakeovers), read at most once per
  // query, and only for answers neither rule below can vouch for.
  std::function<Result<std::map<std::string, uint64_t>>()> read_takeovers;
  // What this node knows of them without reading (ClusterNode::KnownTakeovers); null: nothing.
  std::function<std::optional<std::map<std::string, uint64_t>>()> known_takeovers;
  // NodeRegistry::may_look_dead_after_ns: an answer whose node's heartbeat was H old when it
  // answered, and which took at most T from the request to the check, stands when H + T is
  // within it (the node could not yet be dead to anyone).
  int64_t fresh_ns = 0;
};

// The answers of "parts" (per peer, as AskEach returns them) and this node's own memtables
// ("own", unset when they are not in the answer) that do not stand as of now (after the
// snapshot): each such node's id (check.self for its own) with the warning that says why.
// "asked_mono_ns": when the request was sent (Clock::MonotonicNanos of "clock").
std::vector<std::pair<std::string, std::string>> AnswersThatDoNotStand(
    const std::vector<query::PartAnswer>& parts, const storage::MemtableFence& own,
    int64_t asked_mono_ns, const AnswerCheck& check, Clock* clock);

// The query engine the routes use on a node that may have peers: a search gets
// SearchRequest::remote set to the fan-out while other live nodes exist, else it is the inner
// engine's alone (the embedded single node: no change at all). With "catch_up", the fan-out
// then brings the segment view up to what the answers need (docs/cluster.md "Exactly once
// across nodes"); an answer it cannot serve in time is partial, naming the nodes.
class FanoutQueryEngine final : public query::QueryEngine {
 public:
  // "inner" and "fanout" must outlive this.
  // "check": the fenced answers' check (null read_takeovers: none, every answer is taken).
  FanoutQueryEngine(query::QueryEngine* inner, const Fanout* fanout, ViewCatchUp catch_up = nullptr,
                    AnswerCheck check = {})
      : inner_(inner), fanout_(fanout), catch_up_(std::move(catch_up)), check_(std::move(check)) {}

  Result<query::SearchResponse> Search(const query::SearchRequest& request) override;
  // On a cluster node (one with a segment view to catch up, or with live peers): every live
  // peer asked for its memtables' part, the view caught up, the parts merged in the cluster's
  // order (docs/cluster.md "Context across nodes"). Else the inner engine's (one node: no change).
  Result<query::ContextResponse> Context(std::string_view tenant, uint64_t id, size_t before,
                                         size_t after) override;
  Result<query::PartAnswer> SearchMemtables(const query::PartRequest& request) override {
    return inner_->SearchMemtables(request);
  }
  Result<query::PartAnswer> ContextPart(const query::ContextPartRequest& request) override {
    return inner_->ContextPart(request);
  }

 private:
  query::QueryEngine* const inner_;
  const Fanout* const fanout_;
  const ViewCatchUp catch_up_;
  const AnswerCheck check_;
};

// The fan-out of one search with its view catch-up (FanoutQueryEngine; exposed for tests).
query::PartAnswer AskPeersAndCatchUp(const Fanout& fanout, const ViewCatchUp& catch_up,
                                     const query::PartRequest& request);
// The same, one part per peer; the catch-up's warnings, if any, in one more part at the end.
std::vector<query::PartAnswer> AskEachAndCatchUp(const Fanout& fanout, const ViewCatchUp& catch_up,
                                                 const query::PartRequest& request);

}  // namespace sawmill::cluster
