// Which zone a door's call reads zone-less timestamps in: ?tz=, then the service's, the tenant's,
// the server's default (docs/ingest.md "Time zones").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/timezone.h"
#include "ingest/normalize.h"
#include "ingest/pipeline.h"

namespace sawmill::ingest {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kNow = 1796040000LL * kSec;  // 2026-11-30T12:00:00Z

class NullSink : public IngestSink {
 public:
  Status Ingest(const std::string&, std::string_view, std::vector<Record>*) override {
    return Status::OK();
  }
};

const TimeZone* Zone(std::string_view name) {
  auto zone = TimeZone::Find(name);
  EXPECT_TRUE(zone.ok()) << zone.status().ToString();
  return zone.ok() ? *zone : nullptr;
}

// The ts the native door gives loghub_2k/Zookeeper/Zookeeper_2k.log line 1 under "call".
int64_t ZookeeperTs(const Pipeline& pipeline, const IngestCall& call) {
  auto context = pipeline.Begin(call);
  EXPECT_TRUE(context.ok()) << context.status().ToString();
  if (!context.ok()) return 0;
  std::vector<Record> records;
  IngestCounts counts;
  NormalizeBody(
      "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:"
      "FastLeaderElection@774] - Notification time out: 3200\n",
      context->defaults, context->options, context->now_ns, &records, &counts);
  EXPECT_EQ(records.size(), 1u);
  return records.empty() ? 0 : records[0].ts;
}

TEST(PipelineTimezone, TzThenServiceThenTenantThenDefault) {
  NullSink sink;
  ManualClock clock(kNow);
  PipelineOptions options;
  options.zone = Zone("+01:00");
  options.zone_by_service["zookeeper"] = Zone("Europe/Berlin");
  options.zone_by_tenant["acme"] = Zone("America/New_York");
  Pipeline pipeline(&sink, options, &clock);
  const int64_t utc = *ParseTimestamp("2015-07-29T17:41:44.747Z", kNow);

  IngestCall call;
  call.protocol = "native";
  EXPECT_EQ(ZookeeperTs(pipeline, call), utc - 1 * 3600 * kSec);  // the default, +01:00
  call.tenant = "acme";
  EXPECT_EQ(ZookeeperTs(pipeline, call), utc + 4 * 3600 * kSec);  // the tenant's, EDT
  call.service = "zookeeper";
  EXPECT_EQ(ZookeeperTs(pipeline, call), utc - 2 * 3600 * kSec);  // the service's, CEST
  call.timezone = "UTC";
  EXPECT_EQ(ZookeeperTs(pipeline, call), utc);  // ?tz= wins
  call.timezone = "Asia/Shanghai";
  EXPECT_EQ(ZookeeperTs(pipeline, call), utc - 8 * 3600 * kSec);
}

TEST(PipelineTimezone, NothingConfiguredIsUtc) {
  NullSink sink;
  ManualClock clock(kNow);
  Pipeline pipeline(&sink, {}, &clock);
  IngestCall call;
  call.service = "zookeeper";
  EXPECT_EQ(ZookeeperTs(pipeline, call), *ParseTimestamp("2015-07-29T17:41:44.747Z", kNow));
}

TEST(PipelineTimezone, ABadTzIsRefusedNamingTheParameterAndTheValue) {
  NullSink sink;
  Pipeline pipeline(&sink);
  for (const char* tz : {"Europe/Berln", "../../etc/passwd", "/etc/localtime", "+1:00"}) {
    IngestCall call;
    call.protocol = "loki";  // every door, whatever it does with a bad level
    call.timezone = tz;
    auto context = pipeline.Begin(call);
    ASSERT_FALSE(context.ok()) << tz;
    EXPECT_EQ(context.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(context.status().message().rfind("tz: time zone '" + std::string(tz) + "'", 0), 0u)
        << context.status().message();
  }
}

}  // namespace
}  // namespace sawmill::ingest
