// The store's segment format version on the embedded node (docs/cluster.md "Format version in a
// rolling upgrade"): recorded at the first open, raised at once by a newer build (one node holds
// the store alone), and a build that cannot read it is refused at start before it touches
// anything.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "segment/segment_file_reader.h"
#include "storage/engine_test_fixture.h"
#include "storage/lines_test_util.h"
#include "storage/storage_engine.h"

namespace sawmill::storage {
namespace {

constexpr uint32_t kNew = segment::kFormatVersion;
constexpr uint32_t kOld = 25;  // the previous build's (main: 25, then 27)

class StoreFormatTest : public EngineTest {
 protected:
  Status Ingest(int first, int count) {
    std::vector<Record> v = NumberedLines(first, count, {.services = 1, .hosts = 12});
    RETURN_IF_ERROR(engine_->Append("acme", &v));
    return engine_->Flush();
  }
  uint64_t StoreVersion() { return catalog()->ReadSetting("format_version")->value_or(0); }
  // How many of the engine's segments are in "version"; "*corrupt": how many are not active.
  int SegmentsIn(uint32_t version, int* corrupt) {
    int n = 0;
    *corrupt = 0;
    auto snapshot = engine_->GetSnapshot("acme");
    for (const SegmentHandle& h : snapshot->segments) {
      auto reader = h.open();
      EXPECT_TRUE(reader.ok()) << reader.status().ToString();
      if (!reader.ok()) continue;
      auto* file = dynamic_cast<const segment::SegmentFileReader*>(reader->get());
      n += file != nullptr && file->format_version() == version ? 1 : 0;
    }
    auto rows = catalog()->List();
    for (const auto& row : *rows) *corrupt += row.state != catalog::kStateActive ? 1 : 0;
    return n;
  }
  void ExpectEachOnce(int count) {
    Contents c = Read(*engine_->GetSnapshot("acme"));
    EXPECT_EQ(c.errors, 0);
    EXPECT_EQ(c.total(), static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) EXPECT_EQ(c.lines["line " + std::to_string(i)], 1) << i;
  }
};

// A store written by a previous build (its version recorded at kOld) is raised at the first
// open by this build, whose new segments are then in its version and whose old ones still
// read; the previous build is refused from then on, before reconciliation (nothing marked),
// naming both versions, the catalog and the fix. Before, a previous build opened the store and
// marked every newer segment corrupt.
TEST_F(StoreFormatTest, ANewerBuildRaisesTheStoreAndAnOlderOneIsRefused) {
  options_.newest_format_version = kOld;
  OpenEngine();
  EXPECT_EQ(StoreVersion(), kOld);
  ASSERT_TRUE(Ingest(0, 60).ok());
  int corrupt = 0;
  EXPECT_GT(SegmentsIn(kOld, &corrupt), 0);
  engine_.reset();

  options_.newest_format_version = 0;  // this build
  OpenEngine();
  EXPECT_EQ(StoreVersion(), kNew) << "one node alone raises its store at once";
  ASSERT_TRUE(Ingest(60, 60).ok());
  EXPECT_GT(SegmentsIn(kNew, &corrupt), 0);
  ExpectEachOnce(120);
  engine_.reset();

  options_.newest_format_version = kOld;
  auto refused = Engine::Open(options_);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)
      << refused.status().ToString();
  const std::string why = refused.status().ToString();
  EXPECT_NE(why.find("format version " + std::to_string(kNew)), std::string::npos) << why;
  EXPECT_NE(why.find("up to " + std::to_string(kOld)), std::string::npos) << why;
  EXPECT_NE(why.find(options_.catalog_path), std::string::npos) << why;
  options_.newest_format_version = 0;
  OpenEngine();
  EXPECT_GT(SegmentsIn(kNew, &corrupt), 0);
  EXPECT_EQ(corrupt, 0) << "segments marked corrupt";
  ExpectEachOnce(120);
}

// A new store records this build's version and its segments are written in it.
TEST_F(StoreFormatTest, AStoreWithoutARecordTakesThisBuildsVersion) {
  OpenEngine();
  EXPECT_EQ(StoreVersion(), kNew);
  ASSERT_TRUE(Ingest(0, 30).ok());
  int corrupt = 0;
  EXPECT_GT(SegmentsIn(kNew, &corrupt), 0);
}

}  // namespace
}  // namespace sawmill::storage
