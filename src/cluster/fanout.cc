#include "cluster/fanout.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <vector>

#include "cluster/part_codec.h"
#include "common/metrics.h"

namespace sawmill::cluster {
namespace {

struct FanoutMetrics {
  prometheus::Counter* asked;
  prometheus::Counter* failed;
};

FanoutMetrics& Metrics() {
  static FanoutMetrics m{
      UnlabelledCounter("sawmill_fanout_requests_total",
                        "Requests this node sent to other nodes for their part of a query"),
      UnlabelledCounter("sawmill_fanout_failures_total",
                        "Of those, the ones that failed or did not answer in time (each made "
                        "its query's answer partial)"),
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

// One peer's part; a failure is a partial part with a warning naming the node.
query::PartAnswer AskOne(const catalog::NodeRow& peer, const std::string& body,
                         const std::string& secret, int64_t timeout_ns) {
  Metrics().asked->Increment();
  query::PartAnswer failed;
  failed.partial = true;
  auto fail = [&](const std::string& why) {
    Metrics().failed->Increment();
    failed.warnings.push_back(
        "node " + peer.id + " (" + peer.url + ") " + why +
        ": lines it acknowledged and has not yet flushed to segments are missing from this "
        "answer");
    return failed;
  };
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return fail("could not be asked (curl_easy_init failed)");
  std::string answer;
  const std::string url = peer.url + "/internal/v1/memtable-search";
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
  const std::vector<catalog::NodeRow> peers = peers_();
  if (peers.empty()) return {};
  const int64_t timeout =
      std::min(request.timeout_ns > 0 ? request.timeout_ns : INT64_MAX, options_.max_wait_ns);
  // The peer stops its part a little before this node stops waiting, so that a partial part
  // still arrives in time.
  query::PartRequest sent = request;
  sent.timeout_ns = std::max<int64_t>(
      kNanosPerMilli, timeout - std::min<int64_t>(timeout / 5, 500 * kNanosPerMilli));
  const std::string body = EncodePartRequest(sent);
  std::vector<std::future<query::PartAnswer>> parts;
  parts.reserve(peers.size());
  for (const catalog::NodeRow& peer : peers) {
    parts.push_back(std::async(std::launch::async, [&peer, &body, this, timeout] {
      query::PartAnswer part =
          ask_ ? ask_(peer, body, timeout) : AskOne(peer, body, options_.secret, timeout);
      // The answer's cut is the peer's own (at most one): it names the peer.
      if (part.cuts.size() > 1) part.cuts.resize(1);
      for (query::SegmentCut& cut : part.cuts) cut.node = peer.id;
      return part;
    }));
  }
  std::vector<query::PartAnswer> answers;
  answers.reserve(parts.size());
  for (auto& future : parts) answers.push_back(future.get());
  return MergeParts(std::move(answers));
}

query::PartAnswer AskPeersAndCatchUp(const Fanout& fanout, const ViewCatchUp& catch_up,
                                     const query::PartRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  query::PartAnswer part = fanout.AskPeers(request);
  if (!catch_up) return part;
  // The segments each answering node's part does not hold must all be in the view (docs/
  // cluster.md "Exactly once across nodes").
  uint64_t need = 0;
  for (const query::SegmentCut& cut : part.cuts) need = std::max(need, cut.registered_through);
  if (need == 0) return part;
  std::string error;
  const int64_t spent =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  const int64_t left = std::max<int64_t>(request.timeout_ns > 0 ? request.timeout_ns - spent : 0,
                                         100 * kNanosPerMilli);
  const uint64_t reached = catch_up(need, left, &error);
  if (reached >= need) return part;
  for (const query::SegmentCut& cut : part.cuts) {
    if (cut.registered_through <= reached) continue;
    part.partial = true;
    part.warnings.push_back(
        "segments node " + cut.node +
        " flushed in the last moments may be missing from this answer: " + error);
  }
  return part;
}

Result<query::SearchResponse> FanoutQueryEngine::Search(const query::SearchRequest& request) {
  if (request.remote || !fanout_->HasPeers()) return inner_->Search(request);
  query::SearchRequest fanned = request;
  fanned.remote = [fanout = fanout_, catch_up = catch_up_](const query::PartRequest& part) {
    return AskPeersAndCatchUp(*fanout, catch_up, part);
  };
  return inner_->Search(fanned);
}

}  // namespace sawmill::cluster
