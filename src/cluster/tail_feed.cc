#include "cluster/tail_feed.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "common/coding.h"
#include "common/metrics.h"
#include "wal/record_batch.h"

namespace sawmill::cluster {
namespace {

enum FrameKind : uint8_t { kBatch = 1, kDropped = 2, kHeartbeat = 3 };
constexpr uint32_t kMaxFrameBytes = 64u << 20;

struct FeedMetrics {
  prometheus::Counter* dropped;   // serving side: lines a slow peer's feed could not take
  prometheus::Counter* received;  // reading side: lines received from peers
  prometheus::Counter* breaks;    // reading side: feeds that broke
};

FeedMetrics& Metrics() {
  static FeedMetrics m{
      UnlabelledCounter("sawmill_tail_feed_dropped_lines_total",
                        "Lines not sent to another node's live tail because its feed was full "
                        "(that node's sessions are told)"),
      UnlabelledCounter("sawmill_tail_feed_received_lines_total",
                        "Lines received from other nodes' live-tail feeds"),
      UnlabelledCounter("sawmill_tail_feed_breaks_total",
                        "Live-tail feeds from other nodes that broke or could not be connected "
                        "(the sessions are told lines may be missing)"),
  };
  return m;
}

void AppendFrame(uint8_t kind, std::string_view payload, std::string* out) {
  out->push_back(static_cast<char>(kind));
  PutVarint32(out, static_cast<uint32_t>(payload.size()));
  out->append(payload);
}

}  // namespace

void AppendBatchFrame(const std::string& tenant, const std::vector<Record>& records,
                      std::string* out) {
  // A batch's records have consecutive seqs (one Append): one frame, encoded from "records"
  // without a copy (this runs for every acknowledged batch while a peer tails). Anything else
  // goes run by run.
  size_t start = 0;
  std::string payload;
  while (start < records.size()) {
    size_t end = start + 1;
    while (end < records.size() && records[end].seq == records[end - 1].seq + 1) ++end;
    payload.clear();
    if (start == 0 && end == records.size()) {
      wal::EncodeBatch(tenant, records, &payload);
    } else {
      wal::EncodeBatch(tenant,
                       std::vector<Record>(records.begin() + static_cast<long>(start),
                                           records.begin() + static_cast<long>(end)),
                       &payload);
    }
    wal::SetBatchBaseSeq(payload.data(), records[start].seq);
    AppendFrame(kBatch, payload, out);
    start = end;
  }
}

Status ParseFeedFrames(
    std::string* buffer,
    const std::function<void(const std::string& tenant, std::vector<Record> records)>& batch,
    const std::function<void(const std::string& tenant, uint64_t lines)>& dropped) {
  std::string_view in = *buffer;
  size_t consumed = 0;
  while (!in.empty()) {
    std::string_view rest = in.substr(1);
    uint32_t len = 0;
    const uint8_t kind = static_cast<uint8_t>(in[0]);
    if (!GetVarint32(&rest, &len)) {
      if (rest.size() >= 5) return Status::DataLoss("tail feed: bad frame length");
      break;  // the length is not all here yet
    }
    if (len > kMaxFrameBytes) {
      return Status::DataLoss("tail feed: a frame of " + std::to_string(len) + " bytes");
    }
    if (rest.size() < len) break;  // the payload is not all here yet
    std::string_view payload = rest.substr(0, len);
    switch (kind) {
      case kBatch: {
        std::vector<Record> records;
        wal::BatchHeader header;
        Status s = wal::DecodeBatch(payload, &records, &header);
        if (!s.ok()) return Status::DataLoss("tail feed: " + s.message());
        batch(header.tenant, std::move(records));
        break;
      }
      case kDropped: {
        std::string_view tenant;
        uint64_t lines = 0;
        if (!GetLengthPrefixed(&payload, &tenant) || !GetVarint64(&payload, &lines)) {
          return Status::DataLoss("tail feed: bad dropped frame");
        }
        dropped(std::string(tenant), lines);
        break;
      }
      case kHeartbeat: break;
      default: return Status::DataLoss("tail feed: unknown frame kind " + std::to_string(kind));
    }
    const size_t frame = static_cast<size_t>(rest.data() - in.data()) + len;
    in.remove_prefix(frame);
    consumed += frame;
  }
  buffer->erase(0, consumed);
  return Status::OK();
}

// ---- Serving side ----

struct Feed::State {
  Mutex mu;
  CondVar cv;
  std::deque<std::shared_ptr<const std::string>> frames GUARDED_BY(mu);
  size_t bytes GUARDED_BY(mu) = 0;
  std::map<std::string, uint64_t> dropped GUARDED_BY(mu);  // tenant -> lines not sent yet told
  bool closed GUARDED_BY(mu) = false;
};

Feed::~Feed() {
  if (auto source = source_.lock()) source->Remove(state_.get());
}

bool Feed::Next(std::string* chunk) {
  std::shared_ptr<FeedSource> source = source_.lock();
  const int heartbeat_ms = source ? source->options_.heartbeat_ms : 1000;
  source.reset();
  UniqueLock lock(&state_->mu);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(heartbeat_ms);
  while (!state_->closed && state_->frames.empty() && state_->dropped.empty()) {
    if (!state_->cv.WaitUntil(&lock, deadline)) break;
  }
  if (state_->closed) return false;
  for (const auto& [tenant, lines] : state_->dropped) {
    std::string payload;
    PutLengthPrefixed(&payload, tenant);
    PutVarint64(&payload, lines);
    AppendFrame(kDropped, payload, chunk);
  }
  state_->dropped.clear();
  while (!state_->frames.empty()) {
    chunk->append(*state_->frames.front());
    state_->bytes -= state_->frames.front()->size();
    state_->frames.pop_front();
  }
  if (chunk->empty()) AppendFrame(kHeartbeat, {}, chunk);
  return true;
}

std::shared_ptr<FeedSource> FeedSource::Create(FeedSourceOptions options) {
  Metrics();
  return std::shared_ptr<FeedSource>(new FeedSource(options));
}

void FeedSource::Publish(const std::string& tenant, const std::vector<Record>& records) {
  if (open_.load(std::memory_order_relaxed) == 0 || records.empty()) return;
  auto frame = std::make_shared<std::string>();
  AppendBatchFrame(tenant, records, frame.get());
  std::vector<std::shared_ptr<Feed::State>> feeds;
  {
    MutexLock lock(&mu_);
    feeds = feeds_;
  }
  for (const auto& state : feeds) {
    {
      MutexLock lock(&state->mu);
      if (state->closed) continue;
      if (state->bytes + frame->size() > options_.queue_bytes) {
        state->dropped[tenant] += records.size();
        Metrics().dropped->Increment(static_cast<double>(records.size()));
      } else {
        state->frames.push_back(frame);
        state->bytes += frame->size();
      }
    }
    state->cv.NotifyAll();
  }
}

Result<std::unique_ptr<Feed>> FeedSource::Open() {
  auto state = std::make_shared<Feed::State>();
  {
    MutexLock lock(&mu_);
    if (shut_down_) return Status::Unavailable("the node is stopping");
    if (feeds_.size() >= options_.max_feeds) {
      return Status::ResourceExhausted("tail feed: " + std::to_string(feeds_.size()) +
                                       " feeds are open already (the most)");
    }
    feeds_.push_back(state);
    open_.store(feeds_.size());
  }
  return std::unique_ptr<Feed>(new Feed(state, weak_from_this()));
}

void FeedSource::Remove(const Feed::State* state) {
  MutexLock lock(&mu_);
  for (auto it = feeds_.begin(); it != feeds_.end(); ++it) {
    if (it->get() == state) {
      feeds_.erase(it);
      break;
    }
  }
  open_.store(feeds_.size());
}

void FeedSource::Shutdown() {
  std::vector<std::shared_ptr<Feed::State>> feeds;
  {
    MutexLock lock(&mu_);
    shut_down_ = true;
    feeds = feeds_;
  }
  for (const auto& state : feeds) {
    {
      MutexLock lock(&state->mu);
      state->closed = true;
    }
    state->cv.NotifyAll();
  }
}

size_t FeedSource::feeds() const { return open_.load(); }

// ---- Reading side ----

PeerFeeds::PeerFeeds(std::function<std::vector<catalog::NodeRow>()> peers, tail::TailHub* hub,
                     PeerFeedOptions options)
    : peers_(std::move(peers)), hub_(hub), options_(std::move(options)) {
  Metrics();
  supervisor_ = std::thread([this] { Supervise(); });
}

PeerFeeds::~PeerFeeds() { Stop(); }

void PeerFeeds::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (supervisor_.joinable()) supervisor_.join();
}

void PeerFeeds::Supervise() {
  std::map<std::string, Running> running;  // by peer id + url
  int64_t wanted_until = 0;                // steady ms
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  while (true) {
    {
      UniqueLock lock(&mu_);
      if (!stopping_) cv_.WaitFor(&lock, std::chrono::milliseconds(250));
      if (stopping_) break;
    }
    if (hub_->sessions() > 0) wanted_until = now_ms() + options_.linger_ms;
    const bool wanted = now_ms() < wanted_until;
    std::map<std::string, catalog::NodeRow> live;
    if (wanted) {
      for (catalog::NodeRow& peer : peers_()) live[peer.id + " " + peer.url] = std::move(peer);
    }
    // Stop feeds of peers gone (or when no session wants any).
    for (auto it = running.begin(); it != running.end();) {
      if (live.count(it->first) == 0) {
        it->second.stop->store(true);
        it->second.thread.join();
        it = running.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [key, peer] : live) {
      if (running.count(key) != 0) continue;
      Running r;
      r.stop = std::make_shared<std::atomic<bool>>(false);
      r.thread = std::thread([this, peer, stop = r.stop] { RunFeed(peer, stop); });
      running.emplace(key, std::move(r));
    }
  }
  for (auto& [key, r] : running) r.stop->store(true);
  for (auto& [key, r] : running) r.thread.join();
}

namespace {

struct Transfer {
  std::string buffer;
  tail::TailHub* hub;
  const catalog::NodeRow* peer;
  std::atomic<bool>* stop;
  Status error;
  bool got_bytes = false;
  std::chrono::steady_clock::time_point last_byte;
  int stall_ms;
};

size_t OnFeedBytes(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * nmemb;
  t->got_bytes = true;
  t->last_byte = std::chrono::steady_clock::now();
  t->buffer.append(data, n);
  Status parsed = ParseFeedFrames(
      &t->buffer,
      [t](const std::string& tenant, std::vector<Record> records) {
        Metrics().received->Increment(static_cast<double>(records.size()));
        t->hub->Publish(tenant, records);
      },
      [t](const std::string& tenant, uint64_t lines) {
        t->hub->Notice(tenant, std::to_string(lines) + " lines from node " + t->peer->id +
                                   " were not sent to this node (its live-tail feed to it was "
                                   "full) and are missing here");
      });
  if (!parsed.ok()) {
    t->error = parsed;
    return 0;  // aborts the transfer
  }
  return n;
}

int OnFeedProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->stop->load()) return 1;
  if (t->got_bytes &&
      std::chrono::steady_clock::now() - t->last_byte > std::chrono::milliseconds(t->stall_ms)) {
    t->error = Status::DeadlineExceeded("no byte (not even a heartbeat) for " +
                                        std::to_string(t->stall_ms) + " ms");
    return 1;
  }
  return 0;
}

}  // namespace

void PeerFeeds::RunFeed(catalog::NodeRow peer, std::shared_ptr<std::atomic<bool>> stop) {
  bool told = false;  // the sessions were told about the current outage
  const std::string url = peer.url + "/internal/v1/tail-feed";
  const std::string secret_header = "X-Sawmill-Cluster-Secret: " + options_.secret;
  while (!stop->load()) {
    Transfer t;
    t.hub = hub_;
    t.peer = &peer;
    t.stop = stop.get();
    t.stall_ms = options_.stall_ms;
    t.last_byte = std::chrono::steady_clock::now();
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return;
    curl_slist* headers = curl_slist_append(nullptr, secret_header.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnFeedBytes);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnFeedProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    connected_.fetch_add(1);
    const CURLcode code = curl_easy_perform(curl);
    connected_.fetch_sub(1);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (stop->load()) return;
    std::string why = !t.error.ok()      ? t.error.message()
                      : status >= 400    ? "it answered HTTP " + std::to_string(status)
                      : code != CURLE_OK ? std::string(curl_easy_strerror(code))
                                         : std::string("it ended the stream");
    Metrics().breaks->Increment();
    if (!told || t.got_bytes) {
      hub_->Notice("", "lines may be missing from node " + peer.id + " (" + peer.url +
                           "): its live-tail feed " + (t.got_bytes ? "broke" : "cannot be opened") +
                           " (" + why + "); reconnecting");
      spdlog::warn("tail feed from node {} ({}): {} ({}); reconnecting", peer.id, peer.url,
                   t.got_bytes ? "broke" : "cannot be opened", why);
      told = true;
    }
    if (t.got_bytes) told = true;
    UniqueLock lock(&mu_);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.reconnect_ms);
    while (!stopping_ && !stop->load() && std::chrono::steady_clock::now() < deadline) {
      cv_.WaitUntil(&lock, deadline);
    }
  }
}

}  // namespace sawmill::cluster
