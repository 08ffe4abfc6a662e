// A cluster context whose peers fail (docs/cluster.md "Context across nodes"), over the real
// HTTP fan-out (curl): a peer that takes the request and never answers, and one that cannot be
// reached. The answer keeps this node's lines and is partial with a warning naming each; an id
// this node does not have is not called missing (404) while a node did not answer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cluster/fanout.h"
#include "cluster/part_codec.h"
#include "common/clock.h"
#include "query/fake_segment_test_util.h"
#include "query/query_engine.h"
#include "storage/record_chunk.h"

namespace sawmill::cluster {
namespace {

// A socket listening on a loopback port that never accepts: a connection is made (the kernel's
// backlog) and the request sent, but no answer ever comes.
class SilentPeer {
 public:
  SilentPeer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentPeer() { ::close(fd_); }
  int port() const { return port_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A node of a build before the context route, on a loopback port: every request is read and
// answered as that build's router answers a path it does not know (404, "no route for ...").
class EarlierBuildPeer {
 public:
  EarlierBuildPeer() {
    thread_ = std::thread([this] {
      for (;;) {
        const int conn = ::accept(listener_.fd(), nullptr, nullptr);
        if (conn < 0 || stop_.load()) {
          if (conn >= 0) ::close(conn);
          return;
        }
        Answer(conn);
        ::close(conn);
      }
    });
  }
  ~EarlierBuildPeer() {
    stop_.store(true);
    ::shutdown(listener_.fd(), SHUT_RDWR);  // wakes the accept
    thread_.join();
  }
  int port() const { return listener_.port(); }

 private:
  static void Answer(int conn) {
    std::string request;
    char buf[4096];
    size_t body_at = std::string::npos, length = 0;
    while (body_at == std::string::npos || request.size() < body_at + length) {
      const ssize_t n = ::read(conn, buf, sizeof(buf));
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
      if (body_at == std::string::npos && (body_at = request.find("\r\n\r\n")) != request.npos) {
        body_at += 4;
        const size_t at = request.find("Content-Length: ");
        if (at != std::string::npos && at < body_at) length = std::stoul(request.substr(at + 16));
      }
    }
    const std::string line = request.substr(0, request.find(" HTTP/"));
    const std::string body = "{\"error\":\"no route for " + line + "\"}";
    const std::string answer =
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    EXPECT_EQ(::write(conn, answer.data(), answer.size()), static_cast<ssize_t>(answer.size()));
  }

  SilentPeer listener_;  // the listening socket; accepted here
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A loopback port nothing listens on (bound, then closed).
int ClosedPort() {
  SilentPeer taken;
  return taken.port();
}

// This node: 20 lines of one service and host in its memtables, seqs 100.., ingest_ts 1 s apart.
std::shared_ptr<storage::Snapshot> OneNode() {
  std::vector<Record> lines;
  for (int i = 0; i < 20; ++i) {
    Record r;
    r.tenant = "default";
    r.service = "checkout";
    r.host = "web-1";
    r.level = Level::kInfo;
    r.seq = 100 + static_cast<uint64_t>(i);
    r.ts = r.ingest_ts = (1'800'000'000 + i) * kNanosPerSecond;
    r.message = "line " + std::to_string(i);
    lines.push_back(std::move(r));
  }
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  storage::MemtableView view;
  view.chunks.push_back(storage::RecordChunk::FromRecords(lines));
  snap->memtables.push_back(std::move(view));
  return snap;
}

std::vector<std::string> Messages(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) out.push_back(r.message);
  return out;
}

// A peer "id" on loopback port "port".
catalog::NodeRow PeerOnLoopback(const std::string& id, int port) {
  catalog::NodeRow peer;
  peer.id = id;
  peer.url = "http://127.0.0.1:" + std::to_string(port);
  return peer;
}

// The fan-out options of these tests: a query_timeout of 1 s.
FanoutOptions OneSecondQueries() {
  FanoutOptions options;
  options.secret = "a-cluster-secret-of-16+";
  options.max_wait_ns = 1 * kNanosPerSecond;
  return options;
}

// The context of line 10 (seq 110), 3 lines before and 2 after, in less than 5 s (a peer that
// does not answer is waited for at most the query's time).
Result<query::ContextResponse> ContextOfLine10(FanoutQueryEngine& query) {
  const auto start = std::chrono::steady_clock::now();
  auto ctx = query.Context("default", 110, 3, 2);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0)
      << "the slow peer is waited for at most the query's time";
  return ctx;
}

// Line 10 with this node's lines around it, partial (a peer did not answer).
void ExpectThisNodesLinesAroundLine10(const query::ContextResponse& ctx) {
  EXPECT_EQ(ctx.hit.message, "line 10");
  EXPECT_EQ(Messages(ctx.before), (std::vector<std::string>{"line 7", "line 8", "line 9"}));
  EXPECT_EQ(Messages(ctx.after), (std::vector<std::string>{"line 11", "line 12"}));
  EXPECT_TRUE(ctx.partial);
}

TEST(ClusterContext, APeerThatIsDownOrTooSlowMakesTheAnswerPartialNamingIt) {
  query::testing::FakeEngine engine(OneNode());
  auto local = query::QueryEngine::Create(&engine, query::QueryOptions{});
  SilentPeer slow;
  const int down = ClosedPort();
  const std::vector<catalog::NodeRow> peers = {PeerOnLoopback("node-slow", slow.port()),
                                               PeerOnLoopback("node-down", down)};
  Fanout fanout([&peers] { return peers; }, OneSecondQueries());
  FanoutQueryEngine query(local.get(), &fanout);

  auto ctx = ContextOfLine10(query);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  ExpectThisNodesLinesAroundLine10(*ctx);
  ASSERT_EQ(ctx->warnings.size(), 2u);
  std::string all = ctx->warnings[0] + "\n" + ctx->warnings[1];
  EXPECT_NE(all.find("node node-slow (" + peers[0].url + ") did not answer within"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("node node-down (" + peers[1].url + ") could not be asked"), std::string::npos)
      << all;

  // An id this node does not have: not "no record" while a node did not answer.
  auto missing = query.Context("default", 5000, 3, 3);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("no record with id 5000 on the nodes that answered"),
            std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("node-slow"), std::string::npos);
  EXPECT_NE(missing.status().message().find("node-down"), std::string::npos);

  // The cap holds before anything is asked, with the message of one node.
  auto too_many = query.Context("default", 110, query::kMaxContextLines + 1, 0);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_many.status().message(), "context: at most 1000 lines before and after");
}

// During a rolling upgrade a node of an earlier build answers 404 on the context route it does
// not have. The warning (and the 503 of a hit found nowhere else) says that node does not
// support context across nodes, instead of a bare "answered HTTP 404".
TEST(ClusterContext, ANodeOfAnEarlierBuildIsNamedAsNotSupportingContext) {
  query::testing::FakeEngine engine(OneNode());
  auto local = query::QueryEngine::Create(&engine, query::QueryOptions{});
  EarlierBuildPeer earlier;
  const std::vector<catalog::NodeRow> peers = {PeerOnLoopback("node-old", earlier.port())};
  Fanout fanout([&peers] { return peers; }, OneSecondQueries());
  FanoutQueryEngine query(local.get(), &fanout);
  const std::string said = "node node-old (" + peers[0].url +
                           ") does not support context across nodes (answered HTTP 404 on "
                           "/internal/v1/memtable-context: a node of an earlier build?)";

  auto ctx = ContextOfLine10(query);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  ExpectThisNodesLinesAroundLine10(*ctx);
  ASSERT_EQ(ctx->warnings.size(), 1u);
  EXPECT_EQ(ctx->warnings[0].rfind(said, 0), 0u) << ctx->warnings[0];
  EXPECT_NE(ctx->warnings[0].find("no route for POST /internal/v1/memtable-context"),
            std::string::npos)
      << ctx->warnings[0];

  // A hit only that node could hold: unavailable, naming it as such.
  auto missing = query.Context("default", 5000, 3, 3);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find(said), std::string::npos) << missing.status().message();
}

// A clock for this node's engine under which each look at the time is 2 ms later than the last,
// as if every block read took 2 ms.
class SlowReadsClock final : public Clock {
 public:
  int64_t NowNanos() const override { return MonotonicNanos(); }
  int64_t MonotonicNanos() const override { return now_.fetch_add(2 * kNanosPerMilli); }

 private:
  mutable std::atomic<int64_t> now_{0};
};

// A peer that never answers must not take all of the context's time: this node reads its own
// part (here every line in its segments, one line a block) after the peers, and still has time
// for it, so the answer is its lines, partial, naming the peer (before: the own part was given
// 1 ms, and the context failed with "context stopped at the ... time limit").
TEST(ClusterContext, AHungPeerLeavesThisNodeTimeToReadItsOwnSegments) {
  std::vector<Record> lines;
  const std::shared_ptr<storage::Snapshot> one = OneNode();
  for (const storage::MemtableView& m : one->memtables) {
    for (const auto& chunk : m.chunks) {
      for (const Record& r : *chunk) lines.push_back(r);
    }
  }
  query::testing::FakeEngine engine(query::testing::MakeSnapshot(
      "default", lines, /*partitions=*/1, /*segments=*/4, /*memtable_rows=*/0, /*block_rows=*/1));
  SlowReadsClock clock;
  query::QueryOptions options;
  options.clock = &clock;
  auto local = query::QueryEngine::Create(&engine, options);
  SilentPeer slow;
  const std::vector<catalog::NodeRow> peers = {PeerOnLoopback("node-slow", slow.port())};
  Fanout fanout([&peers] { return peers; }, OneSecondQueries());
  FanoutQueryEngine query(local.get(), &fanout);

  auto ctx = ContextOfLine10(query);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  ExpectThisNodesLinesAroundLine10(*ctx);
  ASSERT_EQ(ctx->warnings.size(), 1u);
  EXPECT_NE(ctx->warnings[0].find("node node-slow"), std::string::npos) << ctx->warnings[0];
}

// A peer answering more lines than a context part holds (the hit and before + after) is not
// trusted: its part is left out and the answer is partial naming it (before: its lines were
// merged, here 20 lines it has no business answering placed right after the hit).
TEST(ClusterContext, APeerAnsweringMoreLinesThanAskedIsLeftOutNamingIt) {
  query::testing::FakeEngine engine(OneNode());
  auto local = query::QueryEngine::Create(&engine, query::QueryOptions{});
  const std::vector<catalog::NodeRow> peers = {PeerOnLoopback("node-b", 1)};
  Fanout fanout([&peers] { return peers; }, FanoutOptions{},
                [](const catalog::NodeRow&, std::string_view, const std::string&, int64_t) {
                  query::PartAnswer part;
                  part.cuts.push_back({});
                  for (int i = 0; i < 20; ++i) {
                    Record r;
                    r.tenant = "default";
                    r.service = "checkout";
                    r.host = "web-1";
                    r.seq = 1000 + static_cast<uint64_t>(i);
                    r.ts = r.ingest_ts = (1'800'000'000 + 10) * kNanosPerSecond;  // line 10's
                    r.message = "peer line " + std::to_string(i);
                    part.hits.push_back(std::move(r));
                  }
                  return part;
                });
  FanoutQueryEngine query(local.get(), &fanout);
  auto ctx = ContextOfLine10(query);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  ExpectThisNodesLinesAroundLine10(*ctx);
  ASSERT_EQ(ctx->warnings.size(), 1u);
  EXPECT_NE(ctx->warnings[0].find("node node-b (http://127.0.0.1:1) answered 20 lines to a "
                                  "context part of at most 6"),
            std::string::npos)
      << ctx->warnings[0];
}

// With every peer answering (through the wire form) and none holding it, an id is missing: 404
// as on one node.
TEST(ClusterContext, AnIdNoNodeHasIsNotFound) {
  query::testing::FakeEngine engine(OneNode()), peer_engine(OneNode());
  auto local = query::QueryEngine::Create(&engine, query::QueryOptions{});
  auto peer_local = query::QueryEngine::Create(&peer_engine, query::QueryOptions{});
  std::vector<catalog::NodeRow> peers(1);
  peers[0].id = "node-b";
  int asked = 0;
  Fanout fanout(
      [&peers] { return peers; }, FanoutOptions{},
      [&](const catalog::NodeRow&, std::string_view route, const std::string& body, int64_t) {
        ++asked;
        EXPECT_EQ(route, kMemtableContextRoute);
        query::PartAnswer none;
        auto request = DecodeContextPartRequest(body);
        if (!request.ok()) return none;
        auto part = peer_local->ContextPart(*request);
        return part.ok() ? *part : none;
      });
  FanoutQueryEngine query(local.get(), &fanout);
  auto missing = query.Context("default", 5000, 3, 3);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  EXPECT_EQ(missing.status().message(), "no record with id 5000");
  EXPECT_EQ(asked, 1);
}

// This node: OneNode's lines 0-9 in a segment (id 7) whose object is gone (every open fails as
// the store answers a missing object; not retired), 10-19 in its memtables; one peer, node-b,
// answering through the wire form with nothing of its own.
struct NodeWithAGoneSegment {
  NodeWithAGoneSegment() {
    std::shared_ptr<storage::Snapshot> snap = OneNode();
    std::vector<Record> lines;
    for (const Record& r : *snap->memtables[0].chunks[0]) lines.push_back(r);
    auto reader = std::make_shared<query::testing::FakeSegmentReader>(
        7, 0, std::vector<Record>(lines.begin(), lines.begin() + 10), 4);
    storage::SegmentHandle h;
    h.info = reader->info();
    h.object = "segments/hot/default/0/7.seg";
    h.open = []() -> Result<std::shared_ptr<segment::SegmentReader>> {
      return Status::NotFound("object segments/hot/default/0/7.seg does not exist");
    };
    snap->segments.push_back(std::move(h));
    snap->memtables[0].chunks[0] =
        storage::RecordChunk::FromRecords(std::vector<Record>(lines.begin() + 10, lines.end()));
    engine = std::make_unique<query::testing::FakeEngine>(snap);
    local = query::QueryEngine::Create(engine.get(), query::QueryOptions{});
    auto empty = std::make_shared<storage::Snapshot>();
    empty->tenant = "default";
    peer_engine = std::make_unique<query::testing::FakeEngine>(empty);
    peer_local = query::QueryEngine::Create(peer_engine.get(), query::QueryOptions{});
    peers.resize(1);
    peers[0].id = "node-b";
    fanout = std::make_unique<Fanout>(
        [this] { return peers; }, FanoutOptions{},
        [this](const catalog::NodeRow&, std::string_view, const std::string& body, int64_t) {
          query::PartAnswer none;
          auto request = DecodeContextPartRequest(body);
          if (!request.ok()) return none;
          auto part = peer_local->ContextPart(*request);
          return part.ok() ? *part : none;
        });
    query = std::make_unique<FanoutQueryEngine>(local.get(), fanout.get());
  }
  static constexpr const char* kError =
      "segment 7 could not be read and was skipped: NotFound: object "
      "segments/hot/default/0/7.seg does not exist";
  std::unique_ptr<query::testing::FakeEngine> engine, peer_engine;
  std::unique_ptr<query::QueryEngine> local, peer_local;
  std::vector<catalog::NodeRow> peers;
  std::unique_ptr<Fanout> fanout;
  std::unique_ptr<FanoutQueryEngine> query;
};

// Before, this node's own part skipped a segment it could not open with no word: the context
// was whole (not partial) with the lines before the hit missing. Now partial, naming it.
TEST(ClusterContext, ASegmentThisNodeCannotReadMakesTheAnswerPartialNamingIt) {
  NodeWithAGoneSegment node;
  auto ctx = node.query->Context("default", 110, 3, 2);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(ctx->hit.message, "line 10");
  EXPECT_TRUE(ctx->before.empty());
  EXPECT_EQ(Messages(ctx->after), (std::vector<std::string>{"line 11", "line 12"}));
  EXPECT_TRUE(ctx->partial);
  EXPECT_EQ(ctx->warnings, (std::vector<std::string>{NodeWithAGoneSegment::kError}));
}

// The hit in a segment this node cannot read, and no other node has it: it may exist, so the
// answer is 503 naming the segment (before: the segment's NotFound, a 404 naming no segment).
TEST(ClusterContext, AHitInASegmentThisNodeCannotReadIsUnavailableNamingIt) {
  NodeWithAGoneSegment node;
  auto ctx = node.query->Context("default", 105, 3, 2);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kUnavailable) << ctx.status().ToString();
  EXPECT_NE(ctx.status().message().find(std::string("so it may exist; ask again (") +
                                        NodeWithAGoneSegment::kError + ")"),
            std::string::npos)
      << ctx.status().message();
}

}  // namespace
}  // namespace sawmill::cluster
