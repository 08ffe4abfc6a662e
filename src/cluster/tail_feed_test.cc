// The live-tail feed between nodes: frames survive any split into pieces (as a stream delivers
// them), a slow reader's feed drops batches and says how many per tenant, a closed source ends
// its feeds, and an idle feed sends heartbeats.
#include "cluster/tail_feed.h"

#include <gtest/gtest.h>

namespace sawmill::cluster {
namespace {

std::vector<Record> Batch(uint64_t first_seq, int n, const std::string& word) {
  std::vector<Record> out;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.tenant = "acme";
    r.seq = first_seq + static_cast<uint64_t>(i);
    r.ts = r.ingest_ts = 1'796'000'000'000'000'000 + i;
    r.service = "svc";
    r.message = word + " " + std::to_string(i);
    out.push_back(r);
  }
  return out;
}

TEST(TailFeed, FramesSurviveAnySplit) {
  std::string stream;
  std::vector<Record> a = Batch(10, 3, "alpha");
  std::vector<Record> b = Batch(100, 2, "beta");
  b[1].seq = 500;  // not consecutive: sent as two runs, seqs kept
  AppendBatchFrame("acme", a, &stream);
  AppendBatchFrame("other", b, &stream);
  for (size_t piece = 1; piece <= stream.size(); piece += 7) {
    std::string buffer;
    std::vector<std::pair<std::string, Record>> got;
    for (size_t at = 0; at < stream.size(); at += piece) {
      buffer.append(stream, at, piece);
      Status s = ParseFeedFrames(
          &buffer,
          [&got](const std::string& tenant, std::vector<Record> records) {
            for (Record& r : records) got.emplace_back(tenant, std::move(r));
          },
          [](const std::string&, uint64_t) { FAIL() << "no dropped frame was sent"; });
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    EXPECT_TRUE(buffer.empty());
    ASSERT_EQ(got.size(), 5u) << "pieces of " << piece;
    EXPECT_EQ(got[0].first, "acme");
    EXPECT_EQ(got[0].second.message, "alpha 0");
    EXPECT_EQ(got[2].second.seq, 12u);
    EXPECT_EQ(got[3].first, "other");
    EXPECT_EQ(got[3].second.seq, 100u);
    EXPECT_EQ(got[4].second.seq, 500u);
    EXPECT_EQ(got[4].second.message, "beta 1");
  }
  std::string garbage = "\x09\x01x";
  EXPECT_TRUE(ParseFeedFrames(
                  &garbage, [](auto&&...) {}, [](auto&&...) {})
                  .IsDataLoss());
}

TEST(TailFeed, ASlowFeedDropsAndSaysHowManyPerTenant) {
  FeedSourceOptions options;
  options.queue_bytes = 600;  // a couple of small batches
  options.heartbeat_ms = 50;
  auto source = FeedSource::Create(options);
  source->Publish("acme", Batch(1, 3, "before any feed"));  // nobody listens: nothing kept
  auto feed = source->Open();
  ASSERT_TRUE(feed.ok());
  EXPECT_EQ(source->feeds(), 1u);
  uint64_t published = 0;
  for (int i = 0; i < 20; ++i) {
    source->Publish(i % 2 ? "acme" : "zeta", Batch(10 + 10 * i, 4, "x"));
    published += 4;
  }
  std::string chunk;
  ASSERT_TRUE((*feed)->Next(&chunk));
  uint64_t received = 0, dropped = 0;
  std::map<std::string, uint64_t> dropped_by_tenant;
  ASSERT_TRUE(ParseFeedFrames(
                  &chunk,
                  [&received](const std::string&, std::vector<Record> r) {
                    EXPECT_NE(r[0].message, "before any feed 0");
                    received += r.size();
                  },
                  [&](const std::string& tenant, uint64_t lines) {
                    dropped += lines;
                    dropped_by_tenant[tenant] += lines;
                  })
                  .ok());
  EXPECT_GT(received, 0u);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(received + dropped, published);  // every line either sent or counted
  EXPECT_GT(dropped_by_tenant["acme"], 0u);
  EXPECT_GT(dropped_by_tenant["zeta"], 0u);

  // Idle: a heartbeat (parsed as nothing) after heartbeat_ms.
  chunk.clear();
  ASSERT_TRUE((*feed)->Next(&chunk));
  EXPECT_FALSE(chunk.empty());
  ASSERT_TRUE(ParseFeedFrames(
                  &chunk, [](auto&&...) { FAIL(); }, [](auto&&...) { FAIL(); })
                  .ok());

  source->Shutdown();
  chunk.clear();
  EXPECT_FALSE((*feed)->Next(&chunk));  // the stream ends
  EXPECT_TRUE(source->Open().status().IsUnavailable());
  feed->reset();
  EXPECT_EQ(source->feeds(), 0u);
}

}  // namespace
}  // namespace sawmill::cluster
