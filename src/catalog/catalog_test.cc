// The Catalog contract (catalog.h), one suite run against every implementation, and the SQLite
// catalog's own promises: sharing one file between connections and processes, and migrating
// catalogs written by older builds.
#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog/sqlite_catalog.h"

namespace sawmill::catalog {
namespace {

std::filesystem::path TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "_" + info->name();
  std::replace(name.begin(), name.end(), '/', '_');
  return std::filesystem::temp_directory_path() /
         ("sawmill_catalog_test_" + std::to_string(::getpid()) + "_" + name);
}

SegmentRow Row(uint64_t id, std::string tenant = "t1", uint32_t partition = 3) {
  SegmentRow r;
  r.id = id;
  r.tenant = std::move(tenant);
  r.partition = partition;
  r.min_ts = -5;
  r.max_ts = 1700000000000000000;
  r.min_ingest_ts = 10;
  r.max_ingest_ts = 20;
  r.min_seq = id * 100;
  r.max_seq = id * 100 + 99;
  r.rows = 100;
  r.bytes = 4096;
  r.raw_bytes = 20000;
  r.path = "/data/segments/hot/t1/3/" + std::to_string(id) + ".seg";
  r.created_ns = 42;
  return r;
}

// One implementation under test: opens the catalog that lives in "dir" (the same one on every
// call, so that reopening and a second instance can be tested).
struct Implementation {
  std::string name;
  std::function<Result<std::unique_ptr<Catalog>>(const std::filesystem::path& dir)> open;
};

std::vector<Implementation> Implementations() {
  return {
      {"sqlite",
       [](const std::filesystem::path& dir) {
         return OpenSqliteCatalog((dir / "catalog.db").string());
       }},
      {"sqlite_shared",
       [](const std::filesystem::path& dir) {
         return OpenSqliteCatalog((dir / "catalog.db").string(), {.shared = true});
       }},
  };
}

class CatalogTest : public ::testing::TestWithParam<Implementation> {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Catalog> OpenCatalog() {
    auto c = GetParam().open(dir_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  std::filesystem::path dir_;
};

INSTANTIATE_TEST_SUITE_P(Every, CatalogTest, ::testing::ValuesIn(Implementations()),
                         [](const auto& info) { return info.param.name; });

TEST_P(CatalogTest, RowsPersistAcrossReopen) {
  {
    auto c = OpenCatalog();
    ASSERT_TRUE(c->Insert(Row(1)).ok());
    ASSERT_TRUE(c->Insert(Row(2, "t2")).ok());
  }
  auto c = OpenCatalog();
  auto rows = c->List();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], Row(1));
  EXPECT_EQ((*rows)[1], Row(2, "t2"));
  ListFilter f;
  f.tenant = "t2";
  EXPECT_EQ(c->List(f)->size(), 1u);
}

TEST_P(CatalogTest, TierAndLocationRoundTrip) {
  SegmentRow hot = Row(1);
  SegmentRow cold = Row(2);
  cold.tier = std::string(kTierCold);
  cold.store = "archive";
  cold.path = "acme/3/2.seg";
  {
    auto c = OpenCatalog();
    EXPECT_EQ(hot.tier, "hot");
    EXPECT_EQ(hot.store, "local");
    ASSERT_TRUE(c->Insert(hot).ok());
    ASSERT_TRUE(c->Insert(cold).ok());
    EXPECT_EQ(**c->Get(2), cold);
    // Moving a segment to another tier and store rewrites its location.
    SegmentRow warm = hot;
    warm.tier = std::string(kTierWarm);
    warm.store = "nearline";
    warm.path = "acme/3/1.seg";
    ASSERT_TRUE(c->Update({warm}).ok());
    hot = warm;
  }
  auto c = OpenCatalog();
  auto rows = c->List();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], hot);
  EXPECT_EQ((*rows)[0].tier, "warm");
  EXPECT_EQ((*rows)[0].store, "nearline");
  EXPECT_EQ((*rows)[1], cold);
}

TEST_P(CatalogTest, DuplicateIdIsAlreadyExists) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  EXPECT_EQ(c->Insert(Row(1)).code(), StatusCode::kAlreadyExists);
}

TEST_P(CatalogTest, ReplaceIsAllOrNothing) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  // Removing an unknown id fails and leaves everything as it was.
  EXPECT_TRUE(c->Replace({1, 99}, {Row(3)}).IsNotFound());
  EXPECT_EQ(c->List()->size(), 2u);
  ASSERT_TRUE(c->Replace({1, 2}, {Row(3)}).ok());
  auto rows = c->List();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, 3u);
}

TEST_P(CatalogTest, CommitHookFailureRollsBack) {
  auto c = OpenCatalog();
  c->SetCommitHook([] { return Status::IOError("simulated crash"); });
  EXPECT_FALSE(c->Insert(Row(1)).ok());
  EXPECT_FALSE(c->AllocateSegmentId().ok());
  c->SetCommitHook(nullptr);
  EXPECT_TRUE(c->List()->empty());
  // Neither the insert nor the allocation that did not commit used up an id.
  EXPECT_EQ(*c->MaxId(), 0u);
  EXPECT_EQ(*c->AllocateSegmentId(), 1u);
  ASSERT_TRUE(c->Insert(Row(2)).ok());
}

TEST_P(CatalogTest, IdsAreNeverReused) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(7)).ok());
  ASSERT_TRUE(c->Delete(7).ok());
  EXPECT_EQ(*c->MaxId(), 7u);
  EXPECT_EQ(*c->AllocateSegmentId(), 8u);
}

TEST_P(CatalogTest, AllocatedIdsIncreaseAboveEveryStoredAndReservedId) {
  auto c = OpenCatalog();
  EXPECT_EQ(*c->AllocateSegmentId(), 1u);
  EXPECT_EQ(*c->AllocateSegmentId(), 2u);
  // An id stored by someone else (reconciliation registers a file under its own id) raises the
  // floor...
  ASSERT_TRUE(c->Insert(Row(10)).ok());
  EXPECT_EQ(*c->AllocateSegmentId(), 11u);
  // ...and so does an id only seen in a file.
  ASSERT_TRUE(c->ReserveIds(40).ok());
  EXPECT_EQ(*c->AllocateSegmentId(), 41u);
  // Reserving below the floor changes nothing.
  ASSERT_TRUE(c->ReserveIds(5).ok());
  EXPECT_EQ(*c->AllocateSegmentId(), 42u);
  EXPECT_EQ(*c->MaxId(), 42u);
}

TEST_P(CatalogTest, AllocationContinuesAboveTheMaximumAfterReopen) {
  {
    auto c = OpenCatalog();
    ASSERT_TRUE(c->Insert(Row(3)).ok());
    EXPECT_EQ(*c->AllocateSegmentId(), 4u);
    // Allocated but never stored (a flush that failed): still never handed out again.
    EXPECT_EQ(*c->AllocateSegmentId(), 5u);
  }
  auto c = OpenCatalog();
  EXPECT_EQ(*c->MaxId(), 5u);
  EXPECT_EQ(*c->AllocateSegmentId(), 6u);
}

TEST_P(CatalogTest, ConcurrentAllocationsAreDistinct) {
  auto c = OpenCatalog();
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto id = c->AllocateSegmentId();
        ASSERT_TRUE(id.ok()) << id.status().ToString();
        got[t].push_back(*id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all;
  for (const auto& ids : got) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), uint64_t{kThreads * kPerThread});
}

TEST_P(CatalogTest, StateChangesAndFilters) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  ASSERT_TRUE(c->SetState(2, kStateCorrupt).ok());
  EXPECT_TRUE(c->SetState(5, kStateCorrupt).IsNotFound());
  ListFilter f;
  f.states = {std::string(kStateActive)};
  auto rows = c->List(f);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, 1u);
  EXPECT_EQ((*c->Get(2))->state, kStateCorrupt);
  EXPECT_FALSE(c->Get(9)->has_value());
}

TEST_P(CatalogTest, DamageIsRecordedOnceAndAcknowledged) {
  auto c = OpenCatalog();
  DamageRow d;
  d.file = "000003.log";
  d.offset = 32768;
  d.bytes = 100;
  d.kind = "checksum";
  d.detail = "bad crc";
  d.first_seen_ns = 5;
  auto first = c->RecordDamage(d);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->second);
  auto again = c->RecordDamage(d);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->first, first->first);
  EXPECT_FALSE(again->second);
  EXPECT_TRUE(c->AcknowledgeDamage(first->first + 10, 9).status().IsNotFound());
  EXPECT_EQ(*c->AcknowledgeDamage(0, 9), 1u);
  auto rows = c->ListDamage();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].acked_ns, 9);
}

TEST_P(CatalogTest, IdempotencyKeysExpireAndEvictTheOldest) {
  auto c = OpenCatalog();
  std::vector<IdempotencyKeyRow> keys;
  for (int i = 0; i < 4; ++i) {
    keys.push_back({"t1", "k" + std::to_string(i), 7, "answer", uint64_t(i) * 10, 10, 100 + i});
  }
  // k0 is older than the window; of the rest only the newest two fit.
  auto evicted = c->PutIdempotencyKeys(keys, 101, 2);
  ASSERT_TRUE(evicted.ok()) << evicted.status().ToString();
  EXPECT_EQ(*evicted, 1u);
  auto rows = c->ListIdempotencyKeys(0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], keys[2]);
  EXPECT_EQ((*rows)[1], keys[3]);
}

// ---- The SQLite catalog ----

class SqliteCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "catalog.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Catalog> Open(SqliteCatalogOptions options = {}) {
    auto c = OpenSqliteCatalog(path_, options);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  // Runs "sql" on the catalog file through a connection of its own.
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << msg;
  }
  int64_t SchemaVersion() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, nullptr);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteCatalogTest, UnopenableFileIsAClearError) {
  auto c = OpenSqliteCatalog((dir_ / "no" / "such" / "dir" / "catalog.db").string());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("catalog.db"), std::string::npos);
}

TEST_F(SqliteCatalogTest, TwoInstancesOnOneFileAllocateDisjointIds) {
  auto a = Open({.shared = true});
  auto b = Open({.shared = true});
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Insert(Row(5)).ok());
  std::vector<uint64_t> from_a, from_b;
  std::thread ta([&] {
    for (int i = 0; i < 30; ++i) from_a.push_back(*a->AllocateSegmentId());
  });
  std::thread tb([&] {
    for (int i = 0; i < 30; ++i) from_b.push_back(*b->AllocateSegmentId());
  });
  ta.join();
  tb.join();
  std::set<uint64_t> all(from_a.begin(), from_a.end());
  all.insert(from_b.begin(), from_b.end());
  EXPECT_EQ(all.size(), 60u);
  EXPECT_EQ(*all.begin(), 6u);  // above the row the other instance stored
  EXPECT_TRUE(std::is_sorted(from_a.begin(), from_a.end()));
  EXPECT_TRUE(std::is_sorted(from_b.begin(), from_b.end()));
  // A row one instance stores is seen by the other.
  ASSERT_TRUE(b->Insert(Row(100)).ok());
  EXPECT_TRUE((*a->Get(100)).has_value());
  EXPECT_EQ(*a->AllocateSegmentId(), 101u);
}

TEST_F(SqliteCatalogTest, TwoProcessesOnOneFileAllocateDisjointIds) {
  Open({.shared = true}).reset();  // created before either process allocates
  constexpr int kIds = 40;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child: its own connection, ids sent to the parent. No gtest assertions here.
    ::close(fds[0]);
    auto c = OpenSqliteCatalog(path_, {.shared = true});
    if (!c.ok()) ::_exit(2);
    for (int i = 0; i < kIds; ++i) {
      auto id = (*c)->AllocateSegmentId();
      if (!id.ok()) ::_exit(3);
      uint64_t v = *id;
      if (::write(fds[1], &v, sizeof(v)) != sizeof(v)) ::_exit(4);
    }
    c->reset();
    ::_exit(0);
  }
  ::close(fds[1]);
  std::vector<uint64_t> mine;
  {
    auto c = Open({.shared = true});
    ASSERT_TRUE(c);
    for (int i = 0; i < kIds; ++i) {
      auto id = c->AllocateSegmentId();
      ASSERT_TRUE(id.ok()) << id.status().ToString();
      mine.push_back(*id);
    }
  }
  std::vector<uint64_t> theirs;
  uint64_t v;
  while (::read(fds[0], &v, sizeof(v)) == sizeof(v)) theirs.push_back(v);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(theirs.size(), size_t{kIds});
  std::set<uint64_t> all(mine.begin(), mine.end());
  all.insert(theirs.begin(), theirs.end());
  EXPECT_EQ(all.size(), size_t{2 * kIds});
  EXPECT_EQ(*all.rbegin(), uint64_t{2 * kIds});
}

TEST_F(SqliteCatalogTest, ExclusiveCatalogInUseIsUnavailableToASecondConnection) {
  auto server = Open();
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->Insert(Row(1)).ok());
  auto second = OpenSqliteCatalog(path_, {.shared = true, .busy_timeout_ms = 50});
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsUnavailable()) << second.status().ToString();
  EXPECT_NE(second.status().message().find(path_), std::string::npos);
}

// A catalog as builds before schema version 2 wrote it: no "store" column, schema_version 1,
// absolute paths, and rows above the "max_id" kept in meta (it was not raised by every insert
// in the oldest builds).
TEST_F(SqliteCatalogTest, SchemaOneCatalogIsMigratedAndKeepsItsRowsAndIds) {
  Sql(R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE segments (
      id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, partition INTEGER NOT NULL,
      min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL,
      min_ingest_ts INTEGER NOT NULL, max_ingest_ts INTEGER NOT NULL,
      min_seq INTEGER NOT NULL, max_seq INTEGER NOT NULL, rows INTEGER NOT NULL,
      bytes INTEGER NOT NULL, raw_bytes INTEGER NOT NULL, tier TEXT NOT NULL, path TEXT NOT NULL,
      state TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE INDEX segments_by_tenant ON segments (tenant, partition, max_ingest_ts);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('schema_version', 1), ('max_id', 9);
    INSERT INTO segments VALUES (3, 't1', 3, -5, 1700000000000000000, 10, 20, 300, 399, 100,
      4096, 20000, 'hot', '/data/segments/hot/t1/3/3.seg', 'active', 42);
    INSERT INTO segments VALUES (12, 't1', 3, -5, 1700000000000000000, 10, 20, 1200, 1299, 100,
      4096, 20000, 'hot', '/data/segments/hot/t1/3/12.seg', 'corrupt', 42);
  )sql");
  ASSERT_EQ(SchemaVersion(), 1);
  {
    auto c = Open();
    ASSERT_TRUE(c);
    auto rows = c->List();
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0], Row(3));  // every old row is in the local store
    SegmentRow corrupt = Row(12);
    corrupt.state = std::string(kStateCorrupt);
    EXPECT_EQ((*rows)[1], corrupt);
    // Ids continue above the highest row, not the stale max_id.
    EXPECT_EQ(*c->AllocateSegmentId(), 13u);
    SegmentRow remote = Row(13);
    remote.store = "archive";
    ASSERT_TRUE(c->Insert(remote).ok());
  }
  EXPECT_EQ(SchemaVersion(), kSqliteSchemaVersion);
  // Opening the migrated catalog again changes nothing.
  auto c = Open();
  ASSERT_TRUE(c);
  EXPECT_EQ((*c->Get(13))->store, "archive");
  EXPECT_EQ((*c->Get(3))->store, "local");
  EXPECT_EQ(*c->AllocateSegmentId(), 14u);
}

TEST_F(SqliteCatalogTest, CatalogOfANewerSchemaIsRefused) {
  Open().reset();
  Sql("UPDATE meta SET value = 99 WHERE key = 'schema_version'");
  auto c = OpenSqliteCatalog(path_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition) << c.status().ToString();
  EXPECT_NE(c.status().message().find("schema version 99"), std::string::npos);
  EXPECT_EQ(SchemaVersion(), 99);  // left as it was
}

}  // namespace
}  // namespace sawmill::catalog
