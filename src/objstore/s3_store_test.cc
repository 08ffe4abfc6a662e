// The S3 store against a real S3 API (OpenStack Swift's s3api on loopback, started by the ctest
// fixture s3_store): the whole ObjectStore contract, multipart uploads, and the failures a user
// meets: a store answering 503 for a while, a connection lost mid-upload, an answer that never
// comes, wrong credentials, a store that is down.
#include "objstore/s3_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "objstore/cold_cache.h"
#include "objstore/local_directory_store.h"
#include "objstore/object_store_contract.h"
#include "objstore/s3_test_server.h"

namespace sawmill::objstore {
namespace {

using testing_s3::FaultProxy;
using testing_s3::FixtureOptions;
using testing_s3::UniquePrefix;

constexpr char kBucket[] = "sawmill-test";

// Options for a store under a fresh prefix, with short retry times so failure tests are quick.
S3Options TestOptions(const std::string& name) {
  auto options = FixtureOptions(kBucket, UniquePrefix(name));
  EXPECT_TRUE(options.ok()) << options.status().ToString();
  S3Options o = options.value_or(S3Options{});
  o.retry_budget_ms = 4000;
  o.initial_backoff_ms = 20;
  o.max_backoff_ms = 300;
  o.stall_timeout_ms = 1000;
  o.request_timeout_ms = 30000;
  return o;
}

// TestOptions with parts of S3's least size, 5 MiB: an object above it goes up in parts.
S3Options MultipartTestOptions(const std::string& name) {
  S3Options o = TestOptions(name);
  o.part_size = 5 << 20;
  o.multipart_threshold = 5 << 20;
  return o;
}

// "o" as the WAL's store has it (http/cluster_mode.cc), with the default backoff: without a
// deadline a 503 storm ends by the budget after 1.55-3.1 s (waits of 50-100, 100-200, ... ms).
S3Options WalStoreOptions(S3Options o) {
  o.retry_budget_ms = 3000;
  o.request_timeout_ms = 10000;
  o.stall_timeout_ms = 5000;
  o.initial_backoff_ms = S3Options{}.initial_backoff_ms;
  o.max_backoff_ms = S3Options{}.max_backoff_ms;
  o.max_attempts = S3Options{}.max_attempts;
  return o;
}

std::unique_ptr<S3Store> MakeStore(S3Options options) {
  auto store = S3Store::Create(std::move(options));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return nullptr;
  Status s = (*store)->CreateBucket();
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(*store);
}

int PortOf(const std::string& endpoint) {
  return std::atoi(endpoint.substr(endpoint.rfind(':') + 1).c_str());
}

// A store under options "o" seen two ways: "direct" (what is really in the bucket) and "store",
// through a fault proxy in front of the fixture (what a user's network and a loaded store do to
// requests). Either is null when it could not be made (the test failed already).
struct ProxiedStores {
  explicit ProxiedStores(S3Options o) : direct(MakeStore(o)), proxy(PortOf(o.endpoint)) {
    o.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
    store = MakeStore(std::move(o));
  }
  std::unique_ptr<S3Store> direct;
  FaultProxy proxy;
  std::unique_ptr<S3Store> store;
};

// A directory removed with its holder.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             (name + "_" + std::to_string(::getpid()) + "_" + UniquePrefix("d"))) {
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::unique_ptr<CachingObjectStore> CachedStore(std::shared_ptr<ObjectStore> s3,
                                                const std::string& dir, uint64_t capacity) {
  auto cache = ColdCache::Open(Env::Default(), dir, capacity);
  EXPECT_TRUE(cache.ok()) << cache.status().ToString();
  return std::make_unique<CachingObjectStore>(std::move(s3), std::move(*cache));
}

const StoreKind kS3Stores[] = {
    {"S3OnSwift",
     [] {
       StoreFixture f;
       f.store = MakeStore(TestOptions("contract"));
       return f;
     },
     /*readers_outlive_delete=*/false, /*concurrent_overwrite_may_hide=*/true},
    // What the server uses: the S3 store behind the cold read cache.
    {"S3ThroughColdCache",
     [] {
       StoreFixture f;
       auto dir = std::make_shared<TempDir>("sawmill_cold_cache_contract");
       f.store = CachedStore(MakeStore(TestOptions("cached")), dir->path.string(), 64 << 20);
       f.keepalive = dir;
       return f;
     },
     /*readers_outlive_delete=*/false, /*concurrent_overwrite_may_hide=*/true},
};

INSTANTIATE_TEST_SUITE_P(S3, ObjectStoreContract, testing::ValuesIn(kS3Stores),
                         [](const auto& info) { return std::string(info.param.name); });

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

TEST(S3Store, TheFixtureIsARealS3Api) {
  // Without the fixture every test here would fail anyway; this says why in one line.
  auto options = FixtureOptions(kBucket, "x");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  auto store = MakeStore(*options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->CheckAccess().ok());
}

TEST(S3Store, ALargeObjectGoesUpInPartsAndReadsBackByRanges) {
  S3Options o = MultipartTestOptions("multipart");
  auto store = MakeStore(o);
  ASSERT_NE(store, nullptr);
  const std::string data = Pattern((12 << 20) + 12345, 7);  // 3 parts, the last one short
  ASSERT_TRUE(store->Put("cold/acme/1.seg", data).ok());
  EXPECT_EQ(store->stats().multipart_uploads, 1u);
  EXPECT_EQ(store->stats().bytes_uploaded, data.size());
  EXPECT_EQ(store->Size("cold/acme/1.seg").value_or(0), data.size());
  auto reader = store->Open("cold/acme/1.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::string got;
  // Across the boundary of parts 1 and 2, and the object's last bytes.
  ASSERT_TRUE((*reader)->ReadRange((5 << 20) - 100, 200, &got).ok());
  EXPECT_EQ(got, data.substr((5 << 20) - 100, 200));
  ASSERT_TRUE((*reader)->ReadRange(data.size() - 10, 10, &got).ok());
  EXPECT_EQ(got, data.substr(data.size() - 10));
  ASSERT_TRUE(store->GetRange("cold/acme/1.seg", 0, data.size(), &got).ok());
  EXPECT_TRUE(got == data);
  EXPECT_TRUE(store->ListUploadsInProgress().value_or({"error"}).empty());
}

// What the tier mover does with a warm segment going cold: CopyObject from the data directory's
// store, 1 MiB at a time, into the cold store's writer. The S3 writer streams it as a multipart
// upload holding one part at a time, never the whole segment.
TEST(S3Store, AWriterStreamsASegmentOfSeveralPartsHoldingAtMostOnePart) {
  S3Options o = MultipartTestOptions("stream");
  std::shared_ptr<S3Store> store = MakeStore(o);
  ASSERT_NE(store, nullptr);
  TempDir dir("sawmill_s3_stream");
  LocalDirectoryStore local(Env::Default(), dir.path.string());
  const std::string segment = Pattern((16 << 20) + 4321, 21);  // 4 parts, the last one short
  ASSERT_TRUE(local.Put("segments/warm/acme/0/9.seg", segment).ok());

  auto copied = CopyObject(&local, "segments/warm/acme/0/9.seg", store.get(), "acme/9.seg");
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(*copied, segment.size());
  S3Store::Stats stats = store->stats();
  EXPECT_EQ(stats.multipart_uploads, 1u);
  EXPECT_EQ(stats.bytes_uploaded, segment.size());
  EXPECT_GT(stats.peak_upload_buffer_bytes, 0u);
  EXPECT_LE(stats.peak_upload_buffer_bytes, o.part_size) << "the writer held more than one part";
  std::string got;
  ASSERT_TRUE(store->GetRange("acme/9.seg", 0, segment.size(), &got).ok());
  EXPECT_TRUE(got == segment) << "the object read back differs from the segment";
  EXPECT_TRUE(store->ListUploadsInProgress().value_or({"error"}).empty());

  // The server's path: the writer of the cold cache's store is the S3 writer.
  auto cached = CachedStore(store, (dir.path / "cache").string(), 64 << 20);
  ASSERT_TRUE(CopyObject(&local, "segments/warm/acme/0/9.seg", cached.get(), "acme/10.seg").ok());
  EXPECT_EQ(store->stats().multipart_uploads, 2u);
  EXPECT_LE(store->stats().peak_upload_buffer_bytes, o.part_size);
  ASSERT_TRUE(store->GetRange("acme/10.seg", 0, segment.size(), &got).ok());
  EXPECT_TRUE(got == segment);

  // Up to one part: one PUT, no multipart upload; a part exactly full too.
  for (size_t size : {size_t{0}, size_t{1000}, size_t{5} << 20}) {
    const std::string small = Pattern(size, 3);
    auto writer = store->NewWriter("acme/small.seg");
    ASSERT_TRUE(writer.ok());
    for (size_t at = 0; at < small.size(); at += 300000) {
      ASSERT_TRUE((*writer)->Append(std::string_view(small).substr(at, 300000)).ok());
    }
    ASSERT_TRUE((*writer)->Commit().ok());
    EXPECT_EQ(store->stats().multipart_uploads, 2u) << size;
    ASSERT_TRUE(store->GetRange("acme/small.seg", 0, small.size(), &got).ok());
    EXPECT_TRUE(got == small) << size;
  }
  EXPECT_LE(store->stats().peak_upload_buffer_bytes, o.part_size);
}

TEST(S3Store, AConnectionLostMidStreamLeavesNoObjectAndTheUploadIsAbortedOrReconciled) {
  S3Options o = MultipartTestOptions("streamcut");
  o.incomplete_grace_ms = 0;
  ProxiedStores stores(o);
  auto& [direct, proxy, store] = stores;
  ASSERT_TRUE(direct != nullptr && store != nullptr);
  const std::string data = Pattern(12 << 20, 8);
  const std::string_view first(data.data(), (6 << 20) + 17);  // part 1 goes up, part 2 begun
  const std::string_view rest = std::string_view(data).substr(first.size());

  // One connection cut in the middle of part 1: the part is sent again, the object is whole.
  {
    auto writer = store->NewWriter("cold/acme/1.seg");
    ASSERT_TRUE(writer.ok());
    proxy.cut_after_bytes = 2 << 20;
    proxy.cut_connections = 1;
    proxy.DropConnections();
    ASSERT_TRUE((*writer)->Append(first).ok());
    ASSERT_TRUE((*writer)->Append(rest).ok());
    ASSERT_TRUE((*writer)->Commit().ok());
    proxy.cut_after_bytes = -1;
    EXPECT_GE(store->stats().retries, 1u);
    std::string got;
    ASSERT_TRUE(direct->GetRange("cold/acme/1.seg", 0, data.size(), &got).ok());
    EXPECT_TRUE(got == data);
  }

  // Part 1 arrived, then every connection is lost after 3 MiB: part 2 never arrives. The upload
  // is aborted (the abort is a small request that gets through): no object, no upload left.
  {
    auto writer = store->NewWriter("cold/acme/2.seg");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(first).ok());
    proxy.cut_after_bytes = 3 << 20;
    proxy.cut_connections = -1;
    proxy.DropConnections();
    Status s = (*writer)->Append(rest);
    if (s.ok()) s = (*writer)->Commit();
    proxy.cut_after_bytes = -1;
    EXPECT_TRUE((s.code() == StatusCode::kIOError)) << s.ToString();
    EXPECT_NE(s.message().find("cold/acme/2.seg: part 2 (bytes 5242880-"), std::string::npos)
        << s.message();
    EXPECT_EQ(store->stats().multipart_aborts, 1u);
    EXPECT_TRUE(direct->Size("cold/acme/2.seg").status().IsNotFound());
    auto uploads = direct->ListUploadsInProgress();
    ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
    EXPECT_TRUE(uploads->empty()) << (*uploads)[0];
  }

  // The store goes away after part 1 (every request answered 503, the abort too): the upload
  // stays behind, invisible; the sweep's reconciliation (ListIncomplete, DeleteIncomplete)
  // finds and aborts it once the store is back.
  {
    auto writer = store->NewWriter("cold/acme/3.seg");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(first).ok());
    proxy.fail_503 = 1000000;
    proxy.DropConnections();
    Status s = (*writer)->Append(rest);
    if (s.ok()) s = (*writer)->Commit();
    EXPECT_TRUE((s.code() == StatusCode::kIOError)) << s.ToString();
    writer->reset();
    proxy.fail_503 = 0;
    proxy.DropConnections();
    EXPECT_TRUE(direct->Size("cold/acme/3.seg").status().IsNotFound());
    EXPECT_EQ(direct->List("").value_or({}), std::vector<std::string>{"cold/acme/1.seg"});
    EXPECT_EQ(direct->ListUploadsInProgress().value_or({}).size(), 1u);
    // Swift states an upload's start rounded up to the next second: wait until it is listed.
    std::vector<std::string> incomplete;
    for (int i = 0; i < 50 && incomplete.empty(); ++i) {
      incomplete = direct->ListIncomplete("").value_or({});
      if (incomplete.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(incomplete.size(), 1u);
    EXPECT_EQ(incomplete[0].rfind("cold/acme/3.seg?uploadId=", 0), 0u) << incomplete[0];
    ASSERT_TRUE(direct->DeleteIncomplete(incomplete[0]).ok());
    EXPECT_TRUE(direct->ListUploadsInProgress().value_or({"error"}).empty());
    EXPECT_TRUE(direct->Size("cold/acme/3.seg").status().IsNotFound());
  }

  // A writer dropped before its Commit (the mover failed elsewhere): its upload is aborted.
  {
    auto writer = store->NewWriter("cold/acme/4.seg");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(first).ok());
    const uint64_t aborts = store->stats().multipart_aborts;
    writer->reset();
    EXPECT_EQ(store->stats().multipart_aborts, aborts + 1);
    EXPECT_TRUE(direct->ListUploadsInProgress().value_or({"error"}).empty());
    EXPECT_TRUE(direct->Size("cold/acme/4.seg").status().IsNotFound());
  }
}

// An upload that completes but whose stored object is not what was sent (the store kept another
// size or ETag) fails, and the object is deleted: the segment stays local and goes up again
// later, and nothing is left in the bucket that no segment names and no sweep would find. The
// store really keeps a short object here: completing leaves out the last part.
TEST(S3Store, ACompletedUploadThatFailsTheCheckIsDeletedNotLeftInTheBucket) {
  S3Options o = MultipartTestOptions("badcomplete");
  auto store = MakeStore(o);
  ASSERT_NE(store, nullptr);
  const std::string data = Pattern((12 << 20) + 777, 9);  // 3 parts, the last one short
  store->DropLastPartOnCompleteForTesting(true);

  // Put (data in memory).
  Status s = store->Put("cold/acme/1.seg", data);
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("cold/acme/1.seg: the stored object has 10485760 bytes"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(store->stats().bad_objects_deleted, 1u);
  EXPECT_EQ(store->stats().bad_objects_left, 0u);
  EXPECT_EQ(store->stats().bytes_uploaded, 0u);
  EXPECT_TRUE(store->Size("cold/acme/1.seg").status().IsNotFound());

  // The tier mover's streaming writer.
  auto writer = store->NewWriter("cold/acme/2.seg");
  ASSERT_TRUE(writer.ok());
  for (size_t at = 0; at < data.size(); at += 1 << 20) {
    ASSERT_TRUE((*writer)->Append(std::string_view(data).substr(at, 1 << 20)).ok());
  }
  s = (*writer)->Commit();
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("cold/acme/2.seg: the stored object has 10485760 bytes"),
            std::string::npos)
      << s.message();
  writer->reset();
  EXPECT_EQ(store->stats().bad_objects_deleted, 2u);
  EXPECT_TRUE(store->Size("cold/acme/2.seg").status().IsNotFound());

  // Nothing left: no object, no upload.
  EXPECT_EQ(store->List("").value_or({"error"}), std::vector<std::string>{});
  EXPECT_TRUE(store->ListUploadsInProgress().value_or({"error"}).empty());

  // The next attempt (the store keeps what it is sent again) puts the whole object.
  store->DropLastPartOnCompleteForTesting(false);
  ASSERT_TRUE(store->Put("cold/acme/1.seg", data).ok());
  std::string got;
  ASSERT_TRUE(store->GetRange("cold/acme/1.seg", 0, data.size(), &got).ok());
  EXPECT_TRUE(got == data);
  EXPECT_EQ(store->stats().bad_objects_deleted, 2u);
}

TEST(S3Store, ASecondQueryOverColdDataReadsNothingFromS3) {
  S3Options o = TestOptions("cache");
  std::shared_ptr<S3Store> s3 = MakeStore(o);
  ASSERT_NE(s3, nullptr);
  const std::string segment = Pattern(3 << 20, 11);
  ASSERT_TRUE(s3->Put("acme/17.seg", segment).ok());
  TempDir dir("sawmill_cold_cache");
  // What a query over a cold segment reads: the footer at the end, then some blocks.
  const std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {segment.size() - 4096, 4096}, {0, 64 << 10}, {1 << 20, 200 << 10}, {(2 << 20) + 5, 1000}};
  auto query = [&](CachingObjectStore& store, ColdReadTally* tally) {
    ScopedColdReadTally scope(tally);
    auto reader = store.Open("acme/17.seg");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    for (auto [offset, length] : ranges) {
      std::string got;
      ASSERT_TRUE((*reader)->ReadRange(offset, length, &got).ok());
      EXPECT_TRUE(got == segment.substr(offset, length)) << offset;
    }
  };
  {
    auto store = CachedStore(s3, dir.path.string(), 64 << 20);
    ColdReadTally first, second;
    const uint64_t before = s3->stats().requests;
    query(*store, &first);
    EXPECT_EQ(s3->stats().requests - before, 1u + ranges.size());  // HEAD, then one GET a range
    EXPECT_EQ(first.bytes_fetched.load(), 4096u + (64 << 10) + (200 << 10) + 1000);
    const uint64_t after_first = s3->stats().requests;
    query(*store, &second);
    EXPECT_EQ(s3->stats().requests, after_first) << "the second query sent requests to S3";
    EXPECT_EQ(second.bytes_fetched.load(), 0u);
    EXPECT_EQ(second.bytes_from_cache.load(), first.bytes_fetched.load());
  }
  // After a restart too: the cache is on disk.
  auto store = CachedStore(s3, dir.path.string(), 64 << 20);
  const uint64_t before = s3->stats().requests;
  ColdReadTally third;
  query(*store, &third);
  EXPECT_EQ(s3->stats().requests, before);
  EXPECT_EQ(third.bytes_fetched.load(), 0u);
}

TEST(S3Store, WrongCredentialsAreAClearErrorAndNotRetried) {
  S3Options o = TestOptions("creds");
  auto good = MakeStore(o);
  ASSERT_NE(good, nullptr);
  o.secret_key = "not-the-secret";
  auto store = S3Store::Create(o);
  ASSERT_TRUE(store.ok());
  Status s = (*store)->Put("cold/acme/1.seg", "bytes");
  EXPECT_TRUE((s.code() == StatusCode::kFailedPrecondition)) << s.ToString();
  EXPECT_NE(s.message().find("s3://sawmill-test/" + o.prefix + "/cold/acme/1.seg"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("HTTP 403 SignatureDoesNotMatch"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("secret key"), std::string::npos) << s.message();
  EXPECT_EQ((*store)->stats().retries, 0u);
  Status check = (*store)->CheckAccess();
  EXPECT_NE(check.message().find("403"), std::string::npos) << check.ToString();
  EXPECT_TRUE(good->List("").value_or({"error"}).empty());

  o.access_key = "nobody:nobody";
  auto stranger = S3Store::Create(o);
  ASSERT_TRUE(stranger.ok());
  s = (*stranger)->Size("cold/acme/1.seg").status();
  EXPECT_TRUE((s.code() == StatusCode::kFailedPrecondition)) << s.ToString();
  EXPECT_NE(s.message().find("403"), std::string::npos) << s.message();
}

TEST(S3Store, AStoreAnswering503ForAWhileIsRetriedWithBackoff) {
  S3Options o = TestOptions("503");
  ProxiedStores stores(o);
  auto& [direct, proxy, store] = stores;
  ASSERT_TRUE(direct != nullptr && store != nullptr);

  proxy.fail_503 = 3;
  proxy.DropConnections();
  ASSERT_TRUE(store->Put("cold/acme/1.seg", "survives a 503 storm").ok());
  EXPECT_EQ(proxy.fail_503.load(), 0);
  EXPECT_GE(store->stats().retries, 3u);
  std::string got;
  proxy.fail_503 = 2;
  proxy.DropConnections();
  ASSERT_TRUE(store->GetRange("cold/acme/1.seg", 0, 7, &got).ok());
  EXPECT_EQ(got, "survive");
  EXPECT_EQ(direct->List("").value_or({}), std::vector<std::string>{"cold/acme/1.seg"});

  // A store that keeps failing: an IOError naming the object and the answer, within the budget.
  proxy.fail_503 = 1000;
  proxy.DropConnections();
  auto start = std::chrono::steady_clock::now();
  Status s = store->Put("cold/acme/2.seg", "never stored");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE((s.code() == StatusCode::kIOError)) << s.ToString();
  EXPECT_NE(s.message().find("cold/acme/2.seg"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("HTTP 503 ServiceUnavailable"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("gave up after"), std::string::npos) << s.message();
  EXPECT_LT(seconds, o.retry_budget_ms / 1000.0 + 5);
  proxy.fail_503 = 0;
  EXPECT_TRUE(direct->Size("cold/acme/2.seg").status().IsNotFound());
}

TEST(S3Store, AConnectionLostMidUploadIsRetriedOrAbortedLeavingNoObject) {
  S3Options o = MultipartTestOptions("cut");
  ProxiedStores stores(o);
  auto& [direct, proxy, store] = stores;
  ASSERT_TRUE(direct != nullptr && store != nullptr);
  const std::string data = Pattern(11 << 20, 3);

  // One connection lost in the middle of a part: that part is sent again, the object is whole.
  proxy.cut_after_bytes = 2 << 20;
  proxy.cut_connections = 1;
  proxy.DropConnections();
  ASSERT_TRUE(store->Put("cold/acme/1.seg", data).ok());
  EXPECT_EQ(proxy.cut_connections.load(), 0);
  EXPECT_GE(store->stats().retries, 1u);
  std::string got;
  ASSERT_TRUE(direct->GetRange("cold/acme/1.seg", 0, data.size(), &got).ok());
  EXPECT_TRUE(got == data);

  // Every connection lost after 3 MiB: the upload starts, but no 5 MiB part can ever arrive. The
  // upload is aborted, and neither an object nor an unfinished upload is left (S3 would keep,
  // and bill, its parts forever).
  proxy.cut_after_bytes = 3 << 20;
  proxy.cut_connections = -1;
  proxy.DropConnections();
  Status s = store->Put("cold/acme/2.seg", data);
  proxy.cut_after_bytes = -1;
  EXPECT_TRUE((s.code() == StatusCode::kIOError)) << s.ToString();
  EXPECT_NE(s.message().find("cold/acme/2.seg: part 1 (bytes 0-5242880)"), std::string::npos)
      << s.message();
  EXPECT_EQ(store->stats().multipart_aborts, 1u);
  EXPECT_EQ(direct->List("").value_or({}), std::vector<std::string>{"cold/acme/1.seg"});
  EXPECT_TRUE(direct->Size("cold/acme/2.seg").status().IsNotFound());
  auto uploads = direct->ListUploadsInProgress();
  ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
  EXPECT_TRUE(uploads->empty()) << (*uploads)[0];

  // A single-request Put cut short is retried whole.
  proxy.cut_after_bytes = 1000;
  proxy.cut_connections = 2;
  proxy.DropConnections();
  const std::string small = Pattern(200000, 5);
  ASSERT_TRUE(store->Put("cold/acme/3.seg", small).ok());
  ASSERT_TRUE(direct->GetRange("cold/acme/3.seg", 0, small.size(), &got).ok());
  EXPECT_TRUE(got == small);
}

TEST(S3Store, AnAnswerThatNeverComesTimesOutAndIsRetried) {
  S3Options o = TestOptions("stall");
  ProxiedStores stores(o);
  auto& [direct, proxy, store] = stores;
  ASSERT_TRUE(direct != nullptr && store != nullptr);
  ASSERT_TRUE(direct->Put("cold/acme/1.seg", "slow store").ok());
  proxy.stall = 1;
  proxy.DropConnections();
  std::string got;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(store->GetRange("cold/acme/1.seg", 5, 5, &got).ok());
  EXPECT_EQ(got, "store");
  EXPECT_EQ(store->stats().retries, 1u);
  // Cut by the stall timeout (1 s here), not the much longer request timeout.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10);
}

// The WAL writer's Put (PutWithin): its requests stop at the caller's deadline, not at the
// client's own retry budget (3 s for WAL objects: a writer's 10 s deadline used to be overshot
// by up to 3 s), nor at the stall timeout of an attempt that never gets an answer.
TEST(S3Store, APutWithinADeadlineEndsByItUnderAStoreThatFailsOrNeverAnswers) {
  const S3Options o = WalStoreOptions(TestOptions("deadline"));
  ProxiedStores stores(o);
  auto& [direct, proxy, store] = stores;
  ASSERT_TRUE(direct != nullptr && store != nullptr);
  constexpr int64_t kBudgetNs = 500'000'000;
  constexpr double kMarginSeconds = 0.75;
  auto timed = [&](const char* name) {
    const auto start = std::chrono::steady_clock::now();
    const Status s = store->PutWithin(name, "never stored", kBudgetNs);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE((s.code() == StatusCode::kIOError)) << s.ToString();
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
    std::printf("%s: %s after %.3f s\n", name, s.ToString().c_str(), seconds);
    return seconds;
  };
  // Every attempt answered 503: retried until the deadline (before: the 3 s budget).
  proxy.fail_503 = 1000000;
  proxy.DropConnections();
  double seconds = timed("wal/n1/1.wal");
  EXPECT_LT(seconds, kBudgetNs / 1e9 + kMarginSeconds) << "503 SlowDown for every attempt";
  EXPECT_GE(store->stats().retries, 1u);
  // Every attempt unanswered: cut at the deadline (before: at the 5 s stall timeout, then again).
  proxy.fail_503 = 0;
  proxy.stall = 1000000;
  proxy.DropConnections();
  seconds = timed("wal/n1/2.wal");
  EXPECT_LT(seconds, kBudgetNs / 1e9 + kMarginSeconds) << "a store that never answers";
  proxy.stall = 0;
  proxy.DropConnections();
  EXPECT_TRUE(direct->Size("wal/n1/1.wal").status().IsNotFound());
  EXPECT_TRUE(direct->Size("wal/n1/2.wal").status().IsNotFound());
  // A store that answers: PutWithin stores as Put does.
  ASSERT_TRUE(store->PutWithin("wal/n1/3.wal", "stored", kBudgetNs).ok());
  std::string got;
  ASSERT_TRUE(direct->GetRange("wal/n1/3.wal", 0, 6, &got).ok());
  EXPECT_EQ(got, "stored");
}

// A PutWithin of a multipart upload that fails by the deadline still aborts the upload, but the
// abort is bounded too (S3Options::abort_within_ms past the deadline): before, it ran without
// the deadline, so an abort the store never answered held the caller for a whole stall timeout
// and retry budget (here 5 s; with the defaults up to 30 s + 60 s) after its deadline.
TEST(S3Store, AFailedMultipartPutWithinIsAbortedByABoundPastItsDeadline) {
  S3Options o = WalStoreOptions(MultipartTestOptions("abortbound"));
  o.abort_within_ms = 1000;
  ProxiedStores stores(o);
  auto& [direct, proxy, store] = stores;
  ASSERT_TRUE(direct != nullptr && store != nullptr);
  const std::string data = Pattern(6 << 20, 4);  // two parts
  // The upload starts, then no part can arrive and the store answers nothing at all, the abort
  // included: the one connection accepted before the store went silent (kept alive from the
  // request below, which the upload's start then reuses) is cut after 3 MiB, and every later one
  // is never answered.
  proxy.cut_after_bytes = 3 << 20;
  proxy.cut_connections = -1;
  proxy.DropConnections();
  ASSERT_TRUE(store->CheckAccess().ok());
  proxy.stall = 1000000;
  constexpr int64_t kBudgetNs = 1'000'000'000;
  const auto start = std::chrono::steady_clock::now();
  const Status s = store->PutWithin("wal/n1/9.wal", data, kBudgetNs);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  proxy.stall = 0;
  proxy.cut_after_bytes = -1;
  proxy.DropConnections();
  std::printf("%s after %.3f s\n", s.ToString().c_str(), seconds);
  EXPECT_TRUE((s.code() == StatusCode::kIOError)) << s.ToString();
  EXPECT_NE(s.message().find("wal/n1/9.wal: part 1"), std::string::npos) << s.message();
  EXPECT_EQ(store->stats().multipart_aborts, 1u);
  EXPECT_LT(seconds, kBudgetNs / 1e9 + o.abort_within_ms / 1e3 + 0.75)
      << "the abort ran past its bound";
  // The abort never arrived: the upload is left for the sweep (ListIncomplete), no object.
  EXPECT_EQ(direct->ListUploadsInProgress().value_or({}).size(), 1u);
  EXPECT_TRUE(direct->Size("wal/n1/9.wal").status().IsNotFound());
}

TEST(S3Store, AStoreThatIsDownIsAnIOErrorAfterTheRetryBudget) {
  S3Options o = TestOptions("down");
  o.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  o.retry_budget_ms = 1000;
  auto store = S3Store::Create(o);
  ASSERT_TRUE(store.ok());
  Status s = (*store)->Put("cold/acme/1.seg", "x");
  EXPECT_TRUE((s.code() == StatusCode::kIOError)) << s.ToString();
  EXPECT_NE(s.message().find("cold/acme/1.seg"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("onnect"), std::string::npos) << s.message();
  EXPECT_GE((*store)->stats().retries, 2u);
}

TEST(S3Store, OptionsComeFromTheUrlAndTheStandardEnvironment) {
  S3Options o;
  ASSERT_TRUE(ParseS3Url("s3://logs-archive/sawmill/eu/", &o).ok());
  EXPECT_EQ(o.bucket, "logs-archive");
  EXPECT_EQ(o.prefix, "sawmill/eu");
  ASSERT_TRUE(ParseS3Url("s3://logs-archive", &o).ok());
  EXPECT_EQ(o.prefix, "");
  for (const char* bad :
       {"logs-archive/x", "s3://", "s3://UPPER/x", "s3://ok-bucket/a//b", "http://bucket/x"}) {
    Status s = ParseS3Url(bad, &o);
    EXPECT_TRUE(s.IsInvalidArgument()) << bad;
    EXPECT_NE(s.message().find(bad), std::string::npos) << s.message();
  }

  ::setenv("AWS_ENDPOINT_URL", "http://minio.internal:9000", 1);
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  ::setenv("AWS_REGION", "eu-west-3", 1);
  S3Options env;
  env.access_key = "from-the-config-file";
  FillS3OptionsFromEnvironment(&env);
  EXPECT_EQ(env.endpoint, "http://minio.internal:9000");
  EXPECT_EQ(env.access_key, "from-the-config-file");  // the config file wins
  EXPECT_EQ(env.secret_key, "secret");
  EXPECT_EQ(env.region, "eu-west-3");
  for (const char* name :
       {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}) {
    ::unsetenv(name);
  }

  S3Options missing;
  missing.endpoint = "http://127.0.0.1:9000";
  missing.bucket = "b-1";
  Status s = S3Store::Create(missing).status();
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("AWS_ACCESS_KEY_ID"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace sawmill::objstore
