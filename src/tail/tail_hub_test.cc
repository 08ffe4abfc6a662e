#include "tail/tail_hub.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "common/metrics.h"

namespace sawmill::tail {
namespace {

using ::testing::HasSubstr;

Record Line(Level level, std::string message, std::string service = "checkout") {
  Record r;
  r.level = level;
  r.message = std::move(message);
  r.service = std::move(service);
  r.ts = 1;
  return r;
}

std::vector<std::string> Messages(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) out.push_back(r.message);
  return out;
}

std::shared_ptr<TailSession> MustSubscribe(TailHub& hub, const std::string& query,
                                           const std::string& tenant = "default") {
  auto session = hub.Subscribe(tenant, query);
  EXPECT_TRUE(session.ok()) << session.status().ToString();
  return session.ok() ? *session : nullptr;
}

TEST(TailHub, ErrorSessionGetsExactlyTheMatchingLinesPublishedAfterItOpened) {
  auto hub = TailHub::Create({});
  hub->Publish("default", {Line(Level::kError, "before-open")});
  auto session = MustSubscribe(*hub, "level=ERROR");
  ASSERT_NE(session, nullptr);
  hub->Publish("default", {Line(Level::kInfo, "i1"), Line(Level::kError, "e1"),
                           Line(Level::kWarn, "w1"), Line(Level::kError, "e2")});
  hub->Publish("default", {Line(Level::kFatal, "f1"), Line(Level::kError, "e3")});
  hub->Publish("other-tenant", {Line(Level::kError, "not-mine")});
  hub->Drain();

  TailEvent event;
  ASSERT_TRUE(session->Next(&event, 100, 1000));
  EXPECT_THAT(Messages(event.records), ::testing::ElementsAre("e1", "e2", "e3"));
  EXPECT_EQ(event.dropped, 0u);
  // Nothing else arrives.
  ASSERT_TRUE(session->Next(&event, 100, 10));
  EXPECT_TRUE(event.records.empty());
}

TEST(TailHub, ServiceAndLevelFilterOfTheOnCallForm) {
  auto hub = TailHub::Create({});
  auto session = MustSubscribe(*hub, "service=checkout level>=ERROR");
  ASSERT_NE(session, nullptr);
  hub->Publish("default", {Line(Level::kError, "a", "checkout"), Line(Level::kError, "b", "cart"),
                           Line(Level::kFatal, "c", "checkout"), Line(Level::kInfo, "d")});
  hub->Drain();
  TailEvent event;
  ASSERT_TRUE(session->Next(&event, 100, 1000));
  EXPECT_THAT(Messages(event.records), ::testing::ElementsAre("a", "c"));
}

TEST(TailHub, ASessionThatNeverReadsDoesNotStopPublishAndCountsItsDrops) {
  TailHubOptions options;
  options.queue_records = 10;
  auto hub = TailHub::Create(options);
  auto stuck = MustSubscribe(*hub, "");
  auto reader = MustSubscribe(*hub, "");
  ASSERT_NE(stuck, nullptr);
  ASSERT_NE(reader, nullptr);

  size_t received = 0;
  TailEvent event;
  for (int batch = 0; batch < 100; ++batch) {
    std::vector<Record> records;
    for (int i = 0; i < 10; ++i) {
      records.push_back(Line(Level::kInfo, std::to_string(batch * 10 + i)));
    }
    hub->Publish("default", records);  // returns although "stuck" is full after batch 0
    ASSERT_TRUE(reader->Next(&event, 100, 1000));
    received += event.records.size();
    EXPECT_EQ(event.dropped, 0u);
  }
  EXPECT_EQ(received, 1000u);
  hub->Drain();

  ASSERT_TRUE(stuck->Next(&event, 100, 0));
  EXPECT_THAT(Messages(event.records),
              ::testing::ElementsAre("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"));
  EXPECT_EQ(event.dropped, 990u);
  // The count is reported once.
  ASSERT_TRUE(stuck->Next(&event, 100, 0));
  EXPECT_EQ(event.dropped, 0u);
  EXPECT_THAT(SerializeMetrics(), HasSubstr("sawmill_tail_dropped_lines_total"));
}

TEST(TailHub, RefusesSessionsPastTheLimitWithAClearMessage) {
  TailHubOptions options;
  options.max_sessions = 2;
  auto hub = TailHub::Create(options);
  auto a = MustSubscribe(*hub, "level=ERROR");
  auto b = MustSubscribe(*hub, "level=ERROR");
  auto refused = hub->Subscribe("default", "level=ERROR");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsResourceExhausted());
  EXPECT_THAT(refused.status().message(), HasSubstr("limit of 2 concurrent sessions"));
  EXPECT_EQ(hub->sessions(), 2u);

  a->Close();
  EXPECT_EQ(hub->sessions(), 1u);
  auto c = hub->Subscribe("default", "level=ERROR");
  EXPECT_TRUE(c.ok());
  // Dropping the last reference also ends the session.
  c = Status::Internal("released");
  EXPECT_EQ(hub->sessions(), 1u);
}

TEST(TailHub, QuerySyntaxErrorIsInvalidArgument) {
  auto hub = TailHub::Create({});
  auto bad = hub->Subscribe("default", "level=");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument());
  auto pipe = hub->Subscribe("default", "level=ERROR | count by service");
  ASSERT_FALSE(pipe.ok());
  EXPECT_TRUE(pipe.status().IsInvalidArgument());
  EXPECT_EQ(hub->sessions(), 0u);
}

TEST(TailHub, NotifyRunsWhenTheQueueBecomesNonEmpty) {
  auto hub = TailHub::Create({});
  auto session = MustSubscribe(*hub, "");
  std::atomic<int> calls{0};
  session->SetNotify([&] { ++calls; });
  hub->Publish("default", {Line(Level::kInfo, "a")});
  hub->Publish("default", {Line(Level::kInfo, "b")});  // queue already non-empty
  hub->Drain();
  EXPECT_EQ(calls.load(), 1);
  TailEvent event;
  ASSERT_TRUE(session->Next(&event, 100, 0));
  EXPECT_EQ(event.records.size(), 2u);
  hub->Publish("default", {Line(Level::kInfo, "c")});
  hub->Drain();
  EXPECT_EQ(calls.load(), 2);
}

TEST(TailHub, ABatchReachesOnlyTheSessionsOpenWhenItWasPublished) {
  auto hub = TailHub::Create({});
  auto early = MustSubscribe(*hub, "");
  hub->Publish("default", {Line(Level::kError, "published-before-late-opened")});
  auto late = MustSubscribe(*hub, "");
  hub->Publish("default", {Line(Level::kError, "for-both")});
  hub->Drain();
  TailEvent event;
  ASSERT_TRUE(early->Next(&event, 100, 0));
  EXPECT_THAT(Messages(event.records),
              ::testing::ElementsAre("published-before-late-opened", "for-both"));
  ASSERT_TRUE(late->Next(&event, 100, 0));
  EXPECT_THAT(Messages(event.records), ::testing::ElementsAre("for-both"));
}

TEST(TailHub, TwoThousandSessionsWithFiltersEachGetTheirMatches) {
  // The session limit's worth of sessions: Publish only queues the batch, the hub's thread
  // matches it, and every session gets exactly its lines.
  TailHubOptions options;
  options.max_sessions = 2000;
  auto hub = TailHub::Create(options);
  std::vector<std::shared_ptr<TailSession>> sessions;
  for (int i = 0; i < 2000; ++i) {
    sessions.push_back(MustSubscribe(*hub, i % 2 == 0 ? "level=ERROR" : "level=INFO"));
  }
  std::vector<Record> batch;
  for (int i = 0; i < 100; ++i) {
    batch.push_back(Line(i % 2 == 0 ? Level::kError : Level::kInfo, std::to_string(i)));
  }
  hub->Publish("default", batch);
  hub->Drain();
  TailEvent event;
  for (auto& session : sessions) {
    ASSERT_TRUE(session->Next(&event, 1000, 0));
    EXPECT_EQ(event.records.size(), 50u);
    EXPECT_EQ(event.dropped, 0u);
  }
}

TEST(TailHub, ShutdownClosesEverySessionAndRefusesNewOnes) {
  auto hub = TailHub::Create({});
  auto session = MustSubscribe(*hub, "");
  hub->Shutdown();
  TailEvent event;
  EXPECT_FALSE(session->Next(&event, 100, 1000));
  EXPECT_EQ(hub->sessions(), 0u);
  auto late = hub->Subscribe("default", "");
  ASSERT_FALSE(late.ok());
  EXPECT_TRUE(late.status().IsUnavailable());
}

TEST(TailHub, ASessionMayOutliveItsHub) {
  std::shared_ptr<TailSession> session;
  {
    auto hub = TailHub::Create({});
    session = MustSubscribe(*hub, "");
  }
  TailEvent event;
  EXPECT_FALSE(session->Next(&event, 100, 0));
  session->Close();
}

}  // namespace
TEST(TailHub, SessionsThatNeverReadHoldAtMostTheHubWideByteBound) {
  TailHubOptions options;
  options.queue_records = 1'000'000;
  options.queue_bytes = 8 << 20;
  options.total_queue_bytes = 1 << 20;
  auto hub = TailHub::Create(options);
  std::vector<std::shared_ptr<TailSession>> stuck;
  for (int i = 0; i < 50; ++i) {
    stuck.push_back(MustSubscribe(*hub, ""));
    ASSERT_NE(stuck.back(), nullptr);
  }
  const std::string text(200, 'x');
  size_t published = 0;
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<Record> records;
    for (int i = 0; i < 1000; ++i) records.push_back(Line(Level::kInfo, text));
    hub->Publish("default", records);
    hub->Drain();  // never drop a batch for a full dispatch queue: only the session bound acts
    published += records.size();
  }
  // Each session alone would queue its 20,000 lines (about 9 MiB): together they hold 1 MiB.
  size_t held_bytes = 0, received = 0;
  uint64_t dropped = 0;
  for (auto& session : stuck) {
    TailEvent event;
    ASSERT_TRUE(session->Next(&event, 0, 0));
    for (const Record& r : event.records) held_bytes += r.ApproximateSize();
    received += event.records.size();
    dropped += event.dropped;
  }
  EXPECT_LE(held_bytes, options.total_queue_bytes);
  EXPECT_GT(received, 0u);
  // Nothing vanishes silently: every line is either queued or counted as dropped.
  EXPECT_EQ(received + dropped, published * stuck.size());

  // What was taken out is room again: a reading session gets new lines.
  hub->Publish("default", {Line(Level::kInfo, "after")});
  hub->Drain();
  TailEvent event;
  ASSERT_TRUE(stuck[0]->Next(&event, 0, 1000));
  EXPECT_THAT(Messages(event.records), ::testing::ElementsAre("after"));
}

}  // namespace sawmill::tail

namespace sawmill::tail {
namespace {

// Notices (cluster: another node's lines may be missing) reach the sessions they name, wake a
// waiting reader, and are bounded per session.
TEST(TailHub, NoticesReachTheNamedTenantsSessions) {
  auto hub = TailHub::Create({});
  auto acme = MustSubscribe(*hub, "*", "acme");
  auto other = MustSubscribe(*hub, "*", "other");
  ASSERT_NE(acme, nullptr);
  ASSERT_NE(other, nullptr);
  hub->Notice("acme", "12 lines from node b are missing here");
  hub->Notice("", "lines may be missing from node c");
  TailEvent event;
  ASSERT_TRUE(acme->Next(&event, 100, 1000));
  EXPECT_THAT(event.notices, ::testing::ElementsAre("12 lines from node b are missing here",
                                                    "lines may be missing from node c"));
  ASSERT_TRUE(other->Next(&event, 100, 1000));
  EXPECT_THAT(event.notices, ::testing::ElementsAre("lines may be missing from node c"));
  ASSERT_TRUE(other->Next(&event, 100, 10));
  EXPECT_TRUE(event.notices.empty());  // taken once
  for (int i = 0; i < 40; ++i) hub->Notice("other", "n" + std::to_string(i));
  ASSERT_TRUE(other->Next(&event, 100, 1000));
  ASSERT_EQ(event.notices.size(), 16u);
  EXPECT_EQ(event.notices.back(), "n39");  // the newest kept
}

}  // namespace
}  // namespace sawmill::tail
