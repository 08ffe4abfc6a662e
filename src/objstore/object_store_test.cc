// The ObjectStore contract (object_store.h), run against every implementation: the local
// directory store on the real file system and on FaultInjectionEnv. An S3 store joins by adding
// a factory to kStores. Then the local store's own promises: atomicity seen from inside a Put,
// durability across crashes at every step of a Put.
#include "objstore/object_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "common/fault_env.h"
#include "objstore/local_directory_store.h"

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

// One store under test and whatever it needs to live.
struct StoreFixture {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<FaultInjectionEnv> env;
  std::unique_ptr<ObjectStore> store;
};

struct StoreKind {
  const char* name;
  std::function<StoreFixture()> make;
};

const StoreKind kStores[] = {
    {"LocalOnDisk",
     [] {
       StoreFixture f;
       f.dir = std::make_unique<TempDir>("suite");
       f.store = std::make_unique<LocalDirectoryStore>(Env::Default(), f.dir->path() + "/data");
       return f;
     }},
    {"LocalOnFaultInjectionEnv",
     [] {
       StoreFixture f;
       f.env = std::make_unique<FaultInjectionEnv>();
       f.store = std::make_unique<LocalDirectoryStore>(f.env.get(), "/data");
       return f;
     }},
};

class ObjectStoreContract : public testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { fixture_ = GetParam().make(); }
  ObjectStore& store() { return *fixture_.store; }
  std::string Get(std::string_view name, uint64_t offset, uint64_t length) {
    std::string out;
    Status s = store().GetRange(name, offset, length, &out);
    return s.ok() ? out : "<" + s.ToString() + ">";
  }

  StoreFixture fixture_;
};

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

TEST_P(ObjectStoreContract, RangesAtTheEdgesAndPastTheEndOfAnObject) {
  const std::string data = Bytes(100);
  ASSERT_TRUE(store().Put("segments/hot/acme/3/17.seg", data).ok());
  ASSERT_EQ(store().Size("segments/hot/acme/3/17.seg").value_or(0), 100u);
  EXPECT_EQ(Get("segments/hot/acme/3/17.seg", 0, 100), data);
  EXPECT_EQ(Get("segments/hot/acme/3/17.seg", 0, 1), "a");
  EXPECT_EQ(Get("segments/hot/acme/3/17.seg", 99, 1), data.substr(99));
  EXPECT_EQ(Get("segments/hot/acme/3/17.seg", 100, 0), "");
  EXPECT_EQ(Get("segments/hot/acme/3/17.seg", 30, 20), data.substr(30, 20));

  std::string out = "untouched";
  for (auto [offset, length] : {std::pair<uint64_t, uint64_t>{100, 1},
                                {99, 2},
                                {101, 0},
                                {0, 101},
                                {50, UINT64_MAX},
                                {UINT64_MAX, 2}}) {
    Status s = store().GetRange("segments/hot/acme/3/17.seg", offset, length, &out);
    EXPECT_TRUE(s.IsInvalidArgument()) << offset << "+" << length << ": " << s.ToString();
    EXPECT_NE(s.message().find("past the end"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("17.seg (100 bytes)"), std::string::npos) << s.message();
  }

  auto reader = store().Open("segments/hot/acme/3/17.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->size(), 100u);
  ASSERT_TRUE((*reader)->ReadRange(90, 10, &out).ok());
  EXPECT_EQ(out, data.substr(90));
  ASSERT_TRUE((*reader)->ReadRange(100, 0, &out).ok());
  EXPECT_EQ(out, "");
  EXPECT_TRUE((*reader)->ReadRange(95, 6, &out).IsInvalidArgument());
}

TEST_P(ObjectStoreContract, AMissingObjectIsNotFoundNotAnIOError) {
  std::string out;
  EXPECT_TRUE(store().Size("nope/17.seg").status().IsNotFound());
  Status s = store().GetRange("nope/17.seg", 0, 1, &out);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("nope/17.seg"), std::string::npos) << s.message();
  EXPECT_TRUE(store().Open("nope/17.seg").status().IsNotFound());
  s = store().Delete("nope/17.seg");
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s.message();
  auto listed = store().List("nope");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_TRUE(listed->empty());
}

TEST_P(ObjectStoreContract, BadNamesAreRefusedWithTheReason) {
  for (const char* name :
       {"", "/etc/passwd", "a//b", "../outside", "a/./b", "a/../b", "dir/", "x.seg.tmp"}) {
    Status s = store().Put(name, "x");
    EXPECT_TRUE(s.IsInvalidArgument()) << "'" << name << "': " << s.ToString();
    EXPECT_TRUE(store().Size(name).status().IsInvalidArgument()) << name;
    EXPECT_TRUE(store().Delete(name).IsInvalidArgument()) << name;
  }
  EXPECT_NE(ValidateObjectName("../outside").message().find("'..'"), std::string::npos);
  auto listed = store().List("");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << (*listed)[0];
}

TEST_P(ObjectStoreContract, ListReturnsExactlyTheNamesWithThePrefixSorted) {
  for (const char* name : {"segments/hot/acme/1/2.seg", "segments/hot/acme/1/1.seg",
                           "segments/hot/acme2/1/3.seg", "segments/warm/acme/1/4.seg", "other"}) {
    ASSERT_TRUE(store().Put(name, name).ok()) << name;
  }
  using Names = std::vector<std::string>;
  EXPECT_EQ(store().List("segments/hot/acme/").value_or(Names{}),
            (Names{"segments/hot/acme/1/1.seg", "segments/hot/acme/1/2.seg"}));
  // A plain string prefix, not a directory: acme2 matches "acme".
  EXPECT_EQ(store().List("segments/hot/acme").value_or(Names{}),
            (Names{"segments/hot/acme/1/1.seg", "segments/hot/acme/1/2.seg",
                   "segments/hot/acme2/1/3.seg"}));
  EXPECT_EQ(store().List("").value_or(Names{}),
            (Names{"other", "segments/hot/acme/1/1.seg", "segments/hot/acme/1/2.seg",
                   "segments/hot/acme2/1/3.seg", "segments/warm/acme/1/4.seg"}));
  EXPECT_EQ(store().List("segments/warm/acme/1/4.seg").value_or(Names{}),
            (Names{"segments/warm/acme/1/4.seg"}));
  EXPECT_EQ(store().List("segments/cold").value_or(Names{"error"}), Names{});
  EXPECT_EQ(store().List("oth").value_or(Names{}), Names{"other"});
}

TEST_P(ObjectStoreContract, PutReplacesAndDeleteRemoves) {
  ASSERT_TRUE(store().Put("a/b", "first version").ok());
  ASSERT_TRUE(store().Put("a/b", "second").ok());
  EXPECT_EQ(Get("a/b", 0, 6), "second");
  EXPECT_EQ(store().Size("a/b").value_or(0), 6u);
  ASSERT_TRUE(store().Put("a/empty", "").ok());
  EXPECT_EQ(store().Size("a/empty").value_or(99), 0u);
  EXPECT_EQ(Get("a/empty", 0, 0), "");

  auto reader = store().Open("a/b");
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(store().Delete("a/b").ok());
  EXPECT_TRUE(store().Size("a/b").status().IsNotFound());
  EXPECT_EQ(store().List("a/").value_or({}), std::vector<std::string>{"a/empty"});
  EXPECT_TRUE(store().Delete("a/b").IsNotFound());
  // A reader opened before the delete still reads what it was opened on (a query holding a
  // segment that compaction deletes).
  std::string out;
  ASSERT_TRUE((*reader)->ReadRange(0, 6, &out).ok());
  EXPECT_EQ(out, "second");
}

TEST_P(ObjectStoreContract, ConcurrentPutsOfOneNameLeaveOneCompleteVersion) {
  const std::string a(64 << 10, 'a'), b(96 << 10, 'b');
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(store().Put("shared/obj", (t + i) % 2 ? a : b).ok());
        auto size = store().Size("shared/obj");
        ASSERT_TRUE(size.ok());
        std::string got;
        Status s = store().GetRange("shared/obj", 0, *size, &got);
        // Another thread may replace it between Size and GetRange: a different size is then
        // a clean out-of-range error, never a mix of versions.
        if (s.ok()) {
          EXPECT_TRUE(got == a || got == b) << "a torn object of " << got.size();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string got;
  ASSERT_TRUE(store().GetRange("shared/obj", 0, store().Size("shared/obj").value_or(0), &got).ok());
  EXPECT_TRUE(got == a || got == b);
  EXPECT_EQ(store().List("shared").value_or({}), std::vector<std::string>{"shared/obj"});
}

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
