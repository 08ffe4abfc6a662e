// The cold read cache on real files: bounded by its capacity (least recently used ranges go
// first), kept across restarts, and never serving a torn or damaged file. The remote store here
// is a local directory store (the cache does not care what is behind it); s3_store_test.cc runs
// it in front of the S3 store on a real S3 API.
#include "objstore/cold_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "objstore/forwarding_store.h"
#include "objstore/local_directory_store.h"

namespace sawmill::objstore {
namespace {

class ColdCacheTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("sawmill_cold_cache_" + std::to_string(::getpid()) + "_" +
             testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    remote_ = std::make_shared<LocalDirectoryStore>(Env::Default(), (root_ / "remote").string());
    for (int i = 0; i < 4; ++i) {
      std::string data(1 << 20, static_cast<char>('a' + i));
      for (size_t j = 0; j < data.size(); j += 4096) data[j] = static_cast<char>(j >> 12);
      objects_.push_back(data);
      ASSERT_TRUE(remote_->Put("t/" + std::to_string(i) + ".seg", data).ok());
    }
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::shared_ptr<CachingObjectStore> Store(uint64_t capacity) {
    auto cache = ColdCache::Open(Env::Default(), cache_dir(), capacity);
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    return std::make_shared<CachingObjectStore>(remote_, std::move(*cache));
  }
  std::string cache_dir() const { return (root_ / "cache").string(); }
  std::vector<std::filesystem::path> CacheFiles() const {
    std::vector<std::filesystem::path> files;
    for (const auto& f : std::filesystem::directory_iterator(cache_dir())) files.push_back(f);
    return files;
  }
  // Reads [offset, offset + length) of object "i" through an opened reader.
  std::string Read(CachingObjectStore& store, int i, uint64_t offset, uint64_t length) {
    auto reader = store.Open("t/" + std::to_string(i) + ".seg");
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    std::string out;
    Status s = (*reader)->ReadRange(offset, length, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::filesystem::path root_;
  std::shared_ptr<LocalDirectoryStore> remote_;
  std::vector<std::string> objects_;
};

// A remote store that records the deadline each Put was given (the S3 store honours it).
class DeadlineRecordingStore final : public ForwardingObjectStore {
 public:
  using ForwardingObjectStore::ForwardingObjectStore;
  Status Put(std::string_view name, std::string_view data) override {
    budgets.push_back(0);
    return target()->Put(name, data);
  }
  Status PutWithin(std::string_view name, std::string_view data, int64_t budget_ns) override {
    budgets.push_back(budget_ns);
    return target()->Put(name, data);
  }

  std::vector<int64_t> budgets;
};

TEST_F(ColdCacheTest, APutWithinReachesTheRemoteStoreWithItsDeadline) {
  auto cache = ColdCache::Open(Env::Default(), cache_dir(), 16 << 20);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  auto remote = std::make_shared<DeadlineRecordingStore>(remote_);
  CachingObjectStore store(remote, std::move(*cache));
  ASSERT_TRUE(store.PutWithin("t/9.seg", "nine", 2'000'000'000).ok());
  ASSERT_TRUE(store.Put("t/10.seg", "ten").ok());
  EXPECT_EQ(remote->budgets, (std::vector<int64_t>{2'000'000'000, 0}));
  EXPECT_EQ(Read(store, 9, 0, 4), "nine");
}

TEST_F(ColdCacheTest, ASecondReadIsServedFromTheCacheAndCountedPerQuery) {
  auto store = Store(16 << 20);
  ColdReadTally first;
  {
    ScopedColdReadTally scope(&first);
    EXPECT_EQ(Read(*store, 0, 1000, 5000), objects_[0].substr(1000, 5000));
    EXPECT_EQ(Read(*store, 0, (1 << 20) - 100, 100), objects_[0].substr((1 << 20) - 100));
  }
  EXPECT_EQ(first.bytes_fetched.load(), 5100u);
  EXPECT_EQ(first.fetches.load(), 2u);
  EXPECT_EQ(first.bytes_from_cache.load(), 0u);

  ColdReadTally second;
  {
    ScopedColdReadTally scope(&second);
    EXPECT_EQ(Read(*store, 0, 1000, 5000), objects_[0].substr(1000, 5000));
    // A range inside a cached one is a hit too.
    EXPECT_EQ(Read(*store, 0, 2000, 10), objects_[0].substr(2000, 10));
    EXPECT_EQ(Read(*store, 0, (1 << 20) - 100, 100), objects_[0].substr((1 << 20) - 100));
  }
  EXPECT_EQ(second.bytes_fetched.load(), 0u);
  EXPECT_EQ(second.cache_hits.load(), 3u);
  EXPECT_EQ(second.bytes_from_cache.load(), 5110u);
  EXPECT_EQ(store->cache()->stats().hits, 3u);
  // The cache answers even when the remote object is gone: nothing was read from it.
  std::filesystem::remove(root_ / "remote" / "t" / "0.seg");
  EXPECT_EQ(Read(*store, 0, 1000, 5000), objects_[0].substr(1000, 5000));
  // Deleting through the store drops its ranges.
  ASSERT_TRUE(remote_->Put("t/0.seg", "x").ok());
  ASSERT_TRUE(store->Delete("t/0.seg").ok());
  EXPECT_EQ(store->cache()->stats().entries, 0u);
  EXPECT_TRUE(CacheFiles().empty());
}

TEST_F(ColdCacheTest, StaysWithinItsCapacityEvictingTheLeastRecentlyUsed) {
  auto store = Store(1 << 20);                                // ranges of up to 256 KiB are cached
  for (int i = 0; i < 4; ++i) Read(*store, i, 0, 200 << 10);  // 800 KiB
  Read(*store, 0, 0, 10);                                     // object 0 used again
  Read(*store, 0, 500 << 10, 200 << 10);                      // 1000 KiB: no room for more
  EXPECT_LE(store->cache()->stats().bytes, 1u << 20);
  EXPECT_EQ(store->cache()->stats().evictions, 0u);
  Read(*store, 2, 400 << 10, 200 << 10);  // evicts object 1's range, the least recently used
  auto stats = store->cache()->stats();
  EXPECT_LE(stats.bytes, 1u << 20);
  EXPECT_EQ(stats.evictions, 1u);
  ColdReadTally tally;
  ScopedColdReadTally scope(&tally);
  Read(*store, 0, 0, 200 << 10);
  Read(*store, 3, 0, 200 << 10);
  EXPECT_EQ(tally.bytes_fetched.load(), 0u);
  Read(*store, 1, 0, 200 << 10);
  EXPECT_EQ(tally.bytes_fetched.load(), 200u << 10);
  uint64_t on_disk = 0;
  for (const auto& f : CacheFiles()) on_disk += std::filesystem::file_size(f);
  EXPECT_LE(on_disk, (1u << 20) + 5 * 100);  // the ranges and their small headers
  // A range larger than a quarter of the capacity is read, not cached.
  EXPECT_EQ(Read(*store, 2, 0, 300 << 10), objects_[2].substr(0, 300 << 10));
  EXPECT_LE(store->cache()->stats().bytes, 1u << 20);
}

TEST_F(ColdCacheTest, ItsRangesSurviveARestart) {
  {
    auto store = Store(16 << 20);
    Read(*store, 1, 4096, 8192);
    Read(*store, 2, 0, 100);
  }
  auto store = Store(16 << 20);
  EXPECT_EQ(store->cache()->stats().entries, 2u);
  ColdReadTally tally;
  ScopedColdReadTally scope(&tally);
  EXPECT_EQ(Read(*store, 1, 4096, 8192), objects_[1].substr(4096, 8192));
  EXPECT_EQ(Read(*store, 2, 0, 100), objects_[2].substr(0, 100));
  EXPECT_EQ(tally.bytes_fetched.load(), 0u);
  EXPECT_EQ(store->Size("t/1.seg").value_or(0), 1u << 20);
}

TEST_F(ColdCacheTest, ATornOrDamagedCacheFileIsNeverServed) {
  {
    auto store = Store(16 << 20);
    Read(*store, 1, 0, 50000);
    Read(*store, 2, 0, 50000);
    Read(*store, 3, 0, 50000);
  }
  auto files = CacheFiles();
  ASSERT_EQ(files.size(), 3u);
  std::sort(files.begin(), files.end());
  // A crash while a file was written: it is shorter than its header says.
  std::filesystem::resize_file(files[0], std::filesystem::file_size(files[0]) - 1000);
  // A temporary file a crash left behind.
  std::ofstream(files[0].string() + ".7.tmp") << "partial";
  auto store = Store(16 << 20);
  EXPECT_EQ(store->cache()->stats().entries, 2u);
  EXPECT_EQ(store->cache()->stats().damaged, 1u);
  EXPECT_EQ(CacheFiles().size(), 2u);  // the torn and the temporary file are gone

  // Damage found at read time (a flipped byte in the cached bytes): not served, refetched.
  for (const auto& f : CacheFiles()) {
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(-10, std::ios::end);
    io.put('!');
  }
  ColdReadTally tally;
  ScopedColdReadTally scope(&tally);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(Read(*store, i, 0, 50000), objects_[i].substr(0, 50000)) << i;
  }
  EXPECT_EQ(tally.bytes_fetched.load(), 3u * 50000);
  EXPECT_EQ(store->cache()->stats().damaged, 3u);
  // Cached again, whole.
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(Read(*store, i, 0, 50000), objects_[i].substr(0, 50000));
  EXPECT_EQ(tally.bytes_fetched.load(), 3u * 50000);
}

TEST_F(ColdCacheTest, RangeErrorsAndMissingObjectsAreTheRemoteStoresAnswers) {
  auto store = Store(16 << 20);
  std::string out;
  Status s = store->GetRange("t/1.seg", (1 << 20) - 1, 2, &out);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("past the end"), std::string::npos);
  EXPECT_TRUE(store->Open("t/9.seg").status().IsNotFound());
  EXPECT_TRUE(store->GetRange("t/9.seg", 0, 1, &out).IsNotFound());
  EXPECT_TRUE(store->Put("../x", "y").IsInvalidArgument());
  ASSERT_TRUE(store->GetRange("t/1.seg", 10, 20, &out).ok());
  EXPECT_EQ(out, objects_[1].substr(10, 20));
}

}  // namespace
}  // namespace sawmill::objstore
