#include "cluster/fanout.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "cluster/part_codec.h"
#include "common/metrics.h"

namespace sawmill::cluster {
namespace {

struct FanoutMetrics {
  prometheus::Counter* asked;
  prometheus::Counter* failed;
  prometheus::Counter* fenced;
  prometheus::Counter* takeover_reads;
};

FanoutMetrics& Metrics() {
  static FanoutMetrics m{
      UnlabelledCounter("sawmill_fanout_requests_total",
                        "Requests this node sent to other nodes for their part of a query"),
      UnlabelledCounter("sawmill_fanout_failures_total",
                        "Of those, the ones that failed or did not answer in time (each made "
                        "its query's answer partial)"),
      UnlabelledCounter("sawmill_fanout_answers_fenced_total",
                        "Answers of other nodes left out because the node may have been taken "
                        "over while the query ran (each made its query's answer partial)"),
      UnlabelledCounter("sawmill_fanout_takeover_reads_total",
                        "Queries that read the catalog's takeover generations to check an "
                        "answer whose node's heartbeat could not vouch for it"),
  };
  return m;
}

// The body of the answer, bounded: a part holds at most the query's hits or its groups (at most
// kMaxGroups); 256 MiB is far beyond either.
constexpr size_t kMaxAnswerBytes = 256u << 20;

size_t Collect(char* data, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  if (out->size() + n > kMaxAnswerBytes) return 0;  // aborts the transfer
  out->append(data, n);
  return n;
}

std::string Seconds(int64_t ns) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(ns) / 1e9);
  return text;
}

// The part of a peer that failed ("why"): partial, with a warning naming the node, no cut.
query::PartAnswer FailedPart(const catalog::NodeRow& peer, const std::string& why) {
  Metrics().failed->Increment();
  query::PartAnswer failed;
  failed.partial = true;
  failed.warnings.push_back(
      "node " + peer.id + " (" + peer.url + ") " + why +
      ": lines it acknowledged and has not yet flushed to segments are missing from this answer");
  return failed;
}

// One peer's part; a failure is a partial part with a warning naming the node.
query::PartAnswer AskOne(const catalog::NodeRow& peer, std::string_view route,
                         const std::string& body, const std::string& secret, int64_t timeout_ns) {
  Metrics().asked->Increment();
  auto fail = [&peer](const std::string& why) { return FailedPart(peer, why); };
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return fail("could not be asked (curl_easy_init failed)");
  std::string answer;
  const std::string url = peer.url + std::string(route);
  const std::string secret_header = "X-Sawmill-Cluster-Secret: " + secret;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, secret_header.c_str());
  headers = curl_slist_append(headers, "Expect:");
  const long timeout_ms = static_cast<long>(std::max<int64_t>(1, timeout_ns / 1'000'000));
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return fail("did not answer within " + Seconds(timeout_ns));
  }
  if (code != CURLE_OK)
    return fail("could not be asked (" + std::string(curl_easy_strerror(code)) + ")");
  // This build's nodes answer every context part they are asked (never 404): a node that
  // answers 404 there is of an earlier build, without the route, during a rolling upgrade.
  if (status == 404 && route == kMemtableContextRoute) {
    return fail("does not support context across nodes (answered HTTP 404 on " +
                std::string(route) + ": a node of an earlier build?) (" + answer.substr(0, 300) +
                ")");
  }
  if (status != 200) {
    return fail("answered HTTP " + std::to_string(status) + " (" + answer.substr(0, 300) + ")");
  }
  auto decoded = DecodePartAnswer(answer);
  if (!decoded.ok())
    return fail("sent an answer that does not decode (" + decoded.status().message() + ")");
  for (std::string& w : decoded->warnings) w = "node " + peer.id + ": " + w;
  return std::move(decoded).value();
}

}  // namespace

Fanout::Fanout(PeerList peers, FanoutOptions options, AskPeer ask)
    : peers_(std::move(peers)), options_(std::move(options)), ask_(std::move(ask)) {
  Metrics();  // registered at start, so that /metrics lists them
}

query::PartAnswer MergeParts(std::vector<query::PartAnswer> parts) {
  query::PartAnswer merged;
  for (query::PartAnswer& part : parts) {
    for (Record& r : part.hits) merged.hits.push_back(std::move(r));
    for (query::GroupCount& g : part.groups.groups) merged.groups.groups.push_back(std::move(g));
    merged.groups.dropped = merged.groups.dropped || part.groups.dropped;
    merged.groups.min_bucket = std::min(merged.groups.min_bucket, part.groups.min_bucket);
    merged.groups.max_bucket = std::max(merged.groups.max_bucket, part.groups.max_bucket);
    merged.stats.rows_scanned += part.stats.rows_scanned;
    merged.stats.rows_matched += part.stats.rows_matched;
    merged.stats.memtable_rows_scanned += part.stats.memtable_rows_scanned;
    merged.partial = merged.partial || part.partial;
    for (std::string& w : part.warnings) merged.warnings.push_back(std::move(w));
    for (query::SegmentCut& c : part.cuts) merged.cuts.push_back(std::move(c));
  }
  return merged;
}

query::PartAnswer Fanout::AskPeers(const query::PartRequest& request) const {
  return MergeParts(AskEach(request));
}

int64_t Fanout::PeerTimeout(int64_t timeout_ns, int64_t* wait) const {
  *wait = std::min(timeout_ns > 0 ? timeout_ns : INT64_MAX, options_.max_wait_ns);
  return std::max<int64_t>(kNanosPerMilli,
                           *wait - std::min<int64_t>(*wait / 5, 500 * kNanosPerMilli));
}

std::vector<query::PartAnswer> Fanout::AskAll(const std::vector<catalog::NodeRow>& peers,
                                              std::string_view route, const std::string& body,
                                              int64_t timeout) const {
  std::vector<std::future<query::PartAnswer>> parts;
  parts.reserve(peers.size());
  for (const catalog::NodeRow& peer : peers) {
    parts.push_back(std::async(std::launch::async, [&peer, route, &body, this, timeout] {
      query::PartAnswer part = ask_ ? ask_(peer, route, body, timeout)
                                    : AskOne(peer, route, body, options_.secret, timeout);
      // The answer's cut is the peer's own (at most one): it names the peer.
      if (part.cuts.size() > 1) part.cuts.resize(1);
      for (query::SegmentCut& cut : part.cuts) cut.node = peer.id;
      return part;
    }));
  }
  std::vector<query::PartAnswer> answers;
  answers.reserve(parts.size());
  for (auto& future : parts) answers.push_back(future.get());
  return answers;
}

std::vector<query::PartAnswer> Fanout::AskEach(const query::PartRequest& request) const {
  const std::vector<catalog::NodeRow> peers = peers_();
  if (peers.empty()) return {};
  query::PartRequest sent = request;
  int64_t timeout = 0;
  sent.timeout_ns = PeerTimeout(request.timeout_ns, &timeout);
  return AskAll(peers, kMemtableSearchRoute, EncodePartRequest(sent), timeout);
}

std::vector<query::PartAnswer> Fanout::AskEachContext(const query::ContextPartRequest& request,
                                                      const std::vector<std::string>* only) const {
  std::vector<catalog::NodeRow> peers = peers_();
  if (only != nullptr) {
    std::erase_if(peers, [only](const catalog::NodeRow& peer) {
      return std::find(only->begin(), only->end(), peer.id) == only->end();
    });
  }
  if (peers.empty()) return {};
  query::ContextPartRequest sent = request;
  int64_t timeout = 0;
  sent.timeout_ns = PeerTimeout(request.timeout_ns, &timeout);
  sent.memtables_only = true;
  std::vector<query::PartAnswer> parts =
      AskAll(peers, kMemtableContextRoute, EncodeContextPartRequest(sent), timeout);
  // A part holds at most the hit and the lines asked for: a peer answering more is not trusted
  // (docs/cluster.md "Context across nodes", "Bounded").
  const size_t most = request.before + request.after + 1;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].hits.size() <= most) continue;
    parts[i] =
        FailedPart(peers[i], "answered " + std::to_string(parts[i].hits.size()) +
                                 " lines to a context part of at most " + std::to_string(most));
  }
  return parts;
}

namespace {

// Brings the view up to the highest registered-through of "parts" within "left_ns" (at least
// 100 ms); when it cannot, a part with a warning for each node whose segments may be missing.
std::optional<query::PartAnswer> CatchUpFor(const std::vector<query::PartAnswer>& parts,
                                            const ViewCatchUp& catch_up, int64_t left_ns) {
  // The segments each answering node's part does not hold must all be in the view (docs/
  // cluster.md "Exactly once across nodes").
  uint64_t need = 0;
  for (const query::PartAnswer& part : parts) {
    for (const query::SegmentCut& cut : part.cuts) need = std::max(need, cut.registered_through);
  }
  if (need == 0 || !catch_up) return std::nullopt;
  std::string error;
  const uint64_t reached = catch_up(need, std::max<int64_t>(left_ns, 100 * kNanosPerMilli), &error);
  if (reached >= need) return std::nullopt;
  query::PartAnswer behind;
  for (const query::PartAnswer& part : parts) {
    for (const query::SegmentCut& cut : part.cuts) {
      if (cut.registered_through <= reached) continue;
      behind.partial = true;
      behind.warnings.push_back(
          "segments node " + cut.node +
          " flushed in the last moments may be missing from this answer: " + error);
    }
  }
  return behind;
}

int64_t NanosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              start)
      .count();
}

}  // namespace

query::PartAnswer AskPeersAndCatchUp(const Fanout& fanout, const ViewCatchUp& catch_up,
                                     const query::PartRequest& request) {
  return MergeParts(AskEachAndCatchUp(fanout, catch_up, request));
}

std::vector<query::PartAnswer> AskEachAndCatchUp(const Fanout& fanout, const ViewCatchUp& catch_up,
                                                 const query::PartRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<query::PartAnswer> parts = fanout.AskEach(request);
  const int64_t left = request.timeout_ns > 0 ? request.timeout_ns - NanosSince(start) : 0;
  if (auto behind = CatchUpFor(parts, catch_up, left)) parts.push_back(std::move(*behind));
  return parts;
}

std::vector<std::pair<std::string, std::string>> AnswersThatDoNotStand(
    const std::vector<query::PartAnswer>& parts, const storage::MemtableFence& own,
    int64_t asked_mono_ns, const AnswerCheck& check, Clock* clock) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!check.read_takeovers) return out;
  const int64_t took = clock->MonotonicNanos() - asked_mono_ns;
  struct Unsure {
    std::string node;
    const storage::MemtableFence* fence;
    int64_t took;
  };
  // 1. Answers the heartbeat rule vouches for stand: the node's heartbeat was H old when it
  // checked its fence, after this node asked, so until H + took nobody could have found it dead
  // (clocks in step within node_timeout - fresh_ns), and everything this query holds was in
  // place by now (this node's own memtables: checked after the snapshot, took 0).
  std::vector<Unsure> unsure;
  auto vouched = [&check](const storage::MemtableFence& fence, int64_t t) {
    const int64_t age = fence.heartbeat_age_ns;
    return age >= 0 && age != INT64_MAX && t >= 0 && age <= check.fresh_ns - t;
  };
  for (const query::PartAnswer& part : parts) {
    for (const query::SegmentCut& cut : part.cuts) {
      // A node of an older build, or no fence: taken as before.
      if (cut.fence.set && !vouched(cut.fence, took))
        unsure.push_back({cut.node, &cut.fence, took});
    }
  }
  if (own.set && !vouched(own, 0)) unsure.push_back({check.self, &own, 0});
  if (unsure.empty()) return out;
  auto describe = [](const Unsure& u) {
    return u.fence->heartbeat_age_ns == INT64_MAX
               ? std::string("it had missed heartbeats since it last read its takeover generation")
               : "its newest heartbeat was " +
                     std::to_string(u.fence->heartbeat_age_ns / kNanosPerMilli) +
                     " ms old when it answered, " + std::to_string(u.took / kNanosPerMilli) +
                     " ms after it was asked";
  };
  auto name = [&check](const Unsure& u) {
    return u.node == check.self ? "this node (" + u.node + ")" : "node " + u.node;
  };
  auto taken_over = [&](const Unsure& u, uint64_t now) {
    Metrics().fenced->Increment();
    out.emplace_back(
        u.node, name(u) +
                    " was taken over while this query ran (another node claimed its WAL "
                    "objects after it last confirmed them: takeover generation " +
                    std::to_string(now) + ", its answer " +
                    std::to_string(u.fence->takeover_generation) + "; " + describe(u) +
                    "), so its answer may hold lines the taker answers for too: its answer was "
                    "left out, and lines it acknowledged and has not yet flushed to segments "
                    "may be missing from this answer");
  };
  // 2. What the nodes know without the catalog: this node's generations as of its view's last
  // read, and each answering node's, each covering the claims whose lines it holds (a takeover
  // that put lines into this query's snapshot or into an answer is in one of them). Complete
  // only when every answer says what it knows.
  std::optional<std::map<std::string, uint64_t>> known;
  if (check.known_takeovers) known = check.known_takeovers();
  for (const query::PartAnswer& part : parts) {
    for (const query::SegmentCut& cut : part.cuts) {
      if (!known) break;
      if (!cut.fence.set || !cut.fence.knows_takeovers) {
        known.reset();
        break;
      }
      for (const auto& [node, generation] : cut.fence.takeovers) {
        uint64_t& k = (*known)[node];
        k = std::max(k, generation);
      }
    }
  }
  if (known) {
    for (const Unsure& u : unsure) {
      auto it = known->find(u.node);
      const uint64_t now = it == known->end() ? 0 : it->second;
      if (now > u.fence->takeover_generation) taken_over(u, now);
    }
    return out;
  }
  // 3. The catalog, once.
  Metrics().takeover_reads->Increment();
  auto generations = check.read_takeovers();
  for (const Unsure& u : unsure) {
    if (generations.ok()) {
      auto it = generations->find(u.node);
      const uint64_t now = it == generations->end() ? 0 : it->second;
      if (now > u.fence->takeover_generation) taken_over(u, now);
      continue;  // nobody took it over: it stands
    }
    Metrics().fenced->Increment();
    out.emplace_back(u.node, name(u) + "'s answer could not be checked (" + describe(u) +
                                 ", and neither the catalog, " + generations.status().ToString() +
                                 ", nor what the nodes know says whether another node took its "
                                 "WAL objects over meanwhile): its answer was left out, and "
                                 "lines it acknowledged and has not yet flushed to segments may "
                                 "be missing from this answer");
  }
  return out;
}

Result<query::SearchResponse> FanoutQueryEngine::Search(const query::SearchRequest& request) {
  if (request.remote || !fanout_->HasPeers()) return inner_->Search(request);
  query::SearchRequest fanned = request;
  if (!check_.read_takeovers) {
    fanned.remote = [fanout = fanout_, catch_up = catch_up_](const query::PartRequest& part) {
      return AskPeersAndCatchUp(*fanout, catch_up, part);
    };
    return inner_->Search(fanned);
  }
  // The parts are kept per node until the check after the snapshot, which may leave some out.
  struct Asked {
    std::vector<query::PartAnswer> parts;
    int64_t at_mono_ns = 0;
  };
  auto asked = std::make_shared<Asked>();
  fanned.remote = [fanout = fanout_, catch_up = catch_up_, asked](const query::PartRequest& part) {
    asked->at_mono_ns = Clock::Real()->MonotonicNanos();
    asked->parts = AskEachAndCatchUp(*fanout, catch_up, part);
    return MergeParts(asked->parts);
  };
  fanned.check_remote = [check = check_, asked](
                            const query::PartAnswer&, const storage::MemtableFence& own,
                            std::string* own_refused) -> std::optional<query::PartAnswer> {
    const auto gone =
        AnswersThatDoNotStand(asked->parts, own, asked->at_mono_ns, check, Clock::Real());
    if (gone.empty()) return std::nullopt;
    std::vector<query::PartAnswer> kept;
    for (query::PartAnswer& part : asked->parts) {
      bool left_out = false;
      for (const query::SegmentCut& cut : part.cuts) {
        for (const auto& [node, why] : gone) left_out |= cut.node == node;
      }
      if (!left_out) kept.push_back(std::move(part));
    }
    // A node left out is as one that did not answer: its segments are taken from the view as
    // they are (its cut goes with its answer).
    query::PartAnswer warnings;
    for (const auto& [node, why] : gone) {
      if (node == check.self) {
        *own_refused = why;
        continue;
      }
      warnings.partial = true;
      warnings.warnings.push_back(why);
    }
    kept.push_back(std::move(warnings));
    return MergeParts(std::move(kept));
  };
  return inner_->Search(fanned);
}

namespace {

// The record with seq "id" among "hits", if any.
const Record* RecordWithId(const std::vector<Record>& hits, uint64_t id) {
  for (const Record& r : hits) {
    if (r.seq == id) return &r;
  }
  return nullptr;
}

// The answer of a cluster context from "parts" (the lines around "hit" of every answering node,
// this node's own included): each line once (a line answered by two nodes, a peer's memtable
// and a segment it flushed meanwhile, has one seq), the "before" nearest below and the "after"
// nearest above the hit by (ingest_ts, seq), oldest first.
query::ContextResponse MergeContext(const Record& hit, std::vector<query::PartAnswer>& parts,
                                    size_t before, size_t after) {
  auto key = [](const Record& r) { return std::make_pair(r.ingest_ts, r.seq); };
  const auto at = key(hit);
  std::vector<Record> below, above;
  for (query::PartAnswer& part : parts) {
    for (Record& r : part.hits) {
      if (r.service != hit.service || r.host != hit.host || r.seq == hit.seq) continue;
      (key(r) < at ? below : above).push_back(std::move(r));
    }
  }
  auto by_key = [&key](const Record& a, const Record& b) { return key(a) < key(b); };
  auto same = [](const Record& a, const Record& b) { return a.seq == b.seq; };
  query::ContextResponse out;
  for (std::vector<Record>* side : {&below, &above}) {
    std::sort(side->begin(), side->end(), by_key);
    side->erase(std::unique(side->begin(), side->end(), same), side->end());
  }
  if (below.size() > before)
    below.erase(below.begin(), below.end() - static_cast<ptrdiff_t>(before));
  if (above.size() > after) above.resize(after);
  out.before = std::move(below);
  out.hit = hit;
  out.after = std::move(above);
  return out;
}

}  // namespace

Result<query::ContextResponse> FanoutQueryEngine::Context(std::string_view tenant, uint64_t id,
                                                          size_t before, size_t after) {
  // The embedded single node: no view of other nodes' segments and no peers.
  if (!catch_up_ && !fanout_->HasPeers()) return inner_->Context(tenant, id, before, after);
  RETURN_IF_ERROR(query::CheckContextLines(before, after));
  const auto start = std::chrono::steady_clock::now();
  auto left = [&] {
    return std::max<int64_t>(kNanosPerMilli, fanout_->max_wait_ns() - NanosSince(start));
  };
  // This node's own part is read last: the peers and the catch-up get the context's time less a
  // fifth (at most 500 ms), so that a peer that never answers leaves that much for it.
  const int64_t own_reserve = std::min<int64_t>(fanout_->max_wait_ns() / 5, 500 * kNanosPerMilli);
  auto left_for_peers = [&] { return std::max<int64_t>(kNanosPerMilli, left() - own_reserve); };
  query::ContextPartRequest request;
  request.tenant = std::string(tenant);
  request.id = id;
  request.before = before;
  request.after = after;
  request.answer_version = kPartAnswerVersion;
  // The view's change now (at_least 0: read, never refreshed); 0 with no view.
  auto view_change = [&]() -> uint64_t {
    std::string ignored;
    return catch_up_ ? catch_up_(0, 0, &ignored) : 0;
  };
  // The hit, looked for on this node alone (its memtables and its view's segments). Not found:
  // the segments of the view that may hold it and could not be read, named in "unread".
  std::vector<std::string> unread;
  auto probe = [&]() -> Result<std::optional<Record>> {
    query::ContextPartRequest find = request;
    find.before = find.after = 0;
    find.around.reset();
    find.timeout_ns = left();
    ASSIGN_OR_RETURN(query::PartAnswer found, inner_->ContextPart(find));
    unread = std::move(found.warnings);
    const Record* hit = RecordWithId(found.hits, id);
    return hit != nullptr ? std::optional<Record>(*hit) : std::nullopt;
  };

  std::optional<Record> hit;
  query::ContextResponse failures;        // partial, and the warnings of every node that failed
  std::vector<query::PartAnswer> around;  // answers around the hit
  std::vector<std::string> ask_again;     // nodes asked before the hit was known, without it
  auto take_warnings = [&](bool partial, std::vector<std::string>* warnings) {
    failures.partial = failures.partial || partial;
    for (std::string& w : *warnings) failures.warnings.push_back(std::move(w));
  };
  // Every live peer's memtables, around the hit when it is known; then the view caught up to
  // every answer's cut, so that no line a peer flushed before it answered is missed.
  auto ask = [&](const std::vector<std::string>* only) {
    const bool anchored = request.around.has_value();
    request.timeout_ns = left_for_peers();
    std::vector<query::PartAnswer> parts = fanout_->AskEachContext(request, only);
    if (auto behind = CatchUpFor(parts, catch_up_, left_for_peers())) {
      parts.push_back(std::move(*behind));
    }
    for (query::PartAnswer& part : parts) {
      take_warnings(part.partial, &part.warnings);
      if (part.cuts.empty()) continue;  // failed (or the catch-up's warnings)
      const Record* has = RecordWithId(part.hits, id);
      if (!hit && has != nullptr) hit = *has;
      if (anchored || has != nullptr) {
        around.push_back(std::move(part));
      } else {
        ask_again.push_back(part.cuts[0].node);
      }
    }
  };
  const uint64_t probed_at = view_change();  // read before the probe: never past what it saw
  ASSIGN_OR_RETURN(hit, probe());
  if (hit) request.around = query::AnchorOf(*hit);
  ask(nullptr);
  // Flushed by a peer a moment ago: in the view now, if the view advanced since the probe.
  if (!hit && view_change() > probed_at) {
    ASSIGN_OR_RETURN(hit, probe());
  }
  if (!hit) {
    // A segment that may hold it could not be read: it may exist (never a 404).
    take_warnings(!unread.empty(), &unread);
    if (!failures.partial) return Status::NotFound("no record with id " + std::to_string(id));
    std::string why;
    for (const std::string& w : failures.warnings) why += (why.empty() ? "" : "; ") + w;
    return Status::Unavailable("no record with id " + std::to_string(id) +
                               " on the nodes that answered, but not every node did (or not every "
                               "segment could be read), so it may exist; ask again (" +
                               why + ")");
  }
  request.around = query::AnchorOf(*hit);
  if (!ask_again.empty()) {
    const std::vector<std::string> nodes = std::move(ask_again);
    ask_again.clear();
    ask(&nodes);
  }
  // This node's own lines last, from a view holding every segment the answers need.
  request.timeout_ns = left();
  ASSIGN_OR_RETURN(query::PartAnswer own, inner_->ContextPart(request));
  // Its segments that could not be read, each named (never a silent gap).
  take_warnings(own.partial, &own.warnings);
  around.push_back(std::move(own));
  query::ContextResponse out = MergeContext(*hit, around, before, after);
  out.partial = failures.partial;
  out.warnings = std::move(failures.warnings);
  return out;
}

}  // namespace sawmill::cluster
