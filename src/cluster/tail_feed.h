// Live tail across the nodes of a cluster (docs/cluster.md "Live tail"): each node serves its
// acknowledged batches to the other nodes (GET /internal/v1/tail-feed, one long-lived stream per
// peer) and reads theirs into its own tail hub, so that a tail session on any node receives the
// matching lines ingested on every node. A feed that breaks is reconnected, and the sessions are
// told that lines may be missing from that node; a feed that overflows (its reader is slow)
// drops lines, counted and told to the sessions of that tenant.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "common/mutex.h"
#include "sawmill/record.h"
#include "sawmill/status.h"
#include "tail/tail_hub.h"

namespace sawmill::cluster {

inline constexpr const char* kTailFeedContentType = "application/x-sawmill-tail-feed";

// ---- Serving side ----

struct FeedSourceOptions {
  size_t queue_bytes = 16u << 20;  // per feed: past it batches are dropped (and said so)
  size_t max_feeds = 64;
  int heartbeat_ms = 1000;  // an idle feed sends a heartbeat frame this often
};

class FeedSource;

// One peer's stream. Thread-safe.
class Feed {
 public:
  ~Feed();
  // Appends the frames waiting to "*chunk", waiting up to heartbeat_ms for one (then a
  // heartbeat frame). False when the source shut down (the stream ends).
  bool Next(std::string* chunk);

 private:
  friend class FeedSource;
  struct State;
  Feed(std::shared_ptr<State> state, std::weak_ptr<FeedSource> source)
      : state_(std::move(state)), source_(std::move(source)) {}
  std::shared_ptr<State> state_;
  std::weak_ptr<FeedSource> source_;
};

class FeedSource : public std::enable_shared_from_this<FeedSource> {
 public:
  static std::shared_ptr<FeedSource> Create(FeedSourceOptions options);
  // The ingest pipeline's listener: every acknowledged batch of this node. Costs nothing while
  // no feed is open; encodes the batch once for every open feed. Never blocks.
  void Publish(const std::string& tenant, const std::vector<Record>& records);
  // Errors: ResourceExhausted past max_feeds; Unavailable after Shutdown.
  Result<std::unique_ptr<Feed>> Open();
  // Ends every feed (server shutdown).
  void Shutdown();
  size_t feeds() const;

 private:
  friend class Feed;
  explicit FeedSource(FeedSourceOptions options) : options_(options) {}
  void Remove(const Feed::State* state);

  const FeedSourceOptions options_;
  mutable Mutex mu_;
  std::vector<std::shared_ptr<Feed::State>> feeds_ GUARDED_BY(mu_);
  std::atomic<size_t> open_{0};
  bool shut_down_ GUARDED_BY(mu_) = false;
};

// ---- Reading side ----

struct PeerFeedOptions {
  std::string secret;       // cluster_secret
  int reconnect_ms = 1000;  // between attempts to (re)connect a live peer's feed
  // Feeds are connected while this node has tail sessions, and kept this long after the last
  // one closed (so that a reconnecting client misses nothing).
  int linger_ms = 30'000;
  int stall_ms = 5000;  // a feed that delivers no byte (not even a heartbeat) this long is broken
};

// Keeps one feed open to every live peer while tail sessions exist here, and publishes what
// they send into "hub".
class PeerFeeds {
 public:
  // "hub" must outlive this; "peers" as for Fanout.
  PeerFeeds(std::function<std::vector<catalog::NodeRow>()> peers, tail::TailHub* hub,
            PeerFeedOptions options);
  ~PeerFeeds();  // Stop()
  void Stop();
  // Feeds connected now (tests, metrics).
  size_t connected() const { return connected_.load(); }

 private:
  struct Running {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> stop;
  };
  void Supervise();
  void RunFeed(catalog::NodeRow peer, std::shared_ptr<std::atomic<bool>> stop);

  const std::function<std::vector<catalog::NodeRow>()> peers_;
  tail::TailHub* const hub_;
  const PeerFeedOptions options_;
  std::atomic<size_t> connected_{0};
  Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread supervisor_;
};

// The frames of a feed (docs/format/cluster.md "Tail feed"), exposed for tests.
void AppendBatchFrame(const std::string& tenant, const std::vector<Record>& records,
                      std::string* out);
// Parses the complete frames at the front of "*buffer" (removing them), calling "batch" for
// each batch and "dropped" for each overflow notice. Errors: DataLoss for a frame that does not
// decode (the feed is then reconnected).
Status ParseFeedFrames(
    std::string* buffer,
    const std::function<void(const std::string& tenant, std::vector<Record> records)>& batch,
    const std::function<void(const std::string& tenant, uint64_t lines)>& dropped);

}  // namespace sawmill::cluster
