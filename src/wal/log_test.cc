#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/fault_env.h"
#include "wal/log_format.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

namespace sawmill::wal {
namespace {

class CollectingReporter : public LogReader::Reporter {
 public:
  void Corruption(uint64_t offset, uint64_t bytes, std::string_view kind,
                  const Status& reason) override {
    dropped_bytes += bytes;
    offsets.push_back(offset);
    kinds.emplace_back(kind);
    reasons.push_back(reason.ToString());
  }
  std::vector<uint64_t> offsets;
  std::vector<std::string> kinds;
  uint64_t dropped_bytes = 0;
  std::vector<std::string> reasons;
};

std::string Payload(int i, size_t len) {
  std::string s = "record-" + std::to_string(i) + ":";
  while (s.size() < len) s.push_back(static_cast<char>('a' + (s.size() * 7 + i) % 26));
  s.resize(len);
  return s;
}

class LogTest : public ::testing::Test {
 protected:
  void Write(const std::vector<std::string>& records, uint32_t log_number = 7) {
    auto file = env_.NewWritableFile(path_);
    ASSERT_TRUE(file.ok());
    LogWriter writer(file->get(), log_number);
    for (const auto& r : records) ASSERT_TRUE(writer.AddRecord(r).ok());
    ASSERT_TRUE(writer.Sync().ok());
  }
  std::vector<std::string> ReadAll(uint32_t log_number = 7) {
    auto file = env_.NewSequentialFile(path_);
    EXPECT_TRUE(file.ok());
    LogReader reader(std::move(file).value(), path_, log_number, &reporter_);
    std::vector<std::string> out;
    std::string rec;
    while (reader.ReadRecord(&rec)) out.push_back(rec);
    return out;
  }
  std::string Contents() {
    std::string s;
    EXPECT_TRUE(env_.GetContents(path_, &s).ok());
    return s;
  }

  FaultInjectionEnv env_;
  std::string path_ = "/000007.log";
  CollectingReporter reporter_;
};

TEST_F(LogTest, RecordsOfEverySizeRoundTrip) {
  std::vector<std::string> records;
  for (size_t len : {0, 1, 100, 32757, 32758, 32768, 100000, 5}) {
    records.push_back(Payload(static_cast<int>(records.size()), len));
  }
  Write(records);
  EXPECT_EQ(ReadAll(), records);
  EXPECT_TRUE(reporter_.reasons.empty());
}

TEST_F(LogTest, LargeRecordIsFragmentedAcrossBlocks) {
  Write({Payload(1, 3 * kBlockSize)});
  std::string c = Contents();
  EXPECT_GT(c.size(), 3 * kBlockSize);
  EXPECT_EQ(static_cast<uint8_t>(c[6]), static_cast<uint8_t>(RecordType::kFirst));
  EXPECT_EQ(static_cast<uint8_t>(c[kBlockSize + 6]), static_cast<uint8_t>(RecordType::kMiddle));
  EXPECT_EQ(ReadAll().size(), 1u);
}

TEST_F(LogTest, TornTailIsIgnoredWithoutReport) {
  std::vector<std::string> records = {Payload(1, 100), Payload(2, 50000), Payload(3, 200)};
  Write(records);
  std::string c = Contents();
  // Cut inside the last record's payload, inside a header, and inside a fragmented record.
  for (size_t cut : {c.size() - 10, c.size() - 200 - 5, size_t{kBlockSize + 20}}) {
    ASSERT_TRUE(env_.SetContents(path_, c.substr(0, cut)).ok());
    auto got = ReadAll();
    ASSERT_FALSE(got.empty());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], records[i]);
    EXPECT_LT(got.size(), records.size());
  }
  EXPECT_TRUE(reporter_.reasons.empty());
}

TEST_F(LogTest, FlippedByteSkipsOnlyThatRecordAndIsReported) {
  std::vector<std::string> records;
  for (int i = 0; i < 20; ++i) records.push_back(Payload(i, 300));
  Write(records);
  std::string c = Contents();
  // Record 5 starts at 5 * (kHeaderSize + 300); flip a byte in its payload.
  c[5 * (kHeaderSize + 300) + kHeaderSize + 17] ^= 0x40;
  ASSERT_TRUE(env_.SetContents(path_, c).ok());
  auto got = ReadAll();
  std::vector<std::string> expected = records;
  expected.erase(expected.begin() + 5);
  EXPECT_EQ(got, expected);
  ASSERT_EQ(reporter_.reasons.size(), 1u);
  EXPECT_NE(reporter_.reasons[0].find("checksum"), std::string::npos) << reporter_.reasons[0];
  EXPECT_NE(reporter_.reasons[0].find("offset"), std::string::npos) << reporter_.reasons[0];
}

TEST_F(LogTest, DamagedFirstFragmentDropsWholeRecordOnce) {
  std::vector<std::string> records = {Payload(1, 100), Payload(2, 3 * kBlockSize), Payload(3, 100)};
  Write(records);
  std::string c = Contents();
  c[(kHeaderSize + 100) + kHeaderSize + 3] ^= 1;  // inside the FIRST fragment of record 2
  ASSERT_TRUE(env_.SetContents(path_, c).ok());
  auto got = ReadAll();
  EXPECT_EQ(got, (std::vector<std::string>{records[0], records[2]}));
  EXPECT_EQ(reporter_.reasons.size(), 1u);
}

TEST_F(LogTest, GarbageLengthDropsRestOfBlockOnly) {
  std::vector<std::string> records;
  for (int i = 0; i < 300; ++i) records.push_back(Payload(i, 400));  // spans several blocks
  Write(records);
  std::string c = Contents();
  c[4] = static_cast<char>(0xff);  // length of record 0 becomes impossible
  c[5] = static_cast<char>(0xff);
  ASSERT_TRUE(env_.SetContents(path_, c).ok());
  auto got = ReadAll();
  EXPECT_GE(reporter_.reasons.size(), 1u);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), records.back());
  EXPECT_LT(got.size(), records.size());
  EXPECT_GT(got.size(), records.size() - 2 * kBlockSize / 400);
}

TEST_F(LogTest, BytesOfAnotherLogNumberAreRejected) {
  Write({Payload(1, 100), Payload(2, 100)}, /*log_number=*/3);
  EXPECT_TRUE(ReadAll(/*log_number=*/7).empty());
  EXPECT_TRUE(reporter_.reasons.empty());
  EXPECT_EQ(ReadAll(3).size(), 2u);
}

TEST_F(LogTest, EveryTruncationReadsAPrefixAndNeverCrashes) {
  std::vector<std::string> records;
  for (int i = 0; i < 30; ++i) records.push_back(Payload(i, 37 * i + 1000 * (i % 3)));
  Write(records);
  std::string c = Contents();
  for (size_t cut = 0; cut < c.size(); cut += 97) {
    ASSERT_TRUE(env_.SetContents(path_, c.substr(0, cut)).ok());
    auto got = ReadAll();
    ASSERT_LE(got.size(), records.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], records[i]) << "cut " << cut;
  }
  EXPECT_TRUE(reporter_.reasons.empty());
}

TEST_F(LogTest, ValidEndIsTheEndOfTheLastWholeRecordAfterEveryCut) {
  std::vector<std::string> records = {Payload(1, 100), Payload(2, 50000), Payload(3, 200)};
  Write(records);
  const std::string c = Contents();
  const uint64_t end1 = kHeaderSize + 100;
  const uint64_t end3 = c.size();
  const uint64_t end2 = end3 - kHeaderSize - 200;
  struct Case {
    size_t cut;
    uint64_t valid_end;
  };
  for (Case k : {Case{end3, end3}, Case{end3 - 10, end2}, Case{end2, end2}, Case{end2 - 3, end1},
                 Case{kBlockSize + 20, end1}, Case{5, 0}}) {
    ASSERT_TRUE(env_.SetContents(path_, c.substr(0, k.cut)).ok());
    auto file = env_.NewSequentialFile(path_);
    ASSERT_TRUE(file.ok());
    LogReader reader(std::move(file).value(), path_, 7, &reporter_);
    std::string rec;
    while (reader.ReadRecord(&rec)) {
    }
    EXPECT_EQ(reader.valid_end(), k.valid_end) << "cut at " << k.cut;
  }
  EXPECT_TRUE(reporter_.reasons.empty());
}

TEST_F(LogTest, DamageIsReportedWithItsOffsetKindAndSize) {
  std::vector<std::string> records;
  for (int i = 0; i < 10; ++i) records.push_back(Payload(i, 300));
  Write(records);
  std::string c = Contents();
  c[4 * (kHeaderSize + 300) + kHeaderSize + 9] ^= 0x01;
  ASSERT_TRUE(env_.SetContents(path_, c).ok());
  EXPECT_EQ(ReadAll().size(), 9u);
  ASSERT_EQ(reporter_.kinds.size(), 1u);
  EXPECT_EQ(reporter_.kinds[0], "checksum");
  EXPECT_EQ(reporter_.offsets[0], 4 * (kHeaderSize + 300));
  EXPECT_EQ(reporter_.dropped_bytes, kHeaderSize + 300);
}

}  // namespace
}  // namespace sawmill::wal
