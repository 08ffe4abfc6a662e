// ReadAhead (read_ahead.h): how many reads reach the store below when an object is read range by
// range, and that every range is the object's bytes (object_store_test.cc runs the ObjectStore
// contract through it).
#include "objstore/read_ahead.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "common/fault_env.h"
#include "objstore/forwarding_store.h"
#include "objstore/local_directory_store.h"

namespace sawmill::objstore {
namespace {

// Counts the ranged reads of the readers "store" opens.
class CountingReader final : public ObjectReader {
 public:
  CountingReader(std::unique_ptr<ObjectReader> inner, std::atomic<int>* reads)
      : inner_(std::move(inner)), reads_(reads) {}
  uint64_t size() const override { return inner_->size(); }
  Status ReadRange(uint64_t offset, uint64_t length, std::string* out) const override {
    reads_->fetch_add(1);
    return inner_->ReadRange(offset, length, out);
  }

 private:
  std::unique_ptr<ObjectReader> inner_;
  std::atomic<int>* reads_;
};

class CountingStore final : public ForwardingObjectStore {
 public:
  explicit CountingStore(Env* env)
      : ForwardingObjectStore(std::make_shared<LocalDirectoryStore>(env, "/data")) {}
  std::atomic<int> reads{0};
  Status GetRange(std::string_view name, uint64_t offset, uint64_t length,
                  std::string* out) override {
    reads.fetch_add(1);
    return ForwardingObjectStore::GetRange(name, offset, length, out);
  }
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view name) override {
    ASSIGN_OR_RETURN(auto inner, ForwardingObjectStore::Open(name));
    return std::unique_ptr<ObjectReader>(new CountingReader(std::move(inner), &reads));
  }
};

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

// The read-back of a segment: the trailer and footer at the end first, then every block from
// the start, range after range.
std::vector<std::pair<uint64_t, uint64_t>> SegmentLikeRanges(uint64_t size) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {{size - 16, 16}, {size - 300, 284}};
  for (uint64_t at = 0; at + 300 < size; at += 250) {
    ranges.push_back({at, std::min<uint64_t>(250, size - 300 - at)});
  }
  return ranges;
}

TEST(ReadAhead, AnObjectNoBiggerThanTheWindowIsReadOnce) {
  FaultInjectionEnv env;
  auto counting = std::make_shared<CountingStore>(&env);
  const std::string data = Bytes(20000);
  ASSERT_TRUE(counting->Put("seg/1.seg", data).ok());
  auto store = ReadAhead(counting, 1 << 20);
  auto reader = store->Open("seg/1.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const auto ranges = SegmentLikeRanges(data.size());
  ASSERT_GT(ranges.size(), 20u);
  std::string out;
  for (const auto& [offset, length] : ranges) {
    ASSERT_TRUE((*reader)->ReadRange(offset, length, &out).ok());
    EXPECT_EQ(out, data.substr(offset, length)) << offset;
  }
  EXPECT_EQ(counting->reads.load(), 1);
}

TEST(ReadAhead, ABiggerObjectIsReadAWindowAtATime) {
  FaultInjectionEnv env;
  auto counting = std::make_shared<CountingStore>(&env);
  const std::string data = Bytes(100000);
  ASSERT_TRUE(counting->Put("seg/2.seg", data).ok());
  auto store = ReadAhead(counting, 10000);
  auto reader = store->Open("seg/2.seg");
  ASSERT_TRUE(reader.ok());
  std::string out;
  for (const auto& [offset, length] : SegmentLikeRanges(data.size())) {
    ASSERT_TRUE((*reader)->ReadRange(offset, length, &out).ok());
    EXPECT_EQ(out, data.substr(offset, length)) << offset;
  }
  // The end (one window), then ten windows from the start, plus ranges straddling a window's end.
  EXPECT_LE(counting->reads.load(), 1 + 2 * 10);
  EXPECT_GE(counting->reads.load(), 11);

  // A range longer than the window is read as asked; one outside the object fails as the store's.
  counting->reads = 0;
  ASSERT_TRUE((*reader)->ReadRange(5, 30000, &out).ok());
  EXPECT_EQ(out, data.substr(5, 30000));
  EXPECT_EQ(counting->reads.load(), 1);
  Status past = (*reader)->ReadRange(99990, 11, &out);
  EXPECT_EQ(past.code(), StatusCode::kInvalidArgument) << past.ToString();
}

}  // namespace
}  // namespace sawmill::objstore
