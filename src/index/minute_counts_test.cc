// The minute_counts kind (segment format version 19) on its own: what it stores per block, and
// that a block whose counts disagree with the block list is DataLoss naming the block.
#include <gtest/gtest.h>

#include "common/coding.h"
#include "index/index_kind.h"

namespace sawmill::index {
namespace {

constexpr int64_t kMinute = MinuteCounts::kMinuteNs;
constexpr int64_t kT0 = 1'796'032'800LL * 1'000'000'000LL;  // a minute's start

// A kind block held in memory with the block list of its segment (rows and times per block).
class ListSource final : public IndexSource {
 public:
  ListSource(std::string data, std::vector<std::vector<Record>> blocks)
      : data_(std::move(data)), blocks_(std::move(blocks)) {
    parts_.push_back(Part{{}, 0, 1, 1});
  }
  uint32_t block_count() const override { return static_cast<uint32_t>(blocks_.size()); }
  uint64_t row_count() const override { return 0; }
  const std::vector<Part>& parts() const override { return parts_; }
  Status Read(size_t, size_t, std::string* out) const override {
    *out = data_;
    return Status::OK();
  }
  std::string Where(size_t, size_t) const override { return "segment S: minute block"; }
  BlockTimes Times(uint32_t b) const override {
    BlockTimes t{INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN};
    for (const Record& r : blocks_[b]) {
      t.min_ts = std::min(t.min_ts, r.ts);
      t.max_ts = std::max(t.max_ts, r.ts);
      t.min_ingest_ts = std::min(t.min_ingest_ts, r.ingest_ts);
      t.max_ingest_ts = std::max(t.max_ingest_ts, r.ingest_ts);
    }
    return t;
  }
  bool BlockRows(uint32_t b, uint32_t* first_row, uint32_t* rows) const override {
    *first_row = 0;
    for (uint32_t i = 0; i < b; ++i) *first_row += static_cast<uint32_t>(blocks_[i].size());
    *rows = static_cast<uint32_t>(blocks_[b].size());
    return true;
  }

 private:
  std::string data_;
  std::vector<std::vector<Record>> blocks_;
  std::vector<Part> parts_;
};

Record At(int64_t ts, Level level) {
  Record r;
  r.ts = ts;
  r.ingest_ts = ts + 5 * kMinute;
  r.level = level;
  return r;
}

std::string Build(const std::vector<std::vector<Record>>& blocks) {
  BuildOptions options;
  options.minute_counts = true;
  const IndexKind* kind = FindIndexKind("minute_counts");
  EXPECT_NE(kind, nullptr);
  auto builder = kind->new_builder(options);
  for (const auto& b : blocks) builder->AddBlock(b.data(), static_cast<uint32_t>(b.size()));
  std::vector<IndexPart> parts;
  builder->Finish(&parts);
  EXPECT_EQ(parts.size(), 1u);
  return parts.empty() ? std::string() : parts[0].blobs.at(0);
}

Result<std::shared_ptr<const MinuteCounts>> Open(std::string data,
                                                 std::vector<std::vector<Record>> blocks,
                                                 std::string_view field) {
  auto source = std::make_shared<ListSource>(std::move(data), std::move(blocks));
  auto view = FindIndexKind("minute_counts")->open(source);
  EXPECT_TRUE(view.ok());
  return (*view)->BlockMinutes(field);
}

std::vector<std::vector<Record>> TwoBlocks() {
  return {
      {At(kT0 + 59 * 1'000'000'000LL, Level::kInfo), At(kT0, Level::kError),
       At(kT0 + 2 * kMinute, Level::kInfo), At(kT0 - 1, Level::kWarn)},
      {At(kT0 + 10 * kMinute, Level::kDebug), At(kT0 + 10 * kMinute + 1, Level::kDebug)},
  };
}

TEST(MinuteCountsKind, CountsEachBlocksRowsPerMinuteAndLevel) {
  auto counts = Open(Build(TwoBlocks()), TwoBlocks(), "ts");
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  const MinuteCounts& m = **counts;
  ASSERT_EQ(m.known.size(), 2u);
  // Block 0: minutes kT0-1m .. kT0+2m (4), levels INFO, WARN, ERROR.
  EXPECT_TRUE(m.known[0]);
  EXPECT_EQ(m.first_minute[0], kT0 / kMinute - 1);
  EXPECT_EQ(m.minutes[0], 4u);
  EXPECT_EQ(m.levels[0], (1u << 3) | (1u << 4) | (1u << 5));
  const std::vector<uint32_t> want0 = {0, 1, 0,  // kT0-1m: WARN
                                       1, 0, 1,  // kT0: INFO, ERROR
                                       0, 0, 0, 1, 0, 0};
  std::vector<uint32_t> got;
  m.Counts(0, &got);
  EXPECT_EQ(got, want0);
  EXPECT_EQ(m.first_minute[1], kT0 / kMinute + 10);
  EXPECT_EQ(m.minutes[1], 1u);
  m.Counts(1, &got);
  EXPECT_EQ(got, std::vector<uint32_t>{2});
  // ingest_ts: five minutes later.
  auto ingest = Open(Build(TwoBlocks()), TwoBlocks(), "ingest_ts");
  ASSERT_TRUE(ingest.ok());
  EXPECT_EQ((*ingest)->first_minute[0], kT0 / kMinute + 4);
  EXPECT_EQ((*ingest)->cells, m.cells);
}

TEST(MinuteCountsKind, ABlockSpanningMoreThanADayHasNoCounts) {
  std::vector<std::vector<Record>> blocks = {
      {At(kT0, Level::kInfo), At(kT0 + 1440 * kMinute, Level::kInfo)},
      {At(kT0, Level::kInfo), At(kT0 + 1439 * kMinute, Level::kInfo)}};
  auto counts = Open(Build(blocks), blocks, "ts");
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_FALSE((*counts)->known[0]);
  EXPECT_TRUE((*counts)->known[1]);
  EXPECT_EQ((*counts)->minutes[1], 1440u);
}

// The block's counts changed (one more row than block 1 holds; or moved a minute) with every
// byte still well-formed: DataLoss naming the segment, the field and the block.
TEST(MinuteCountsKind, CountsThatDisagreeWithTheBlockListAreDataLossNamingTheBlock) {
  const std::string good = Build(TwoBlocks());
  ASSERT_FALSE(good.empty());
  // The last byte is block 1's (ingest_ts) only count; its ts count is the last byte of the
  // ts field. Find the ts field's end: the ingest_ts field begins with its name.
  const size_t ingest_at = good.find("ingest_ts") - 1;
  std::string more = good;
  more[ingest_at - 1] = 3;  // block 1 (ts): 3 rows, it holds 2
  auto bad = Open(more, TwoBlocks(), "ts");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("segment S: minute block: field 'ts' block 1: counts "
                                        "add up to 3, the block holds 2 rows"),
            std::string::npos)
      << bad.status().message();
  // Block 1's first minute moved by one (its delta is three bytes before its count).
  std::string moved = good;
  moved[ingest_at - 3] = static_cast<char>(moved[ingest_at - 3] + 2);
  bad = Open(moved, TwoBlocks(), "ts");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("field 'ts' block 1: minutes do not match"),
            std::string::npos)
      << bad.status().message();
  // Cut short (the last section, the services'): the services' counts are DataLoss; the ts
  // counts before them are read, the sections after the one asked for are not parsed.
  const std::string cut = good.substr(0, good.size() - 1);
  auto source = std::make_shared<ListSource>(cut, TwoBlocks());
  auto view = FindIndexKind("minute_counts")->open(source);
  ASSERT_TRUE(view.ok());
  auto services = (*view)->BlockServiceLevels();
  ASSERT_FALSE(services.ok());
  EXPECT_NE(services.status().message().find("segment S: minute block: section 2 truncated"),
            std::string::npos)
      << services.status().message();
  EXPECT_TRUE(Open(cut, TwoBlocks(), "ts").ok());
}

TEST(MinuteCountsKind, NothingIsWrittenUnlessAsked) {
  BuildOptions options;  // minute_counts false: format versions before 19
  auto builder = FindIndexKind("minute_counts")->new_builder(options);
  const auto blocks = TwoBlocks();
  builder->AddBlock(blocks[0].data(), static_cast<uint32_t>(blocks[0].size()));
  std::vector<IndexPart> parts;
  builder->Finish(&parts);
  EXPECT_TRUE(parts.empty());
}

}  // namespace
}  // namespace sawmill::index
