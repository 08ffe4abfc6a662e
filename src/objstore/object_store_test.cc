// The ObjectStore contract (object_store_contract.h) run against the local directory store on the
// real file system, on FaultInjectionEnv and through ReadAhead (s3_store_test.cc runs it against
// the S3 store).
// Then the local store's own promises: atomicity seen from inside a Put, durability across
// crashes at every step of a Put.
#include "objstore/object_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "common/fault_env.h"
#include "objstore/local_directory_store.h"
#include "objstore/object_store_contract.h"
#include "objstore/read_ahead.h"

namespace sawmill::objstore {
namespace {

class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    path_ = std::filesystem::temp_directory_path() /
            ("sawmill_objstore_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

const StoreKind kStores[] = {
    {"LocalOnDisk",
     [] {
       StoreFixture f;
       auto dir = std::make_shared<TempDir>("suite");
       f.store = std::make_unique<LocalDirectoryStore>(Env::Default(), dir->path() + "/data");
       f.keepalive = dir;
       return f;
     }},
    {"LocalOnFaultInjectionEnv",
     [] {
       StoreFixture f;
       f.env = std::make_unique<FaultInjectionEnv>();
       f.store = std::make_unique<LocalDirectoryStore>(f.env.get(), "/data");
       return f;
     }},
    // read_ahead.h, with a window smaller than most objects of the suite.
    {"ReadAheadOfLocal",
     [] {
       StoreFixture f;
       f.env = std::make_unique<FaultInjectionEnv>();
       f.store = ReadAhead(std::make_shared<LocalDirectoryStore>(f.env.get(), "/data"), 7);
       return f;
     }},
};

INSTANTIATE_TEST_SUITE_P(Stores, ObjectStoreContract, testing::ValuesIn(kStores),
                         [](const auto& info) { return std::string(info.param.name); });

// Probes the store from inside a Put, at every file-system step it takes.
class ProbingEnv : public EnvWrapper {
 public:
  explicit ProbingEnv(Env* target) : EnvWrapper(target) {}
  std::function<void(const char* step)> probe;
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (probe) probe("before rename");
    return EnvWrapper::RenameFile(from, to);
  }
  Status SyncDir(const std::string& dir) override {
    if (probe) probe("before sync dir");
    return EnvWrapper::SyncDir(dir);
  }
};

TEST(LocalDirectoryStore, APutInProgressIsInvisibleUntilComplete) {
  TempDir dir("atomic");
  ProbingEnv env(Env::Default());
  LocalDirectoryStore store(&env, dir.path());
  const std::string old_bytes = "old object", new_bytes(1 << 20, 'n');
  ASSERT_TRUE(store.Put("seg/1.seg", old_bytes).ok());
  int probes = 0;
  bool renamed = false;
  env.probe = [&](const char* step) {
    ++probes;
    auto listed = store.List("");
    ASSERT_TRUE(listed.ok());
    // The temporary file exists on disk but is never an object.
    EXPECT_EQ(*listed, std::vector<std::string>{"seg/1.seg"}) << step;
    auto size = store.Size("seg/1.seg");
    ASSERT_TRUE(size.ok()) << step;
    std::string got;
    ASSERT_TRUE(store.GetRange("seg/1.seg", 0, *size, &got).ok()) << step;
    EXPECT_EQ(got, renamed ? new_bytes : old_bytes) << step;
    if (std::string_view(step) == "before rename") renamed = true;
  };
  ASSERT_TRUE(store.Put("seg/1.seg", new_bytes).ok());
  env.probe = nullptr;
  EXPECT_GE(probes, 2);  // it renamed, then synced the directory
  EXPECT_TRUE(renamed);
  // Nothing but the object is left in the directory.
  auto files = Env::Default()->GetChildren(dir.path() + "/seg");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(*files, std::vector<std::string>{"1.seg"});
}

TEST(LocalDirectoryStore, AFailedPutLeavesTheOldObjectAndNoTemporaryFile) {
  FaultInjectionEnv env;
  LocalDirectoryStore store(&env, "/data");
  ASSERT_TRUE(store.Put("seg/1.seg", "old").ok());
  env.InjectWriteFailure(1);
  Status s = store.Put("seg/1.seg", "new bytes");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/data/seg/1.seg"), std::string::npos) << s.message();
  env.InjectSyncFailure(1);
  EXPECT_FALSE(store.Put("seg/1.seg", "new bytes").ok());
  std::string got;
  ASSERT_TRUE(store.GetRange("seg/1.seg", 0, 3, &got).ok());
  EXPECT_EQ(got, "old");
  EXPECT_EQ(store.Size("seg/1.seg").value_or(0), 3u);
  EXPECT_EQ(env.GetChildren("/data/seg").value_or({}), std::vector<std::string>{"1.seg"});
}

TEST(LocalDirectoryStore, ACrashAtAnyStepOfAPutKeepsTheOldOrTheNewObjectWhole) {
  // Count the steps of one Put into fresh directories, then crash after each of them.
  int64_t steps = 0;
  {
    FaultInjectionEnv env;
    LocalDirectoryStore store(&env, "/data");
    int64_t before = env.mutating_ops();
    ASSERT_TRUE(store.Put("segments/hot/t/0/9.seg", "new").ok());
    steps = env.mutating_ops() - before;
  }
  ASSERT_GE(steps, 4);
  for (bool replace : {false, true}) {
    for (int64_t crash_after = 0; crash_after <= steps; ++crash_after) {
      FaultInjectionEnv env;
      LocalDirectoryStore store(&env, "/data");
      if (replace) {
        ASSERT_TRUE(store.Put("segments/hot/t/0/9.seg", "old!").ok());
      }
      env.CrashAfterOps(crash_after);
      Status put = store.Put("segments/hot/t/0/9.seg", "new");
      env.SimulateCrash();
      auto size = store.Size("segments/hot/t/0/9.seg");
      std::string got;
      if (size.ok()) {
        ASSERT_TRUE(store.GetRange("segments/hot/t/0/9.seg", 0, *size, &got).ok());
      }
      SCOPED_TRACE("crash after " + std::to_string(crash_after) + " ops, replace " +
                   std::to_string(replace) + ": " + put.ToString());
      if (put.ok()) {
        EXPECT_EQ(got, "new");  // acknowledged: durable
      } else if (replace) {
        EXPECT_TRUE(got == "old!" || got == "new") << got;
      } else {
        EXPECT_TRUE(!size.ok() || got == "new") << got;
      }
      EXPECT_LE(store.List("").value_or({}).size(), 1u);
    }
  }
}

TEST(LocalDirectoryStore, NamesAreFilesUnderTheRoot) {
  TempDir dir("layout");
  LocalDirectoryStore store(Env::Default(), dir.path());
  ASSERT_TRUE(store.Put("segments/hot/acme/3/17.seg", "abc").ok());
  EXPECT_EQ(store.Location("segments/hot/acme/3/17.seg"),
            dir.path() + "/segments/hot/acme/3/17.seg");
  std::string got;
  ASSERT_TRUE(
      ReadFileToString(Env::Default(), dir.path() + "/segments/hot/acme/3/17.seg", &got).ok());
  EXPECT_EQ(got, "abc");
  // A file written beside the store (by the segment writer) is an object like any other...
  ASSERT_TRUE(
      WriteFileAtomically(Env::Default(), dir.path() + "/segments/hot/acme/3/18.seg", "x").ok());
  EXPECT_EQ(store.List("segments/hot/acme/3/").value_or({}).size(), 2u);
  // ...except a leftover temporary file, which is never listed.
  ASSERT_TRUE(
      WriteFileAtomically(Env::Default(), dir.path() + "/segments/hot/acme/3/19.seg.tmp", "partial")
          .ok());
  EXPECT_EQ(store.List("segments/").value_or({}),
            (std::vector<std::string>{"segments/hot/acme/3/17.seg", "segments/hot/acme/3/18.seg"}));
}

}  // namespace
}  // namespace sawmill::objstore
