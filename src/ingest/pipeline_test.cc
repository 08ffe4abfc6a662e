#include "ingest/pipeline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingest/loki_push.h"

namespace sawmill::ingest {
namespace {

constexpr int64_t kNow = 1796040000LL * 1'000'000'000;  // 2026-11-30T12:00:00Z

class MemorySink : public IngestSink {
 public:
  Status Ingest(const std::string& tenant, std::string_view protocol,
                std::vector<Record>* records) override {
    events.push_back("wal " + tenant + " " + std::string(protocol));
    if (!fail.ok()) return fail;
    for (const Record& record : *records) stored.push_back(record);
    return Status::OK();
  }
  std::vector<Record> stored;
  std::vector<std::string> events;
  Status fail;
};

std::vector<Record> OneRecord(const ShipperContext& context, const std::string& line) {
  std::vector<Record> records(1);
  MapLokiEntry({}, {}, 0, line, context, &records[0]);
  return records;
}

TEST(Pipeline, StagesRunInOrderAndListenersSeeOnlyAcknowledgedBatches) {
  MemorySink sink;
  ManualClock clock(kNow);
  Pipeline pipeline(&sink, {}, &clock);
  pipeline.AddAdmitHook([&](const BatchInfo& batch, std::vector<Record>* records) {
    sink.events.push_back("admit " + batch.tenant);
    for (Record& r : *records) r.message += " (admitted)";
    return Status::OK();
  });
  pipeline.AddListener([&](const BatchInfo& batch, const std::vector<Record>& records) {
    sink.events.push_back("first listener " + std::string(batch.protocol) + " " +
                          std::to_string(records.size()));
  });
  pipeline.AddListener([&](const BatchInfo&, const std::vector<Record>&) {
    sink.events.push_back("second listener");
  });
  IngestCall call;
  call.tenant = "acme";
  call.protocol = "loki";
  auto context = pipeline.Begin(call);
  ASSERT_TRUE(context.ok());
  std::vector<Record> records = OneRecord(*context, "hello");
  ASSERT_TRUE(pipeline.Submit(*context, "loki", &records).ok());
  EXPECT_EQ(sink.events, (std::vector<std::string>{"admit acme", "wal acme loki",
                                                   "first listener loki 1", "second listener"}));
  ASSERT_EQ(sink.stored.size(), 1u);
  EXPECT_EQ(sink.stored[0].message, "hello (admitted)");
  // The pipeline's clock, not the wall clock: a record without a time gets it as both times.
  EXPECT_EQ(sink.stored[0].ingest_ts, kNow);
  EXPECT_EQ(sink.stored[0].ts, kNow);

  sink.events.clear();
  sink.fail = Status::Unavailable("disk full");
  records = OneRecord(*context, "lost?");
  Status refused = pipeline.Submit(*context, "loki", &records);
  EXPECT_TRUE(refused.IsUnavailable());
  EXPECT_EQ(sink.events, (std::vector<std::string>{"admit acme", "wal acme loki"}));
}

TEST(Pipeline, AnAdmitHookRefusalStoresNothingAndSkipsTheRest) {
  MemorySink sink;
  Pipeline pipeline(&sink);
  int later_hooks = 0, listened = 0;
  pipeline.AddAdmitHook([](const BatchInfo& batch, std::vector<Record>*) {
    return batch.tenant == "over-quota" ? Status::ResourceExhausted("quota") : Status::OK();
  });
  pipeline.AddAdmitHook([&](const BatchInfo&, std::vector<Record>*) {
    ++later_hooks;
    return Status::OK();
  });
  pipeline.AddListener([&](const BatchInfo&, const std::vector<Record>&) { ++listened; });
  IngestCall call;
  call.tenant = "over-quota";
  auto context = pipeline.Begin(call);
  ASSERT_TRUE(context.ok());
  std::vector<Record> records = OneRecord(*context, "x");
  EXPECT_TRUE(pipeline.Submit(*context, "otlp", &records).IsResourceExhausted());
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(later_hooks, 0);
  EXPECT_EQ(listened, 0);
}

TEST(Pipeline, EveryDoorGetsTheSameMaxLineAndDefaults) {
  MemorySink sink;
  PipelineOptions options;
  options.max_line_bytes = 8;
  Pipeline pipeline(&sink, options);
  IngestCall call;
  call.service = "svc";
  call.host = "h1";
  call.level = "warn";
  call.max_records = 7;
  auto context = pipeline.Begin(call);
  ASSERT_TRUE(context.ok());
  EXPECT_EQ(context->options.max_line_bytes, 8u);
  EXPECT_EQ(context->max_records, 7u);
  EXPECT_EQ(context->tenant, "default");
  std::vector<Record> records = OneRecord(*context, "a line longer than eight bytes");
  EXPECT_EQ(records[0].message, "a line l");
  EXPECT_TRUE(records[0].flags & kFlagTruncated);
  EXPECT_EQ(records[0].service, "svc");
  EXPECT_EQ(records[0].host, "h1");
  EXPECT_EQ(records[0].level, Level::kWarn);
}

TEST(Pipeline, ABadLevelDefaultIsRefusedOrKeptAsAFieldAsTheDoorAsks) {
  MemorySink sink;
  Pipeline pipeline(&sink);
  IngestCall call;
  call.level = "loud";
  call.bad_level = BadLevel::kReject;
  auto refused = pipeline.Begin(call);
  ASSERT_TRUE(refused.status().IsInvalidArgument());
  EXPECT_NE(refused.status().message().find("'loud' is not a level"), std::string::npos);

  call.bad_level = BadLevel::kKeepAsField;
  auto context = pipeline.Begin(call);
  ASSERT_TRUE(context.ok());
  std::vector<Record> records = OneRecord(*context, "no level word here");
  std::vector<Record> sniffed = OneRecord(*context, "ERROR a level word");
  records.push_back(sniffed[0]);
  ASSERT_TRUE(pipeline.Submit(*context, "loki", &records).ok());
  ASSERT_EQ(sink.stored.size(), 2u);
  EXPECT_EQ(sink.stored[0].level, Level::kUnknown);
  ASSERT_NE(sink.stored[0].FindField("level"), nullptr);
  EXPECT_EQ(*sink.stored[0].FindField("level"), "loud");
  // A record that found its own level does not get the bad default.
  EXPECT_EQ(sink.stored[1].level, Level::kError);
  EXPECT_EQ(sink.stored[1].FindField("level"), nullptr);
}

}  // namespace
}  // namespace sawmill::ingest
