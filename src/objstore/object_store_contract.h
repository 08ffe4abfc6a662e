// The ObjectStore contract (object_store.h) as value-parameterised tests, run against every
// implementation: object_store_test.cc instantiates it for the local directory store (real file
// system and FaultInjectionEnv), s3_store_test.cc for the S3 store on a real S3 API. A store
// joins with INSTANTIATE_TEST_SUITE_P(Name, ObjectStoreContract, testing::ValuesIn(kinds)).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "common/fault_env.h"
#include "objstore/object_store.h"

namespace sawmill::objstore {

// Whatever a store under test needs to live (each member may stay null).
struct StoreFixture {
  std::shared_ptr<void> keepalive;  // a directory, a server: destroyed after the store
  std::unique_ptr<FaultInjectionEnv> env;
  std::unique_ptr<ObjectStore> store;
};

struct StoreKind {
  const char* name;
  std::function<StoreFixture()> make;
  // The local store's readers keep reading an object deleted after they were opened (they hold
  // the file); a remote store's reader then fails with NotFound instead (object_store.h).
  bool readers_outlive_delete = true;
  // While several writers overwrite one name at once, OpenStack Swift (single replica, as in the
  // tests) sometimes answers 404 to a HEAD or GET of that name even right after the caller's own
  // PUT succeeded. Sawmill never overwrites a name (segment ids are never reused, object_store.h),
  // so stores may do this; they must still never show a torn or mixed object.
  bool concurrent_overwrite_may_hide = false;
};

// gtest prints a parameter with this (its bytes otherwise).
inline void PrintTo(const StoreKind& kind, std::ostream* os) { *os << kind.name; }

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

inline std::string Bytes(size_t n) {
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
  std::string out;
  Status read = (*reader)->ReadRange(0, 6, &out);
  if (GetParam().readers_outlive_delete) {
    // A reader opened before the delete still reads what it was opened on (a query holding a
    // segment that compaction deletes).
    ASSERT_TRUE(read.ok()) << read.ToString();
    EXPECT_EQ(out, "second");
  } else {
    // Never stale or torn bytes: a clean NotFound that says what happened.
    EXPECT_TRUE(read.IsNotFound()) << read.ToString();
    EXPECT_NE(read.message().find("deleted after it was opened"), std::string::npos)
        << read.message();
  }
}

TEST_P(ObjectStoreContract, ConcurrentPutsOfOneNameLeaveOneCompleteVersion) {
  const std::string a(64 << 10, 'a'), b(96 << 10, 'b');
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(store().Put("shared/obj", (t + i) % 2 ? a : b).ok());
        auto size = store().Size("shared/obj");
        if (!size.ok() && size.status().IsNotFound() && GetParam().concurrent_overwrite_may_hide) {
          continue;
        }
        ASSERT_TRUE(size.ok()) << size.status().ToString();
        std::string got;
        Status s = store().GetRange("shared/obj", 0, *size, &got);
        // Another thread may replace it between Size and GetRange: the range then is a
        // clean out-of-range error or a prefix of the other version, never a mix of versions.
        if (s.ok()) {
          EXPECT_TRUE(got == a.substr(0, got.size()) || got == b.substr(0, got.size()))
              << "a torn object of " << got.size();
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

}  // namespace sawmill::objstore
