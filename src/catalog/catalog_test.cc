// The Catalog contract (catalog.h), one suite run against every implementation, and the SQLite
// catalog's own promises: sharing one file between connections and processes, and migrating
// catalogs written by older builds.
#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog/pg_catalog.h"
#include "catalog/sqlite_catalog.h"
#include "common/mutex.h"

#ifdef SAWMILL_CATALOG_TEST_PG
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>

#include "catalog/pg_test_server.h"
#endif

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

// "a" and "b" (two connections or instances on one catalog) each allocate "n" segment ids at
// once, on a thread each: the ids each got, in order, and all of them together.
struct AllocatedIds {
  std::vector<uint64_t> a, b;
  std::set<uint64_t> all;
};
AllocatedIds AllocateAtOnce(Catalog* a, Catalog* b, int n) {
  AllocatedIds ids;
  std::thread ta([&] {
    for (int i = 0; i < n; ++i) ids.a.push_back(*a->AllocateSegmentId());
  });
  std::thread tb([&] {
    for (int i = 0; i < n; ++i) ids.b.push_back(*b->AllocateSegmentId());
  });
  ta.join();
  tb.join();
  ids.all.insert(ids.a.begin(), ids.a.end());
  ids.all.insert(ids.b.begin(), ids.b.end());
  return ids;
}

// One implementation under test: opens the catalog that lives in "dir" (the same one on every
// call, so that reopening and a second instance can be tested).
struct Implementation {
  std::string name;
  std::function<Result<std::unique_ptr<Catalog>>(const std::filesystem::path& dir)> open;
};

#ifdef SAWMILL_CATALOG_TEST_PG
// One schema per test directory, so tests running at once never see each other's rows.
std::string SchemaFor(const std::filesystem::path& dir) {
  return "t" + std::to_string(std::hash<std::string>{}(dir.string()));
}

// Runs "sql" through a connection of its own; returns the first value of the first row.
std::string PgSql(const std::string& sql) {
  PGconn* conn = PQconnectdb(PgTestUrl().c_str());
  EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
      << sql << ": " << PQresultErrorMessage(r);
  std::string value = st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  PQfinish(conn);
  return value;
}

std::vector<Implementation> Implementations() {
  return {
      {"postgresql",
       [](const std::filesystem::path& dir) {
         return OpenPostgresCatalog(PgTestUrl(), {.schema = SchemaFor(dir)});
       }},
  };
}
#else
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
#endif

class CatalogTest : public ::testing::TestWithParam<Implementation> {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
#ifdef SAWMILL_CATALOG_TEST_PG
    PgSql("DROP SCHEMA IF EXISTS " + SchemaFor(dir_) + " CASCADE");
#endif
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
#ifdef SAWMILL_CATALOG_TEST_PG
    PgSql("DROP SCHEMA IF EXISTS " + SchemaFor(dir_) + " CASCADE");
#endif
  }
  std::unique_ptr<Catalog> OpenCatalog() {
    auto c = GetParam().open(dir_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  // "count" connections to the one catalog (nodes racing each other); a failed open is null.
  std::vector<std::unique_ptr<Catalog>> OpenCatalogs(int count) {
    std::vector<std::unique_ptr<Catalog>> catalogs;
    for (int n = 0; n < count; ++n) catalogs.push_back(OpenCatalog());
    return catalogs;
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

TEST_P(CatalogTest, TokensAreStoredListedAndRevoked) {
  auto c = OpenCatalog();
  TokenRow t{"id1", "ci", {"a", "b"}, "reader", "ab12", 5, 0, 0, "admin"};
  ASSERT_TRUE(c->InsertToken(t).ok());
  EXPECT_EQ(c->InsertToken(t).code(), StatusCode::kAlreadyExists);
  TokenRow platform{"id0", "root", {}, "platform-admin", "cd34", 4, 99, 0, ""};
  ASSERT_TRUE(c->InsertToken(platform).ok());
  auto rows = c->ListTokens();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], platform);  // by creation time
  EXPECT_EQ((*rows)[1], t);
  ASSERT_TRUE(c->RevokeToken("id1", 7).ok());
  ASSERT_TRUE(c->RevokeToken("id1", 8).ok());  // kept as it was
  EXPECT_TRUE(c->RevokeToken("nope", 8).IsNotFound());
  EXPECT_EQ((*c->ListTokens())[1].revoked_ns, 7);
}

TEST_P(CatalogTest, TenantQuotaRowsAreReplacedRemovedAndSurviveAReopen) {
  {
    auto c = OpenCatalog();
    ASSERT_TRUE(c->PutTenantQuota({"b", "max_queries=4", 10, "root"}).ok());
    ASSERT_TRUE(c->PutTenantQuota({"a", "max_queries=1", 11, "root"}).ok());
    ASSERT_TRUE(c->PutTenantQuota({"a", "scanned_bytes_per_hour=1GiB", 12, "ops"}).ok());
    ASSERT_TRUE(c->PutTenantQuota({"c", "max_queries=2", 13, ""}).ok());
    ASSERT_TRUE(c->PutTenantQuota({"c", "", 14, ""}).ok());  // removed
    ASSERT_TRUE(c->PutTenantQuota({"d", "", 15, ""}).ok());  // nothing to remove
  }
  auto c = OpenCatalog();
  auto rows = c->ListTenantQuotas();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (TenantQuotaRow{"a", "scanned_bytes_per_hour=1GiB", 12, "ops"}));
  EXPECT_EQ((*rows)[1], (TenantQuotaRow{"b", "max_queries=4", 10, "root"}));
}

TEST_P(CatalogTest, ScanUsageRowsAreReplacedPrunedAndSurviveAReopen) {
  {
    auto c = OpenCatalog();
    ASSERT_TRUE(c->PutScanUsage({{"b", 100, 7}, {"a", 101, 5}, {"a", 100, 3}}, 50).ok());
    // The same minute again replaces its bytes; an empty write still prunes.
    ASSERT_TRUE(c->PutScanUsage({{"a", 101, 9}, {"a", 160, 1}}, 100).ok());
    ASSERT_TRUE(c->PutScanUsage({}, 101).ok());  // minute 100 leaves the hour
  }
  auto c = OpenCatalog();
  auto rows = c->ListScanUsage(0);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(*rows, (std::vector<ScanUsageRow>{{"a", 101, 9}, {"a", 160, 1}}));  // by tenant, minute
  auto recent = c->ListScanUsage(102);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(*recent, (std::vector<ScanUsageRow>{{"a", 160, 1}}));
  // Large counts (terabytes) round-trip.
  ASSERT_TRUE(c->PutScanUsage({{"big", 200, uint64_t{5} << 40}}, 0).ok());
  EXPECT_EQ((*c->ListScanUsage(200))[0].bytes, uint64_t{5} << 40);
}

TEST_P(CatalogTest, AuditEntriesAppendFilterAndPruneBehindAnAnchor) {
  auto c = OpenCatalog();
  EXPECT_FALSE(c->LastAudit()->has_value());
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    AuditRow a;
    a.seq = seq;
    a.at_ns = static_cast<int64_t>(seq) * 10;
    a.who = seq % 2 ? "alice" : "bob";
    a.tenant = "t1";
    a.action = "search";
    a.query = "level=ERROR \"caf\u00e9\"";
    a.rows = static_cast<int64_t>(seq);
    a.status = 200;
    a.prev_hash = "h" + std::to_string(seq - 1);
    a.hash = "h" + std::to_string(seq);
    ASSERT_TRUE(c->AppendAudit(a).ok());
  }
  AuditRow dup;
  dup.seq = 3;
  EXPECT_EQ(c->AppendAudit(dup).code(), StatusCode::kAlreadyExists);
  AuditFilter f;
  f.who = "alice";
  f.since_ns = 20;
  auto rows = c->ListAudit(f);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].seq, 3u);
  EXPECT_EQ((*rows)[0].query, "level=ERROR \"caf\u00e9\"");
  EXPECT_EQ((*c->LastAudit())->seq, 5u);
  EXPECT_EQ(*c->PruneAudit(35), 3u);  // entries at 10, 20, 30
  EXPECT_EQ(*c->GetAuditAnchor(), (AuditAnchor{3, "h3"}));
  EXPECT_EQ(c->ListAudit({})->size(), 2u);
}

AuditFilter AllAudit() {
  AuditFilter f;
  f.limit = 1000;
  return f;
}

// Two nodes sharing the catalog (two handles; one for the exclusive SQLite catalog, which one
// process holds) append to the audit log at once: every entry is recorded once, in one chain
// whose seqs have no gap and whose every prev_hash is the hash of the entry before it.
TEST_P(CatalogTest, TwoNodesAppendingAuditEntriesAtOnceExtendOneChain) {
  const bool one_connection = GetParam().name == "sqlite";
  auto first = OpenCatalog();
  auto second = one_connection ? nullptr : OpenCatalog();
  Catalog* nodes[2] = {first.get(), one_connection ? first.get() : second.get()};
  auto hash = [](const AuditRow& r) {
    return std::to_string(std::hash<std::string>{}(r.prev_hash + "|" + std::to_string(r.seq) + "|" +
                                                   r.who + "|" + r.query));
  };
  // An entry before the race, then a prune that leaves none: the chain goes on from the anchor.
  AuditRow early;
  early.at_ns = 5;
  early.who = "node-0";
  early.query = "early";
  auto stored = nodes[0]->AppendAuditChained(early, 1, hash);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->seq, 1u);
  EXPECT_EQ(stored->prev_hash, "");
  ASSERT_EQ(*nodes[1]->PruneAudit(10), 1u);
  constexpr int kEach = 60;
  std::vector<std::thread> threads;
  for (int n = 0; n < 2; ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < kEach; ++i) {
        AuditRow row;
        row.at_ns = 100 + i;
        row.who = "node-" + std::to_string(n);
        row.query = "q" + std::to_string(i);
        auto r = nodes[n]->AppendAuditChained(row, 1, hash);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_GE(r->seq, 2u);
        EXPECT_EQ(r->hash, hash(*r));
      }
    });
  }
  for (auto& t : threads) t.join();
  auto rows = first->ListAudit(AllAudit());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), size_t{2 * kEach});
  std::string prev = stored->hash;  // the anchor's
  std::set<std::string> entries;
  for (size_t i = 0; i < rows->size(); ++i) {
    const AuditRow& r = (*rows)[i];
    EXPECT_EQ(r.seq, i + 2);
    EXPECT_EQ(r.prev_hash, prev) << "entry " << r.seq;
    EXPECT_EQ(r.hash, hash(r)) << "entry " << r.seq;
    prev = r.hash;
    EXPECT_TRUE(entries.insert(r.who + "/" + r.query).second) << r.who << "/" << r.query;
  }
  // "min_seq" above the head leaves a gap (entries deleted from the end stay visible).
  AuditRow late;
  late.who = "node-1";
  auto gap = nodes[1]->AppendAuditChained(late, 2 * kEach + 5, hash);
  ASSERT_TRUE(gap.ok()) << gap.status().ToString();
  EXPECT_EQ(gap->seq, uint64_t{2 * kEach + 5});
  EXPECT_EQ(gap->prev_hash, prev);
}

TEST_P(CatalogTest, AlertStatesTransitionsAndRulesRoundTrip) {
  auto c = OpenCatalog();
  AlertStateRow firing{"t1", "errors", "service=api", "firing", 10, 20, 30, 51.5};
  AlertStateRow pending{"t1", "quiet", "", "pending", 11, 11, 0, 0};
  std::vector<AlertTransitionRow> tr;
  for (int i = 0; i < 5; ++i) {
    tr.push_back({0, "t1", "errors", "service=api", "inactive", "pending", 100 + i, 1.0 * i});
  }
  ASSERT_TRUE(c->SaveAlertStates({firing, pending}, {}, tr, 3).ok());
  ASSERT_TRUE(c->SaveAlertStates({}, {pending}, {}, 3).ok());
  auto states = c->ListAlertStates();
  ASSERT_TRUE(states.ok()) << states.status().ToString();
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0], firing);
  auto history = c->ListAlertTransitions("t1", "", 0, 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);  // trimmed to the newest three
  EXPECT_EQ((*history)[0].at_ns, 104);
  EXPECT_GT((*history)[0].id, (*history)[1].id);
  EXPECT_TRUE(c->ListAlertTransitions("t2", "", 0, 10)->empty());
  ASSERT_TRUE(c->PutAlertRule({"t1", "r", "filter: x", 5}).ok());
  ASSERT_TRUE(c->PutAlertRule({"t1", "r", "filter: y", 6}).ok());
  EXPECT_TRUE(c->DeleteAlertRule("t1", "other").IsNotFound());
  auto rules = c->ListAlertRules();
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ((*rules)[0].definition, "filter: y");
}

TEST_P(CatalogTest, RetentionChangesAreRecordedAndADecisionMadeBeforeThemIsRefused) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  RetentionEventRow who;
  who.at_ns = 50;
  who.actor = "ops";
  who.reason = "INC-4211";
  auto hold =
      c->AddHold({0, "t1", 0, 100, "service=payments", "INC-4211", "ops", 50, 0, "", ""}, who);
  ASSERT_TRUE(hold.ok()) << hold.status().ToString();
  EXPECT_GT(hold->id, 0u);
  ASSERT_TRUE(c->SetRetentionPolicy({"t1", 10, -1, -1, 5, 51, "ops"}, who).ok());
  auto rule = c->AddComplianceRule({0, "", "payments*", 99, "SOX", 52, "ops"}, who);
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(c->ListComplianceRules()->size(), 1u);
  ASSERT_TRUE(c->RemoveComplianceRule(rule->id, who).ok());
  EXPECT_TRUE(c->RemoveComplianceRule(rule->id, who).IsNotFound());
  const uint64_t decided = *c->LastRetentionEventId();
  // A hold released after the decision: the deletion is refused and nothing changes.
  auto released = c->ReleaseHold(hold->id, who);
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released->released_by, "ops");
  EXPECT_EQ(c->ReleaseHold(hold->id, who).status().code(), StatusCode::kFailedPrecondition);
  RetiredSegmentRow r1{1, "t1", 3, 100, 199, "local", "p/1.seg", 60};
  RetentionEventRow del = who;
  del.action = "segment_delete";
  del.segment_id = 1;
  EXPECT_EQ(c->RetireSegments({r1}, {del}, decided).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->List()->size(), 2u);
  ASSERT_TRUE(c->RetireSegments({r1}, {del}, *c->LastRetentionEventId()).ok());
  EXPECT_EQ(c->List()->size(), 1u);
  EXPECT_EQ(*c->ListRetiredSegments(), (std::vector<RetiredSegmentRow>{r1}));
  RetiredSegmentRow r9{9, "t1", 3, 0, 0, "local", "p/9.seg", 60};
  EXPECT_TRUE(c->RetireSegments({r9}, {}, *c->LastRetentionEventId()).IsNotFound());
  auto events = c->ListRetentionEvents({});
  ASSERT_TRUE(events.ok());
  std::vector<std::string> actions;
  for (const auto& e : *events) actions.push_back(e.action);
  EXPECT_EQ(actions,
            (std::vector<std::string>{"segment_delete", "hold_release", "compliance_remove",
                                      "compliance_add", "policy_set", "hold_add"}));
  RetentionEventFilter only_holds;
  only_holds.action = "hold_add";
  EXPECT_EQ(c->ListRetentionEvents(only_holds)->size(), 1u);
  EXPECT_EQ(c->ListHolds(true)->size(), 0u);
  EXPECT_EQ(c->ListHolds(false)->size(), 1u);
  EXPECT_EQ(c->ListRetentionPolicies()->at(0).max_bytes, 5);
  // Every field -1 removes the policy row.
  ASSERT_TRUE(c->SetRetentionPolicy({"t1", -1, -1, -1, -1, 53, "ops"}, who).ok());
  EXPECT_TRUE(c->ListRetentionPolicies()->empty());
}

// ---- WAL objects of cluster nodes (issue 20) ----

WalObjectRow WalObject(std::string node, uint64_t first, uint64_t last) {
  WalObjectRow w;
  w.name = "wal/" + node + "/" + std::to_string(first) + "-" + std::to_string(last) + ".wal";
  w.node = node;
  w.owner = node;
  w.first_seq = first;
  w.last_seq = last;
  w.bytes = 100 + first;
  w.batches = 2;
  w.min_ingest_ts = static_cast<int64_t>(first) * 10;
  w.max_ingest_ts = static_cast<int64_t>(last) * 10;
  w.created_ns = 77;
  w.state = std::string(kWalObjectUnflushed);
  return w;
}

TEST_P(CatalogTest, WalObjectsAreRegisteredListedByOwnerFlushedAndDeletedByTheirOwnerOnly) {
  auto c = OpenCatalog();
  const WalObjectRow a1 = WalObject("a", 1, 10), a2 = WalObject("a", 11, 20);
  const WalObjectRow b1 = WalObject("b", 1000, 1005);
  ASSERT_TRUE(c->RegisterWalObject(a2, {}).ok());
  ASSERT_TRUE(c->RegisterWalObject(b1, {}).ok());
  ASSERT_TRUE(c->RegisterWalObject(a1, {}).ok());
  EXPECT_EQ(c->RegisterWalObject(a1, {}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*c->ListWalObjects("a"), (std::vector<WalObjectRow>{a1, a2}));
  EXPECT_EQ(*c->ListWalObjects(""), (std::vector<WalObjectRow>{a1, a2, b1}));
  // Fencing: b cannot mark a's objects, and a refused mark changes nothing (all or nothing).
  EXPECT_EQ(c->MarkWalObjectsFlushed({b1.name, a1.name}, "b").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->ListWalObjects("b")->at(0).state, kWalObjectUnflushed);
  EXPECT_EQ(c->MarkWalObjectsFlushed({"wal/a/404.wal"}, "a").code(),
            StatusCode::kFailedPrecondition);
  // Only flushed rows of their owner are deleted.
  EXPECT_EQ(*c->DeleteWalObjects({a1.name, a2.name}, "a"), 0u);
  ASSERT_TRUE(c->MarkWalObjectsFlushed({a1.name}, "a").ok());
  EXPECT_EQ(c->ListWalObjects("a")->at(0).state, kWalObjectFlushed);
  EXPECT_EQ(*c->DeleteWalObjects({a1.name}, "b"), 0u);
  EXPECT_EQ(*c->DeleteWalObjects({a1.name, a2.name}, "a"), 1u);
  EXPECT_EQ(*c->ListWalObjects("a"), (std::vector<WalObjectRow>{a2}));
}

constexpr int64_t kNoCheck = INT64_MAX;

TEST_P(CatalogTest, ClaimedWalObjectsChangeOwnerOnceAndTheOldOwnerIsFencedOut) {
  auto c = OpenCatalog();
  // A node whose heartbeat is recent keeps its objects.
  ASSERT_TRUE(c->Heartbeat({"dead", "http://d", 1, 500}).ok());
  ASSERT_TRUE(c->Heartbeat({"live", "http://l", 1, 2000}).ok());
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(c->RegisterWalObject(WalObject("dead", 10 * i + 1, 10 * i + 9), {}).ok());
  }
  ASSERT_TRUE(c->RegisterWalObject(WalObject("live", 500, 510), {}).ok());
  WalObjectRow flushed = WalObject("dead", 900, 901);
  flushed.state = std::string(kWalObjectFlushed);
  ASSERT_TRUE(c->RegisterWalObject(flushed, {}).ok());
  EXPECT_TRUE(c->ClaimWalObjects({"dead", "live"}, "x", 10, 400)->empty());
  EXPECT_TRUE(c->ClaimWalObjects({"live"}, "x", 10, 1000)->empty());
  // Oldest first, at most "limit", never a flushed one nor another node's.
  auto first = c->ClaimWalObjects({"dead", "gone"}, "x", 3, 1000);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[0].first_seq, 1u);
  EXPECT_EQ((*first)[2].first_seq, 21u);
  for (const WalObjectRow& w : *first) {
    EXPECT_EQ(w.owner, "x");
    EXPECT_EQ(w.node, "dead");
    EXPECT_EQ(w.claims, 1u);
  }
  auto rest = c->ClaimWalObjects({"dead"}, "y", 10, kNoCheck);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 2u);
  EXPECT_TRUE(c->ClaimWalObjects({"dead"}, "z", 10, kNoCheck)->empty());
  EXPECT_TRUE(c->ClaimWalObjects({}, "z", 10, kNoCheck)->empty());
  EXPECT_EQ(c->ListWalObjects("x")->size(), 3u);
  EXPECT_EQ(c->ListWalObjects("live")->size(), 1u);
  // The node that wrote them (come back to life) no longer answers for them.
  EXPECT_EQ(c->MarkWalObjectsFlushed({(*first)[0].name}, "dead").code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(c->MarkWalObjectsFlushed({(*first)[0].name}, "x").ok());
  EXPECT_EQ(*c->DeleteWalObjects({(*first)[0].name}, "x"), 1u);
}

// docs/cluster.md "Fenced answers": a querying node compares the generation a node answered
// under with the catalog's; every claim that took one of the node's objects must raise it.
TEST_P(CatalogTest, AClaimRaisesTheTakeoverGenerationOfEachNodeItTookObjectsFrom) {
  auto c = OpenCatalog();
  EXPECT_TRUE(c->ReadWalTakeovers()->empty());
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 1, 500}).ok());
  ASSERT_TRUE(c->Heartbeat({"b", "http://b", 1, 500}).ok());
  ASSERT_TRUE(c->Heartbeat({"live", "http://l", 1, 2000}).ok());
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(c->RegisterWalObject(WalObject("a", 10 * i + 1, 10 * i + 9), {}).ok());
  }
  ASSERT_TRUE(c->RegisterWalObject(WalObject("b", 100, 109), {}).ok());
  ASSERT_TRUE(c->RegisterWalObject(WalObject("live", 500, 510), {}).ok());
  // A claim that takes nothing raises nothing (a live owner keeps its objects).
  ASSERT_TRUE(c->ClaimWalObjects({"live"}, "x", 10, 1000)->empty());
  EXPECT_TRUE(c->ReadWalTakeovers()->empty());
  // One claim of several objects of two nodes: one step each, not one per object.
  ASSERT_EQ(c->ClaimWalObjects({"a", "b"}, "x", 3, 1000)->size(), 3u);
  EXPECT_EQ(*c->ReadWalTakeovers(), (std::map<std::string, uint64_t>{{"a", 1}}));
  ASSERT_EQ(c->ClaimWalObjects({"a", "b"}, "x", 10, 1000)->size(), 2u);
  EXPECT_EQ(*c->ReadWalTakeovers(), (std::map<std::string, uint64_t>{{"a", 2}, {"b", 1}}));
  // Taken over again from the taker: the taker's generation rises, the writer's stays.
  ASSERT_EQ(c->ClaimWalObjects({"x"}, "y", 1, kNoCheck)->size(), 1u);
  EXPECT_EQ(*c->ReadWalTakeovers(),
            (std::map<std::string, uint64_t>{{"a", 2}, {"b", 1}, {"x", 1}}));
  // Nothing left of a: no further step.
  ASSERT_TRUE(c->ClaimWalObjects({"a"}, "y", 10, kNoCheck)->empty());
  EXPECT_EQ(c->ReadWalTakeovers()->at("a"), 2u);
  // A node that restarts and claims its own objects raises its own: its earlier incarnation's
  // answers are taken over too.
  ASSERT_EQ(c->ClaimWalObjects({"live"}, "live", 10, kNoCheck)->size(), 1u);
  EXPECT_EQ(c->ReadWalTakeovers()->at("live"), 1u);
}

// A node that takes objects back (docs/cluster.md "Fenced flush") claims with its generation as
// it last confirmed it: when another claim took objects of it since (their rows may still be in
// its memtables), its claim takes nothing, checked in the claim's own transaction.
TEST_P(CatalogTest, AClaimOfANodeTakenOverSinceItConfirmedTakesNothing) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 1, 500}).ok());
  ASSERT_TRUE(c->Heartbeat({"dead", "http://d", 1, 100}).ok());
  ASSERT_TRUE(c->RegisterWalObject(WalObject("a", 1, 9), {}).ok());
  ASSERT_TRUE(c->RegisterWalObject(WalObject("dead", 100, 109), {}).ok());
  // a never taken over: generation 0 stands.
  auto none = c->ClaimWalObjects({"dead"}, "a", 10, 200, uint64_t{0});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->size(), 1u);
  // "dead" (alive a moment, its heartbeat old again) took a's object: a's generation is 1.
  ASSERT_EQ(c->ClaimWalObjects({"a"}, "dead", 10, kNoCheck)->size(), 2u);  // its own, and one
  ASSERT_TRUE(c->RegisterWalObject(WalObject("dead", 200, 209), {}).ok());
  const uint64_t dead_generation = c->ReadWalTakeovers()->at("dead");
  auto refused = c->ClaimWalObjects({"dead"}, "a", 10, 200, uint64_t{0});
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)
      << (refused.ok() ? "claimed " + std::to_string(refused->size())
                       : refused.status().ToString());
  EXPECT_EQ(c->ListWalObjects("dead")->size(), 3u) << "a refused claim took something";
  EXPECT_EQ(c->ReadWalTakeovers()->at("dead"), dead_generation)
      << "a refused claim raised a generation";
  // Once a has read its generation (1), and dropped what it lost, it takes them back.
  auto back = c->ClaimWalObjects({"dead"}, "a", 10, 200, uint64_t{1});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->size(), 3u);
}

TEST_P(CatalogTest, SeqBlocksNeverOverlapAndStartAboveEverySegmentAndTheFloor) {
  auto c = OpenCatalog();
  SegmentRow row = Row(1);
  row.min_seq = 5;
  row.max_seq = 4000;
  ASSERT_TRUE(c->Insert(row).ok());
  auto a = c->AllocateSeqs(1000, 0);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, 4001u);
  EXPECT_EQ(*c->AllocateSeqs(10, 0), 5001u);
  // A floor above what was handed out moves the next block up; one below does not.
  EXPECT_EQ(*c->AllocateSeqs(10, 9000), 9000u);
  EXPECT_EQ(*c->AllocateSeqs(10, 3), 9010u);
  EXPECT_EQ(c->AllocateSeqs(0, 0).status().code(), StatusCode::kInvalidArgument);
}

// Settings every node must share (docs/cluster.md "One partition count per store"): the first
// caller records its value; every later one, also after a reopen, is given that value and not
// its own, so that the caller can refuse to start. Each name is its own setting.
TEST_P(CatalogTest, TheFirstValueOfASettingIsKeptAndEveryLaterCallerIsGivenIt) {
  {
    auto c = OpenCatalog();
    ASSERT_NE(c, nullptr);
    auto first = c->SettleSetting("partitions", 8);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(*first, 8u);
    EXPECT_EQ(*c->SettleSetting("partitions", 8), 8u);
    EXPECT_EQ(*c->SettleSetting("partitions", 16), 8u);
    EXPECT_EQ(*c->SettleSetting("node_timeout_ns", 0), 0u);
    EXPECT_EQ(*c->SettleSetting("node_timeout_ns", 5), 0u);
    EXPECT_EQ(c->SettleSetting("", 1).status().code(), StatusCode::kInvalidArgument);
    // A setting is no other meta row: seq blocks go on as before.
    EXPECT_EQ(*c->SettleSetting("next_seq", 1u << 30), 1u << 30);
    EXPECT_EQ(*c->AllocateSeqs(10, 0), 1u);
  }
  auto reopened = OpenCatalog();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(*reopened->SettleSetting("partitions", 1), 8u);
  EXPECT_EQ(*reopened->SettleSetting("node_timeout_ns", 7), 0u);
}

// An operator's change of a cluster-wide setting (docs/cluster.md "Cluster-wide settings"):
// ReadSettings lists what is recorded and records nothing; ChangeSetting replaces a recorded
// value, and every later SettleSetting, also after a reopen, is given the new one.
TEST_P(CatalogTest, AChangedSettingIsWhatEveryLaterCallerIsGiven) {
  {
    auto c = OpenCatalog();
    ASSERT_NE(c, nullptr);
    auto none = c->ReadSettings();
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->empty());
    EXPECT_EQ(*c->SettleSetting("node_timeout", 10000), 10000u);
    EXPECT_EQ(*c->SettleSetting("partitions", 4), 4u);
    ASSERT_TRUE(c->AllocateSeqs(10, 0).ok());  // a meta row that is no setting
    ASSERT_TRUE(c->ChangeSetting("node_timeout", 15000).ok());
    ASSERT_TRUE(c->ChangeSetting("query_timeout", 30000).ok());  // none recorded before
    EXPECT_EQ(*c->SettleSetting("node_timeout", 10000), 15000u);
    EXPECT_EQ(c->ChangeSetting("", 1).code(), StatusCode::kInvalidArgument);
  }
  auto reopened = OpenCatalog();
  ASSERT_NE(reopened, nullptr);
  auto settings = reopened->ReadSettings();
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  const std::map<std::string, uint64_t> expected = {
      {"node_timeout", 15000}, {"partitions", 4}, {"query_timeout", 30000}};
  EXPECT_EQ(*settings, expected);
  EXPECT_EQ(*reopened->SettleSetting("query_timeout", 60000), 30000u);
}

// An operator's checked change (sawmill admin settings set): recorded only while the settings
// are what the operator checked it against; another change meanwhile refuses it.
TEST_P(CatalogTest, ACheckedSettingChangeIsRefusedWhenAnotherChangedMeanwhile) {
  auto c = OpenCatalog();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SettleSettings({{"node_heartbeat", 2000}, {"node_timeout", 10000}}).ok());
  const std::map<std::string, uint64_t> seen = *c->ReadSettings();
  // Two operators read the same settings; the first sets the heartbeat to 9s ...
  Status first = c->ChangeSettingIf(seen, {}, "node_heartbeat", 9000);
  ASSERT_TRUE(first.ok()) << first.ToString();
  // ... the second's node_timeout 5s, checked against heartbeat 2s, is refused.
  Status second = c->ChangeSettingIf(seen, {}, "node_timeout", 5000);
  EXPECT_EQ(second.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.message().find("changed meanwhile"), std::string::npos) << second.message();
  const std::map<std::string, uint64_t> after = {{"node_heartbeat", 9000}, {"node_timeout", 10000}};
  EXPECT_EQ(*c->ReadSettings(), after);
  EXPECT_TRUE(c->ChangeSettingIf(after, {}, "node_timeout", 20000).ok());
  EXPECT_EQ(c->ChangeSettingIf(after, {}, "", 1).code(), StatusCode::kInvalidArgument);
}

// A node registered between an operator's check and the write (docs/cluster.md "Cluster-wide
// settings"): the check did not count it and it may run the old value, so the write is refused;
// so is it after a restart of a node the check counted (another incarnation), not after a node
// left.
TEST_P(CatalogTest, ACheckedSettingChangeIsRefusedWhenANodeRegisteredMeanwhile) {
  auto c = OpenCatalog();
  ASSERT_NE(c, nullptr);
  const std::map<std::string, uint64_t> runs = {{"node_heartbeat", 2000}, {"node_timeout", 10000}};
  ASSERT_TRUE(c->SettleSettings(runs).ok());
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 1, 1000, 0, runs}).ok());
  ASSERT_TRUE(c->Heartbeat({"b", "http://b", 1, 1000, 0, runs}).ok());
  const std::map<std::string, uint64_t> seen = *c->ReadSettings();
  const std::map<std::string, int64_t> checked = {{"a", 1}, {"b", 1}};
  // Node c registers (and re-reads 10s) after the operator's look at the nodes.
  ASSERT_TRUE(c->Heartbeat({"c", "http://c", 5, 1000, 0, runs}).ok());
  Status refused = c->ChangeSettingIf(seen, checked, "node_timeout", 14000);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("a node registered meanwhile (c)"), std::string::npos)
      << refused.message();
  EXPECT_EQ(*c->ReadSettings(), seen) << "recorded with node c, unchecked, running 10s";
  ASSERT_TRUE(c->RemoveNode("c").ok());
  // Node a restarted meanwhile: another incarnation, which re-read the settings too.
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 7, 1000, 0, runs}).ok());
  refused = c->ChangeSettingIf(seen, checked, "node_timeout", 14000);
  EXPECT_NE(refused.message().find("a node registered meanwhile (a)"), std::string::npos)
      << refused.ToString();
  // Read again, and node b gone since: taken.
  ASSERT_TRUE(c->RemoveNode("b").ok());
  Status taken = c->ChangeSettingIf(seen, {{"a", 7}, {"b", 1}}, "node_timeout", 14000);
  EXPECT_TRUE(taken.ok()) << taken.ToString();
  EXPECT_EQ(c->ReadSettings()->at("node_timeout"), 14000u);
}

// Nodes starting at once, each with another value: exactly one is recorded and every node is
// given it (in PostgreSQL the upsert waits on the row another node inserts; in SQLite one
// writer at a time).
TEST_P(CatalogTest, NodesSettlingASettingAtOnceAreAllGivenOneValue) {
  const bool one_connection = GetParam().name == "sqlite";
  constexpr int kNodes = 4;
  std::vector<std::unique_ptr<Catalog>> catalogs = OpenCatalogs(one_connection ? 1 : kNodes);
  for (const auto& c : catalogs) ASSERT_NE(c, nullptr);
  uint64_t got[kNodes] = {};
  std::vector<std::thread> threads;
  for (int n = 0; n < kNodes; ++n) {
    threads.emplace_back([&, n] {
      Catalog* c = catalogs[one_connection ? 0 : n].get();
      auto r = c->SettleSetting("partitions", static_cast<uint64_t>(n + 1));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      got[n] = *r;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(got[0], 1u);
  EXPECT_LE(got[0], static_cast<uint64_t>(kNodes));
  for (int n = 1; n < kNodes; ++n) EXPECT_EQ(got[n], got[0]) << "node " << n;
}

// A setting is read without being recorded (a store of an earlier build has none: the caller
// decides what to record, docs/cluster.md "One partition count per store").
TEST_P(CatalogTest, ASettingIsReadWithoutRecordingIt) {
  auto c = OpenCatalog();
  ASSERT_NE(c, nullptr);
  auto none = c->ReadSetting("partitions");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(c->ReadSetting("partitions")->has_value()) << "reading recorded it";
  EXPECT_EQ(*c->SettleSetting("partitions", 6), 6u);
  EXPECT_EQ(c->ReadSetting("partitions")->value_or(0), 6u);
  EXPECT_FALSE(c->ReadSetting("next_seq")->has_value()) << "a setting is no other meta row";
  EXPECT_EQ(c->ReadSetting("").status().code(), StatusCode::kInvalidArgument);
}

// Runs "outer", a call on "committing", and from inside its commit (the commit hook; its first
// only, so that "inner" may run on the same catalog) starts "inner" on a thread of its own, which
// must still be waiting 300 ms later (for a lock "outer" holds). Returns once both have ended.
void StartDuringCommit(Catalog* committing, const std::function<void()>& outer,
                       const std::function<void()>& inner) {
  std::atomic<bool> inner_done{false}, started{false};
  std::thread thread;
  committing->SetCommitHook([&] {
    if (started.exchange(true)) return Status::OK();
    thread = std::thread([&] {
      inner();
      inner_done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(inner_done.load()) << "it did not wait for the commit";
    return Status::OK();
  });
  outer();
  committing->SetCommitHook(nullptr);
  ASSERT_TRUE(thread.joinable()) << "the commit hook never ran";
  thread.join();
}

// The store's segment format version (docs/cluster.md "Format version in a rolling upgrade"):
// raised only when one is recorded and every live node recorded that it reads the new one (a
// live node with no record, a build before, holds it back; a dead one does not), never
// lowered; a node's record returns the version as it stands.
TEST_P(CatalogTest, TheFormatVersionIsRaisedOnlyWhenEveryLiveNodeReadsIt) {
  {
    auto c = OpenCatalog();
    ASSERT_NE(c, nullptr);
    constexpr int64_t kAlive = 500;  // heartbeats at or after it are live
    EXPECT_EQ(*c->RaiseFormatVersion(12, kAlive), 0u) << "nothing recorded: nothing to raise";
    EXPECT_FALSE(c->ReadSetting("format_version")->has_value());
    EXPECT_EQ(*c->SettleSetting("format_version", 10), 10u);
    for (const char* id : {"old", "new", "quiet"}) {
      ASSERT_TRUE(c->Heartbeat({id, std::string("http://") + id, 1, 1000}).ok());
    }
    ASSERT_TRUE(c->Heartbeat({"dead", "http://dead", 1, 10}).ok());
    EXPECT_EQ(*c->RecordNodeFormat("old", 10), 10u);
    EXPECT_EQ(*c->RecordNodeFormat("new", 12), 10u);
    EXPECT_EQ(*c->RaiseFormatVersion(12, kAlive), 10u) << "node old reads 10";
    EXPECT_EQ(*c->RecordNodeFormat("old", 12), 10u);  // upgraded and restarted
    EXPECT_EQ(*c->RaiseFormatVersion(12, kAlive), 10u) << "node quiet never said what it reads";
    ASSERT_TRUE(c->RemoveNode("quiet").ok());
    EXPECT_EQ(*c->RaiseFormatVersion(12, kAlive), 12u) << "node dead is not asked";
    EXPECT_EQ(c->ReadSetting("format_version")->value_or(0), 12u);
    EXPECT_EQ(*c->RecordNodeFormat("dead", 10), 12u);  // it learns the store is newer
    EXPECT_EQ(*c->RaiseFormatVersion(11, kAlive), 12u) << "never lowered";
    EXPECT_EQ(*c->RaiseFormatVersion(13, INT64_MAX), 13u) << "a store held by one node";
    EXPECT_EQ(c->RecordNodeFormat("", 12).status().code(), StatusCode::kInvalidArgument);
  }
  auto reopened = OpenCatalog();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->ReadSetting("format_version")->value_or(0), 13u);
}

// The raise and a node's record at once (docs/cluster.md "Format version in a rolling
// upgrade"): node "back" ran a build reading 13 (its record says so) and restarts with one
// reading only 12 while node "new"'s takeover round raises the store from 12 to 13. Whichever
// commits first, the store must never be at 13 while back, live, was told 12 (it would write 12
// and fail to read 13). "open": the test's catalog (a second connection to it unless
// "one_connection"); "committing_first": "raise" or "record", the call whose commit the other
// one meets; "*told": what back's record returned; returns the store's version after both.
uint64_t RaiseAndRecordAtOnce(const std::function<std::unique_ptr<Catalog>()>& open,
                              bool one_connection, const std::string& committing_first,
                              uint64_t* told) {
  std::unique_ptr<Catalog> raiser = open();
  std::unique_ptr<Catalog> second = one_connection ? nullptr : open();
  Catalog* node = one_connection ? raiser.get() : second.get();
  if (raiser == nullptr || node == nullptr) return 0;
  constexpr int64_t kAlive = 500;  // heartbeats at or after it are live
  EXPECT_EQ(*raiser->SettleSetting("format_version", 12), 12u);
  for (const char* id : {"new", "back"}) {
    EXPECT_TRUE(raiser->Heartbeat({id, std::string("http://") + id, 1, 1000}).ok());
    EXPECT_EQ(*raiser->RecordNodeFormat(id, 13), 12u);
  }
  auto raise = [&] {
    auto raised = raiser->RaiseFormatVersion(13, kAlive);
    EXPECT_TRUE(raised.ok()) << raised.status().ToString();
  };
  auto record = [&] {
    auto recorded = node->RecordNodeFormat("back", 12);
    EXPECT_TRUE(recorded.ok()) << recorded.status().ToString();
    *told = recorded.ok() ? *recorded : 0;
  };
  if (committing_first == "raise") {
    StartDuringCommit(raiser.get(), raise, record);
  } else {
    StartDuringCommit(node, record, raise);
  }
  return raiser->ReadSetting("format_version")->value_or(0);
}

// The raise decided (back's old record said 13) and committing: back's record waits for it and
// is told 13, so back is refused at start (it reads only 12). Had the record read the version
// without waiting for the raise's lock, back would have been told 12 and run beside a store at
// 13.
TEST_P(CatalogTest, ANodeRecordingItsFormatWhileARaiseCommitsIsToldTheRaisedVersion) {
  uint64_t told = 0;
  const uint64_t store = RaiseAndRecordAtOnce([this] { return OpenCatalog(); },
                                              GetParam().name == "sqlite", "raise", &told);
  EXPECT_EQ(store, 13u) << "every live node had said it reads 13 when the raise decided";
  EXPECT_EQ(told, 13u) << "node back, reading only 12, was told the store is at 12";
}

// Back's record (12) committing while the raise starts: the raise waits for it and then counts
// it, so the store stays at 12. Had the raise decided before its lock (on back's old record,
// 13), it would have raised the store to 13 with back live and told 12.
TEST_P(CatalogTest, ARaiseWhileANodeRecordsItsFormatCountsTheRecord) {
  uint64_t told = 0;
  const uint64_t store = RaiseAndRecordAtOnce([this] { return OpenCatalog(); },
                                              GetParam().name == "sqlite", "record", &told);
  EXPECT_EQ(told, 12u);
  EXPECT_EQ(store, 12u) << "raised to 13 while node back, live, reads only 12 and was told 12";
}

// Nodes settling a set of settings at once, each with its own values (cluster-wide settings,
// docs/cluster.md): exactly one node's whole set is recorded, never a mix of two nodes' values,
// and a set of which any is recorded already records nothing.
TEST_P(CatalogTest, NodesSettlingSetsAtOnceRecordOneWholeSet) {
  const bool one_connection = GetParam().name == "sqlite";
  constexpr int kNodes = 4;
  std::vector<std::unique_ptr<Catalog>> catalogs = OpenCatalogs(one_connection ? 1 : kNodes);
  for (const auto& c : catalogs) ASSERT_NE(c, nullptr);
  std::vector<std::thread> threads;
  int recorded_by = -1, winners = 0;
  std::mutex mu;
  for (int n = 0; n < kNodes; ++n) {
    threads.emplace_back([&, n] {
      const uint64_t v = static_cast<uint64_t>(n + 1);
      const std::map<std::string, uint64_t> mine = {{"a", v}, {"b", 10 * v}, {"c", 100 * v}};
      auto r = catalogs[one_connection ? 0 : n]->SettleSettings(mine);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      std::lock_guard<std::mutex> l(mu);
      if (*r == mine) {
        recorded_by = n;
        ++winners;
      } else {
        EXPECT_TRUE(r->empty() || r->size() == 3) << "node " << n << " saw part of a set";
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(winners, 1);
  const uint64_t v = static_cast<uint64_t>(recorded_by + 1);
  const std::map<std::string, uint64_t> whole = {{"a", v}, {"b", 10 * v}, {"c", 100 * v}};
  EXPECT_EQ(*catalogs[0]->ReadSettings(), whole);
  auto partly = catalogs[0]->SettleSettings({{"a", 99}, {"d", 4}});
  ASSERT_TRUE(partly.ok());
  const std::map<std::string, uint64_t> only_a = {{"a", v}};
  EXPECT_EQ(*partly, only_a);
  EXPECT_EQ(catalogs[0]->ReadSettings()->count("d"), 0u);
  EXPECT_EQ(catalogs[0]->SettleSettings({{"", 1}}).status().code(), StatusCode::kInvalidArgument);
}

// ---- Segment changes (catalog.h "Segment changes") ----

// A node's view of the catalog's segments, kept up to date from ListSegmentChanges as the
// cluster's segment refresh keeps it (src/cluster/segment_refresh.*).
struct View {
  uint64_t last = 0;
  std::map<uint64_t, SegmentView> segments;
  int full_answers = 0;  // asked from a point other than 0 and told to start over

  // Applies every change after "last"; false when a call failed.
  bool CatchUp(const Catalog& c, size_t limit = 0) {
    while (true) {
      auto changes = c.ListSegmentChanges(last, limit);
      EXPECT_TRUE(changes.ok()) << changes.status().ToString();
      if (!changes.ok()) return false;
      if (changes->full) {
        if (last != 0) ++full_answers;
        segments.clear();
      }
      for (uint64_t id : changes->removed) segments.erase(id);
      for (const SegmentView& v : changes->segments) segments[v.row.id] = v;
      EXPECT_GE(changes->last, last);
      last = changes->last;
      if (!changes->more) return true;
    }
  }
  std::vector<SegmentRow> Rows() const {
    std::vector<SegmentRow> out;
    for (const auto& [id, v] : segments) out.push_back(v.row);
    return out;
  }
};

// A registration whose answer was lost is read back: its change number while registered and
// after it was removed, 0 for one never registered.
TEST_P(CatalogTest, ASegmentRegistrationIsReadBackAlsoAfterTheSegmentIsGone) {
  auto c = OpenCatalog();
  EXPECT_EQ(*c->SegmentRegistration(2), 0u);
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  auto registered = c->RegisterSegment(Row(2), "node-a", nullptr);
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  auto read = c->SegmentRegistration(2);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, *registered);
  // Registered without a node (Insert): a number at or above its change.
  EXPECT_GE(*c->SegmentRegistration(1), 1u);
  EXPECT_EQ(*c->SegmentRegistration(3), 0u);
  // Removed since (retention, compaction): still known as registered, by the same change.
  ASSERT_TRUE(c->Delete(2).ok());
  EXPECT_EQ(*c->SegmentRegistration(2), *registered);
}

TEST_P(CatalogTest, SegmentChangesAreListedSinceAPointWithTheNodeThatFlushedEach) {
  auto c = OpenCatalog();
  auto empty = c->ListSegmentChanges(0, 0);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->full);
  EXPECT_TRUE(empty->segments.empty());
  EXPECT_EQ(empty->last, 0u);

  ASSERT_TRUE(c->Insert(Row(1)).ok());
  auto registered = c->RegisterSegment(Row(2), "node-a", nullptr);
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  View view;
  ASSERT_TRUE(view.CatchUp(*c));
  EXPECT_EQ(view.full_answers, 0);
  EXPECT_EQ(view.last, *registered);
  ASSERT_EQ(view.segments.size(), 2u);
  EXPECT_EQ(view.segments[1], (SegmentView{Row(1), "", 0}));
  EXPECT_EQ(view.segments[2], (SegmentView{Row(2), "node-a", *registered}));

  // Nothing new: an empty answer at the same point, not a full one.
  auto none = c->ListSegmentChanges(view.last, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->full);
  EXPECT_TRUE(none->segments.empty() && none->removed.empty());
  EXPECT_EQ(none->last, view.last);

  // A refused registration changes nothing and takes no number.
  EXPECT_EQ(c->RegisterSegment(Row(2), "node-b", nullptr).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(c->RegisterSegment(Row(7), "", nullptr).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->ListSegmentChanges(view.last, 0)->last, view.last);

  // Every kind of change is seen: a state, a rewrite, a replacement (compaction), a retirement
  // (retention); the rows are as they are now.
  const uint64_t before = view.last;
  ASSERT_TRUE(c->SetState(1, kStateCorrupt).ok());
  SegmentRow moved = Row(2);
  moved.tier = std::string(kTierCold);
  moved.store = std::string(kColdStore);
  moved.path = "t1/2.seg";
  ASSERT_TRUE(c->Update({moved}).ok());
  ASSERT_TRUE(c->Replace({1}, {Row(3), Row(4)}).ok());
  auto b = c->RegisterSegment(Row(5), "node-b", nullptr);
  ASSERT_TRUE(b.ok());
  RetiredSegmentRow retired{4, "t1", 3, 400, 499, "local", Row(4).path, 60};
  RetentionEventRow event;
  event.at_ns = 60;
  event.actor = "retention";
  event.action = "segment_delete";
  event.tenant = "t1";
  event.segment_id = 4;
  ASSERT_TRUE(c->RetireSegments({retired}, {event}, *c->LastRetentionEventId()).ok());
  auto delta = c->ListSegmentChanges(before, 0);
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_FALSE(delta->full);
  EXPECT_EQ(delta->removed, (std::vector<uint64_t>{1, 4}));
  ASSERT_EQ(delta->segments.size(), 3u);
  EXPECT_EQ(delta->segments[0], (SegmentView{moved, "node-a", *registered}));
  EXPECT_EQ(delta->segments[1], (SegmentView{Row(3), "", 0}));
  EXPECT_EQ(delta->segments[2], (SegmentView{Row(5), "node-b", *b}));
  EXPECT_GT(*b, *registered);
  EXPECT_GE(delta->last, *b);

  // Asked in steps of one change, the view ends where one answer puts it.
  View stepwise;
  stepwise.last = before;
  stepwise.segments = view.segments;
  ASSERT_TRUE(stepwise.CatchUp(*c, 1));
  ASSERT_TRUE(view.CatchUp(*c));
  EXPECT_EQ(stepwise.segments, view.segments);
  EXPECT_EQ(stepwise.last, view.last);
  EXPECT_EQ(view.Rows(), *c->List());

  // A point this catalog never reached (another catalog's): a full answer.
  auto ahead = c->ListSegmentChanges(view.last + 1000, 0);
  ASSERT_TRUE(ahead.ok());
  EXPECT_TRUE(ahead->full);
  EXPECT_EQ(ahead->segments.size(), 3u);
}

TEST_P(CatalogTest, PrunedSegmentChangesGiveAReaderBehindThemAFullAnswer) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->RegisterSegment(Row(1), "a", nullptr).ok());
  View behind;
  ASSERT_TRUE(behind.CatchUp(*c));
  ASSERT_TRUE(c->RegisterSegment(Row(2), "a", nullptr).ok());
  ASSERT_TRUE(c->Delete(1).ok());
  View current;
  ASSERT_TRUE(current.CatchUp(*c));
  // Changes from now on are not old enough to go.
  EXPECT_EQ(*c->PruneSegmentChanges(0), 0u);
  auto gone = c->PruneSegmentChanges(INT64_MAX);
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(*gone, 3u);
  // The reader that had seen everything goes on with changes; the one behind starts over.
  ASSERT_TRUE(c->RegisterSegment(Row(3), "b", nullptr).ok());
  ASSERT_TRUE(current.CatchUp(*c));
  EXPECT_EQ(current.full_answers, 0);
  ASSERT_TRUE(behind.CatchUp(*c));
  EXPECT_EQ(behind.full_answers, 1);
  EXPECT_EQ(behind.segments, current.segments);
  EXPECT_EQ(current.Rows(), *c->List());
  EXPECT_EQ(current.segments[3].node, "b");
  // Numbers go on after a reopen.
  const uint64_t last = current.last;
  c.reset();
  c = OpenCatalog();
  auto next = c->RegisterSegment(Row(4), "b", nullptr);
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, last);
  ASSERT_TRUE(current.CatchUp(*c));
  EXPECT_EQ(current.full_answers, 0);
  EXPECT_EQ(current.Rows(), *c->List());
}

// Writers on several connections register and remove segments while a reader follows the
// changes: numbers become visible in order, so the reader never skips one that commits late,
// and its view ends equal to the catalog's.
TEST_P(CatalogTest, AReaderFollowingChangesWhileOthersWriteMissesNone) {
  const bool one_connection = GetParam().name == "sqlite";  // exclusive: one connection only
  auto first = OpenCatalog();
  constexpr int kWriters = 3, kPerWriter = 40;
  std::vector<std::unique_ptr<Catalog>> writers;
  for (int w = 0; w < kWriters && !one_connection; ++w) writers.push_back(OpenCatalog());
  auto writer = [&](int w) -> Catalog& { return one_connection ? *first : *writers[w]; };
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const uint64_t id = static_cast<uint64_t>(w * 1000 + i + 1);
        auto r = writer(w).RegisterSegment(Row(id), "w" + std::to_string(w), nullptr);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        if (i % 3 == 2) {
          ASSERT_TRUE(writer(w).Delete(id - 1).ok());
        }
      }
    });
  }
  View view;
  int rounds = 0;
  std::thread reader([&] {
    while (!done.load()) {
      if (!view.CatchUp(*first)) return;
      ++rounds;
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  ASSERT_TRUE(view.CatchUp(*first));
  EXPECT_EQ(view.full_answers, 0);
  EXPECT_GT(rounds, 1);
  EXPECT_EQ(view.Rows(), *first->List());
  EXPECT_EQ(view.segments.size(), size_t{kWriters * (kPerWriter - kPerWriter / 3)});
}

// ---- Fenced flush of cluster nodes (issue 20; catalog.h RegisterSegment's fence) ----

TEST_P(CatalogTest, ASegmentIsRegisteredOnlyWhileItsNodeOwnsItsWalObjectsAsThatIncarnation) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 10, 500}).ok());
  const WalObjectRow a1 = WalObject("a", 1, 10), a2 = WalObject("a", 11, 20);
  const WalObjectRow a3 = WalObject("a", 21, 30);
  for (const WalObjectRow& w : {a1, a2, a3}) ASSERT_TRUE(c->RegisterWalObject(w, {}).ok());
  auto fence = [](int64_t incarnation, std::vector<std::string> objects,
                  std::vector<std::string> mark) {
    return Catalog::WalFence{incarnation, std::move(objects), std::move(mark), {"stale"}};
  };
  View view;
  ASSERT_TRUE(view.CatchUp(*c));
  // Owned, current incarnation: the segment, its origin and the marking in one transaction,
  // numbered as any registration.
  SegmentRow first = Row(1);
  first.min_seq = 1;
  first.max_seq = 15;
  Catalog::WalFence f = fence(10, {a1.name, a2.name}, {a1.name});
  auto registered = c->RegisterSegment(first, "a", &f);
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  EXPECT_TRUE(f.lost.empty());
  EXPECT_TRUE(c->Get(1)->has_value());
  auto rows = c->ListWalObjects("a");
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].state, kWalObjectFlushed);
  EXPECT_EQ((*rows)[1].state, kWalObjectUnflushed);
  ASSERT_TRUE(view.CatchUp(*c));
  EXPECT_EQ(view.last, *registered);
  EXPECT_EQ(view.segments[1], (SegmentView{first, "a", *registered}));
  // A duplicate id changes nothing.
  f = fence(10, {a2.name}, {a2.name});
  EXPECT_EQ(c->RegisterSegment(first, "a", &f).status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(f.lost.empty());
  EXPECT_EQ(c->ListWalObjects("a")->at(1).state, kWalObjectUnflushed);

  // a stalled past node_timeout: b took a2 over. A segment holding a2's records is refused,
  // and so is one marking it; nothing of either is stored, no number taken; the answer names a2.
  ASSERT_EQ(c->ClaimWalObjects({"a"}, "b", 1, 1000)->size(), 1u);
  const uint64_t before_refusals = c->ListSegmentChanges(view.last, 0)->last;
  SegmentRow second = Row(2);
  second.min_seq = 11;
  second.max_seq = 25;
  f = fence(10, {a2.name, a3.name}, {});
  auto refused = c->RegisterSegment(second, "a", &f);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)
      << refused.status().ToString();
  EXPECT_EQ(f.lost, std::vector<std::string>{a2.name});
  EXPECT_FALSE(c->Get(2)->has_value());
  f = fence(10, {a3.name}, {a2.name, a3.name});
  EXPECT_EQ(c->RegisterSegment(second, "a", &f).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.lost, std::vector<std::string>{a2.name});
  EXPECT_EQ(c->ListWalObjects("a")->at(1).state, kWalObjectUnflushed);  // a3 unmarked
  EXPECT_EQ(c->ListSegmentChanges(view.last, 0)->last, before_refusals);
  // What a still owns goes through, with its origin.
  f = fence(10, {a3.name}, {});
  auto second_registered = c->RegisterSegment(second, "a", &f);
  ASSERT_TRUE(second_registered.ok()) << second_registered.status().ToString();
  EXPECT_TRUE(f.lost.empty());
  EXPECT_GT(*second_registered, *registered);
  ASSERT_TRUE(view.CatchUp(*c));
  EXPECT_EQ(view.segments[2], (SegmentView{second, "a", *second_registered}));

  // A later incarnation of a registered: the earlier one is fenced out of everything, and its
  // heartbeat cannot take the id back.
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 20, 600}).ok());
  EXPECT_EQ(c->Heartbeat({"a", "http://a-old", 10, 700}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->ListNodes()->at(0), (NodeRow{"a", "http://a", 20, 600}));
  SegmentRow third = Row(3);
  third.min_seq = 21;
  third.max_seq = 30;
  f = fence(10, {a3.name}, {a3.name});
  EXPECT_EQ(c->RegisterSegment(third, "a", &f).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.lost, std::vector<std::string>{a3.name});
  EXPECT_FALSE(c->Get(3)->has_value());
  f = fence(20, {a3.name}, {a3.name});
  ASSERT_TRUE(c->RegisterSegment(third, "a", &f).ok());
  EXPECT_EQ(c->ListWalObjects("a")->at(1).state, kWalObjectFlushed);
  // An object nobody registered is owned by no one.
  SegmentRow fourth = Row(4);
  f = fence(20, {"wal/a/404.wal"}, {});
  EXPECT_EQ(c->RegisterSegment(fourth, "a", &f).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.lost, std::vector<std::string>{"wal/a/404.wal"});
  EXPECT_FALSE(c->Get(4)->has_value());
  // A node that removed its row (a clean stop, before its last flush) still registers what it
  // owns; another node's objects stay fenced.
  const WalObjectRow a4 = WalObject("a", 31, 40);
  ASSERT_TRUE(c->RegisterWalObject(a4, {}).ok());
  ASSERT_TRUE(c->RemoveNode("a").ok());
  f = fence(20, {a2.name}, {});
  EXPECT_EQ(c->RegisterSegment(fourth, "a", &f).status().code(), StatusCode::kFailedPrecondition);
  f = fence(20, {a4.name}, {a4.name});
  ASSERT_TRUE(c->RegisterSegment(fourth, "a", &f).ok());
  EXPECT_TRUE(c->Get(4)->has_value());
  ASSERT_TRUE(view.CatchUp(*c));
  EXPECT_EQ(view.Rows(), *c->List());
  EXPECT_EQ(view.segments[4].node, "a");
}

// A dead node is fenced out (FenceDeadNode) only as the incarnation that died, past the cutoff,
// once it owns no unflushed WAL object, and only while a segment it registered above its
// confirmed-through exists (docs/cluster.md "Compaction and tier moves on cluster nodes"). Its
// process is then refused like a replaced one, node_gone says since when, a second fence does
// not move that time, and a later process of the id heartbeats as usual. A clean stop
// (LeaveCluster) removes only its own incarnation's row and records when it left.
TEST_P(CatalogTest, ADeadNodeIsFencedOnlyWhileItHoldsBackItsSegmentsAndOwnsNoWalObject) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 10, 100, 0}).ok());
  ASSERT_TRUE(c->Heartbeat({"b", "http://b", 10, 1000, 0}).ok());
  EXPECT_FALSE(*c->FenceDeadNode("a", 10, 200, 300)) << "nothing of a's is held back";
  const WalObjectRow a1 = WalObject("a", 1, 10);
  ASSERT_TRUE(c->RegisterWalObject(a1, {}).ok());
  SegmentRow first = Row(1);
  first.min_seq = 1;
  first.max_seq = 5;
  Catalog::WalFence f{10, {a1.name}, {}, {}};
  auto registered = c->RegisterSegment(first, "a", &f);
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  EXPECT_FALSE(*c->FenceDeadNode("a", 10, 200, 300)) << "a still owns an unflushed object";
  ASSERT_EQ(c->ClaimWalObjects({"a"}, "b", 10, 200)->size(), 1u);
  EXPECT_FALSE(*c->FenceDeadNode("a", 10, 100, 300)) << "a is not dead before 100";
  EXPECT_FALSE(*c->FenceDeadNode("a", 9, 200, 300)) << "another incarnation";
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 10, 100, *registered}).ok());
  EXPECT_FALSE(*c->FenceDeadNode("a", 10, 200, 300)) << "a confirmed its segment";
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 10, 100, *registered - 1}).ok());
  EXPECT_TRUE(c->ListGoneNodes()->empty());

  const uint64_t claimed = c->ReadWalTakeovers()->at("a");
  ASSERT_TRUE(*c->FenceDeadNode("a", 10, 200, 300));
  EXPECT_EQ(c->ReadWalTakeovers()->at("a"), claimed + 1)
      << "a fence raises the takeover generation: an answer a gave before is left out";
  EXPECT_EQ(c->ListNodes()->at(0), (NodeRow{"a", "http://a", 300, 100, *registered - 1}));
  EXPECT_EQ(*c->ListGoneNodes(), (std::vector<GoneNodeRow>{{"a", 300, *registered - 1}}));
  EXPECT_EQ(c->Heartbeat({"a", "http://a", 10, 400}).code(), StatusCode::kFailedPrecondition);
  Catalog::WalFence late{10, {}, {}, {}};
  EXPECT_EQ(c->RegisterSegment(Row(2), "a", &late).status().code(), StatusCode::kFailedPrecondition)
      << "the fenced process registered a segment";
  EXPECT_FALSE(*c->FenceDeadNode("a", 300, 500, 600)) << "fenced twice";
  EXPECT_EQ(c->ReadWalTakeovers()->at("a"), claimed + 1) << "a fence that did not fence";
  EXPECT_EQ(c->ListGoneNodes()->at(0).gone_ns, 300);

  // A later process of the id: its heartbeat goes through; node_gone stays, older than it.
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 700, 701, 0}).ok());
  EXPECT_EQ(c->ListGoneNodes()->at(0).gone_ns, 300);
  EXPECT_FALSE(*c->FenceDeadNode("a", 700, 600, 900)) << "a confirmed nothing, but lives";
  // It stops cleanly: only as its own incarnation, and the time it left is kept.
  EXPECT_TRUE(c->LeaveCluster("a", 10, 800).IsNotFound());
  ASSERT_TRUE(c->LeaveCluster("a", 700, 800).ok());
  ASSERT_EQ(c->ListNodes()->size(), 1u);
  EXPECT_EQ(*c->ListGoneNodes(), (std::vector<GoneNodeRow>{{"a", 800, 0}}));
  EXPECT_TRUE(c->LeaveCluster("a", 700, 900).IsNotFound());
}

// A fence of a dead node's incarnation commits after its restart took its start time and
// before the restart's first heartbeat (a slow first heartbeat, or a fencing node whose clock is
// ahead): the fence's time is above the restart's. The restart registers all the same, since the
// fence was aimed at the earlier incarnation; the fenced process, and any older one, stays
// refused. Before, the restart was refused like the fenced process and had to be restarted again.
TEST_P(CatalogTest, ARestartRegistersOverAFenceAimedAtItsEarlierIncarnation) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 10, 100, 0}).ok());
  ASSERT_TRUE(c->Heartbeat({"b", "http://b", 10, 1000, 0}).ok());
  const WalObjectRow a1 = WalObject("a", 1, 10);
  ASSERT_TRUE(c->RegisterWalObject(a1, {}).ok());
  SegmentRow first = Row(1);
  first.min_seq = 1;
  first.max_seq = 5;
  Catalog::WalFence f{10, {a1.name}, {}, {}};
  ASSERT_TRUE(c->RegisterSegment(first, "a", &f).ok());
  ASSERT_EQ(c->ClaimWalObjects({"a"}, "b", 10, 200)->size(), 1u);
  ASSERT_TRUE(*c->FenceDeadNode("a", 10, 200, 300));
  // The fenced process wakes: refused, saying so.
  Status woken = c->Heartbeat({"a", "http://a", 10, 310});
  EXPECT_EQ(woken.code(), StatusCode::kFailedPrecondition) << woken.ToString();
  EXPECT_NE(woken.ToString().find("fenced out"), std::string::npos) << woken.ToString();
  EXPECT_EQ(c->Heartbeat({"a", "http://a", 5, 310}).code(), StatusCode::kFailedPrecondition)
      << "an older process than the fenced one";
  // The restart started at 250, before the fence's 300: it registers.
  Status restarted = c->Heartbeat({"a", "http://a2", 250, 320, 0});
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  EXPECT_EQ(c->ListNodes()->at(0), (NodeRow{"a", "http://a2", 250, 320, 0}));
  EXPECT_TRUE(c->ListGoneNodes()->empty()) << "the id answers again";
  Catalog::WalFence mine{250, {}, {}, {}};
  EXPECT_TRUE(c->RegisterSegment(Row(2), "a", &mine).ok()) << "the restart's flush is refused";
  // The fenced process is still refused, by the restart's row now, and cannot register.
  EXPECT_EQ(c->Heartbeat({"a", "http://a", 10, 330}).code(), StatusCode::kFailedPrecondition);
  Catalog::WalFence old{10, {}, {}, {}};
  EXPECT_EQ(c->RegisterSegment(Row(3), "a", &old).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->ListNodes()->at(0).started_ns, 250);
  // A plain later incarnation (no fence) still keeps its row from an earlier one.
  ASSERT_TRUE(c->Heartbeat({"b", "http://b", 2000, 2001, 0}).ok());
  EXPECT_EQ(c->Heartbeat({"b", "http://b", 1500, 2002}).code(), StatusCode::kFailedPrecondition);
}

// ---- Idempotency-Keys across nodes (issue 20; docs/cluster.md) ----

IdempotencyClaimRow Claim(std::string node, int64_t started, std::string key, int64_t at) {
  IdempotencyClaimRow c;
  c.tenant = "t1";
  c.key = std::move(key);
  c.body_hash = 0xfedcba9876543210ull;  // above INT64_MAX: stored as its bits
  c.node = std::move(node);
  c.node_started_ns = started;
  c.state = std::string(kIdempotencyPending);
  c.created_ns = at;
  return c;
}

TEST_P(CatalogTest, AnIdempotencyKeyIsClaimedByOneNodeAndItsAnswerSeenByAll) {
  const bool one_connection = GetParam().name == "sqlite";
  auto first = OpenCatalog();
  auto second = one_connection ? nullptr : OpenCatalog();
  Catalog& a = *first;
  Catalog& b = one_connection ? *first : *second;
  constexpr int64_t kNow = 1'000'000, kExpire = 0, kAlive = 900'000;
  ASSERT_TRUE(a.Heartbeat({"a", "http://a", 10, kNow}).ok());
  ASSERT_TRUE(b.Heartbeat({"b", "http://b", 20, kNow}).ok());
  // a claims; b, at once after, gets a's pending claim.
  const IdempotencyClaimRow mine = Claim("a", 10, "k1", kNow);
  EXPECT_EQ(*a.ClaimIdempotencyKey(mine, kExpire, kAlive), mine);
  EXPECT_EQ(*b.ClaimIdempotencyKey(Claim("b", 20, "k1", kNow + 1), kExpire, kAlive), mine);
  // Stored: b sees the answer, and cannot claim.
  IdempotencyClaimRow done = mine;
  done.answer = "5,0,0,0";
  done.first_seq = 1'000'001;
  done.count = 5;
  ASSERT_TRUE(a.CompleteIdempotencyKey(done, false, kExpire).ok());
  done.state = std::string(kIdempotencyDone);
  EXPECT_EQ(**b.GetIdempotencyKey("t1", "k1"), done);
  EXPECT_EQ(*b.ClaimIdempotencyKey(Claim("b", 20, "k1", kNow + 2), kExpire, kAlive), done);
  EXPECT_FALSE(b.GetIdempotencyKey("t2", "k1")->has_value());  // keys are per tenant
  // Completing a claim one does not hold is refused; an adopted batch keeps a done row.
  EXPECT_EQ(b.CompleteIdempotencyKey(Claim("b", 20, "k1", kNow), false, kExpire).code(),
            StatusCode::kFailedPrecondition);
  IdempotencyClaimRow other = Claim("b", 20, "k1", kNow + 3);
  other.answer = "9,0,0,0";
  ASSERT_TRUE(b.CompleteIdempotencyKey(other, true, kExpire).ok());
  EXPECT_EQ(**a.GetIdempotencyKey("t1", "k1"), done);
  // A released claim frees the key.
  const IdempotencyClaimRow k2 = Claim("a", 10, "k2", kNow);
  ASSERT_EQ(*a.ClaimIdempotencyKey(k2, kExpire, kAlive), k2);
  ASSERT_TRUE(a.ReleaseIdempotencyKey(k2).ok());
  EXPECT_FALSE(a.GetIdempotencyKey("t1", "k2")->has_value());
  const IdempotencyClaimRow k2b = Claim("b", 20, "k2", kNow);
  EXPECT_EQ(*b.ClaimIdempotencyKey(k2b, kExpire, kAlive), k2b);
  // A row older than the window is claimed anew.
  const IdempotencyClaimRow k3b = Claim("b", 20, "k3", kNow);
  ASSERT_TRUE(a.ClaimIdempotencyKey(Claim("a", 10, "k3", 5), kExpire, kAlive).ok());
  EXPECT_EQ(*b.ClaimIdempotencyKey(k3b, /*expire_before_ns=*/6, kAlive), k3b);
  // An adopted batch (replayed from a WAL object) makes a pending claim done, or inserts.
  IdempotencyClaimRow replayed = Claim("a", 10, "k2", kNow + 4);
  replayed.answer = "1,0,0,0";
  ASSERT_TRUE(a.CompleteIdempotencyKey(replayed, true, kExpire).ok());
  EXPECT_EQ((*a.GetIdempotencyKey("t1", "k2"))->state, kIdempotencyDone);
  EXPECT_EQ((*a.GetIdempotencyKey("t1", "k2"))->answer, "1,0,0,0");
  replayed.key = "k4";
  ASSERT_TRUE(a.CompleteIdempotencyKey(replayed, true, kExpire).ok());
  EXPECT_EQ((*b.GetIdempotencyKey("t1", "k4"))->state, kIdempotencyDone);
  // Completion expires rows older than the window.
  ASSERT_TRUE(a.CompleteIdempotencyKey(replayed, true, /*expire_before_ns=*/kNow + 1).ok());
  EXPECT_FALSE(a.GetIdempotencyKey("t1", "k3")->has_value());
  EXPECT_TRUE(a.GetIdempotencyKey("t1", "k4")->has_value());
}

// Housekeeping of the claims: rows past the window go whatever their state; past that, the
// oldest done rows beyond the bound; a pending claim is never evicted by the bound.
TEST_P(CatalogTest, IdempotencyClaimsAreTrimmedByAgeAndTheDoneOnesByCount) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 10, 1000}).ok());
  for (int i = 0; i < 6; ++i) {
    IdempotencyClaimRow row = Claim("a", 10, "k" + std::to_string(i), 100 + i);
    ASSERT_EQ(*c->ClaimIdempotencyKey(row, 0, 0), row);
    if (i == 4) continue;  // k4 stays pending
    ASSERT_TRUE(c->CompleteIdempotencyKey(row, false, 0).ok());
  }
  // k0 (created 100) is past the window; of the rest, the two newest done rows are kept (k5,
  // k3) and pending k4 whatever its age.
  auto trimmed = c->TrimIdempotencyClaims(/*expire_before_ns=*/101, /*max_done=*/2);
  ASSERT_TRUE(trimmed.ok()) << trimmed.status().ToString();
  EXPECT_EQ(trimmed->first, 1u);
  EXPECT_EQ(trimmed->second, 2u);  // k1, k2
  for (int i = 0; i < 6; ++i) {
    const bool kept = i >= 3;
    EXPECT_EQ(c->GetIdempotencyKey("t1", "k" + std::to_string(i))->has_value(), kept) << i;
  }
  // Nothing more to do: nothing goes.
  trimmed = c->TrimIdempotencyClaims(101, 2);
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(*trimmed, std::make_pair(uint64_t{0}, uint64_t{0}));
  // A pending claim past the window goes (its key is forgotten, as any other).
  trimmed = c->TrimIdempotencyClaims(105, 100);
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(trimmed->first, 2u);  // k3, k4
  EXPECT_FALSE(c->GetIdempotencyKey("t1", "k4")->has_value());
}

// A pending claim of a node that stopped: kept while the node's heartbeat is current or one of
// the WAL objects it wrote (which may hold the batch, acknowledged) is still registered; taken
// once the node is dead and its objects are replayed and gone.
TEST_P(CatalogTest, APendingIdempotencyClaimOfADeadNodeIsTakenOnlyOnceItsWalObjectsAreGone) {
  auto c = OpenCatalog();
  constexpr int64_t kExpire = 0;
  ASSERT_TRUE(c->Heartbeat({"x", "http://x", 10, 1000}).ok());
  const IdempotencyClaimRow x = Claim("x", 10, "k", 500);
  ASSERT_EQ(*c->ClaimIdempotencyKey(x, kExpire, 900), x);
  // x alive (heartbeat 1000 >= 900): kept.
  EXPECT_EQ(*c->ClaimIdempotencyKey(Claim("y", 20, "k", 1100), kExpire, 900), x);
  // x dead, but a WAL object it wrote is registered (taken over by y, maybe not replayed).
  WalObjectRow object = WalObject("x", 1, 10);
  object.owner = "y";
  ASSERT_TRUE(c->RegisterWalObject(object, {}).ok());
  EXPECT_EQ(*c->ClaimIdempotencyKey(Claim("y", 20, "k", 1100), kExpire, 2000), x);
  // Restarted (incarnation 3000), its old objects still registered: kept; and its own release
  // of earlier claims keeps it too while another node holds one of those objects.
  ASSERT_TRUE(c->Heartbeat({"x", "http://x", 3000, 3000}).ok());
  EXPECT_EQ(*c->ClaimIdempotencyKey(Claim("y", 20, "k", 1100), kExpire, 2000), x);
  EXPECT_EQ(*c->ReleaseIdempotencyClaimsOf("x", 3000), 0u);
  // Replayed, flushed, unregistered: taken.
  ASSERT_TRUE(c->MarkWalObjectsFlushed({object.name}, "y").ok());
  ASSERT_EQ(*c->DeleteWalObjects({object.name}, "y"), 1u);
  const IdempotencyClaimRow y = Claim("y", 20, "k", 1200);
  EXPECT_EQ(*c->ClaimIdempotencyKey(y, kExpire, 2000), y);
  // A restarted node frees its earlier incarnations' pending claims, not its current ones.
  ASSERT_TRUE(c->ClaimIdempotencyKey(Claim("x", 10, "old", 600), kExpire, 0).ok());
  ASSERT_TRUE(c->ClaimIdempotencyKey(Claim("x", 3000, "new", 3100), kExpire, 0).ok());
  EXPECT_EQ(*c->ReleaseIdempotencyClaimsOf("x", 3000), 1u);
  EXPECT_FALSE(c->GetIdempotencyKey("t1", "old")->has_value());
  EXPECT_TRUE(c->GetIdempotencyKey("t1", "new")->has_value());
}

// A WAL object is registered only while the Idempotency-Key claims of its batches are still the
// ones its node made: a node that stalled past node_timeout after claiming, whose claim another
// node then took, is refused (nothing registered), so that it acknowledges nothing; a claim
// still held is kept until the commit, so that once the object is registered nobody takes it.
TEST_P(CatalogTest, AWalObjectIsRegisteredOnlyWhileTheClaimsOfItsKeyedBatchesAreHeld) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"x", "http://x", 10, 1000}).ok());
  const IdempotencyClaimRow held = Claim("x", 10, "held", 500);
  const IdempotencyClaimRow lost = Claim("x", 10, "lost", 510);
  ASSERT_EQ(*c->ClaimIdempotencyKey(held, 0, 0), held);
  ASSERT_EQ(*c->ClaimIdempotencyKey(lost, 0, 0), lost);
  // x looks dead (heartbeat 1000 < 2000) and has no registered WAL object: y takes "lost".
  const IdempotencyClaimRow taken = Claim("y", 20, "lost", 2100);
  ASSERT_EQ(*c->ClaimIdempotencyKey(taken, 0, 2000), taken);
  // x wakes and registers the object holding both batches: refused, nothing registered.
  const WalObjectRow both = WalObject("x", 1, 10);
  Status refused = c->RegisterWalObject(both, {held, lost});
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("'lost'"), std::string::npos) << refused.ToString();
  EXPECT_TRUE(c->ListWalObjects("x")->empty());
  EXPECT_EQ(**c->GetIdempotencyKey("t1", "lost"), taken);  // y's claim untouched
  // A claim of another incarnation, or made at another moment, is not this batch's either.
  IdempotencyClaimRow other = held;
  other.node_started_ns = 11;
  EXPECT_EQ(c->RegisterWalObject(both, {other}).code(), StatusCode::kFailedPrecondition);
  other = held;
  other.created_ns = 501;
  EXPECT_EQ(c->RegisterWalObject(both, {other}).code(), StatusCode::kFailedPrecondition);
  // With only the claim it still holds: registered; the claim is then kept from y (x's object
  // is registered), and a retry of the registration finds the name.
  ASSERT_TRUE(c->RegisterWalObject(both, {held}).ok());
  EXPECT_EQ(c->ListWalObjects("x")->size(), 1u);
  EXPECT_EQ(*c->ClaimIdempotencyKey(Claim("y", 20, "held", 2200), 0, 2000), held);
  EXPECT_EQ(c->RegisterWalObject(both, {held}).code(), StatusCode::kAlreadyExists);
  // A done claim is no pending one: an object registered after its batch was answered by
  // another node's replay is refused.
  IdempotencyClaimRow done = held;
  done.state = std::string(kIdempotencyDone);
  ASSERT_TRUE(c->CompleteIdempotencyKey(done, /*adopted=*/true, 0).ok());
  EXPECT_EQ(c->RegisterWalObject(WalObject("x", 11, 20), {held}).code(),
            StatusCode::kFailedPrecondition);
}

// Two nodes claiming the same keys at the same moment: each key has one winner, and the loser
// gets the winner's row.
TEST_P(CatalogTest, TwoNodesClaimingTheSameKeysAtOnceGetOneWinnerEach) {
  const bool one_connection = GetParam().name == "sqlite";
  auto first = OpenCatalog();
  auto second = one_connection ? nullptr : OpenCatalog();
  Catalog* nodes[2] = {first.get(), one_connection ? first.get() : second.get()};
  ASSERT_TRUE(first->Heartbeat({"n0", "http://n0", 1, 1000}).ok());
  ASSERT_TRUE(first->Heartbeat({"n1", "http://n1", 1, 1000}).ok());
  constexpr int kKeys = 80;
  std::vector<IdempotencyClaimRow> got[2];
  std::vector<std::thread> threads;
  for (int n = 0; n < 2; ++n) {
    threads.emplace_back([&, n] {
      for (int k = 0; k < kKeys; ++k) {
        auto r = nodes[n]->ClaimIdempotencyKey(
            Claim("n" + std::to_string(n), 1, "key" + std::to_string(k), 1000 + n), 0, 900);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        got[n].push_back(*r);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(got[0].size(), size_t{kKeys});
  ASSERT_EQ(got[1].size(), size_t{kKeys});
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_EQ(got[0][k], got[1][k]) << "key" << k;  // both see the one winner
    EXPECT_EQ(**first->GetIdempotencyKey("t1", "key" + std::to_string(k)), got[0][k]);
  }
}

// The number through which a node confirmed its registrations (NodeRow::confirmed_through)
// goes with its heartbeat: stored, replaced by the next, not by an earlier incarnation's, and
// gone with the row (a node of the same id registered again starts from what it writes).
TEST_P(CatalogTest, ANodesConfirmedThroughGoesWithItsHeartbeat) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 5, 6, 40}).ok());
  EXPECT_EQ(c->ListNodes()->at(0), (NodeRow{"a", "http://a", 5, 6, 40}));
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 5, 8, 7}).ok());  // lower: stored as it is
  EXPECT_EQ(c->ListNodes()->at(0).confirmed_through, 7u);
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 9, 10, 12}).ok());
  EXPECT_EQ(c->Heartbeat({"a", "http://a", 5, 11, 99}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->ListNodes()->at(0), (NodeRow{"a", "http://a", 9, 10, 12}));
  ASSERT_TRUE(c->RemoveNode("a").ok());
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 20, 21}).ok());
  EXPECT_EQ(c->ListNodes()->at(0), (NodeRow{"a", "http://a", 20, 21, 0}));
}

// The values a node runs of the cluster-wide settings (NodeRow::settings, docs/cluster.md
// "Cluster-wide settings") are recorded with its registration, kept by its later heartbeats,
// which leave them out, and belong to its incarnation: a later process of the id that records
// none (a build before) runs values nobody knows, and so does a row made again after a removal.
TEST_P(CatalogTest, ANodesSettingsGoWithTheIncarnationThatRecordedThem) {
  const std::map<std::string, uint64_t> values = {{"node_heartbeat", 2000},
                                                  {"node_timeout", 10000}};
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 5, 6, 0, values}).ok());
  ASSERT_TRUE(c->Heartbeat({"b", "http://b", 5, 6}).ok());
  auto nodes = c->ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0], (NodeRow{"a", "http://a", 5, 6, 0, values}));
  EXPECT_TRUE((*nodes)[1].settings.empty());
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 5, 9, 3}).ok());  // a later heartbeat: kept
  EXPECT_EQ(c->ListNodes()->at(0), (NodeRow{"a", "http://a", 5, 9, 3, values}));
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 20, 21}).ok());  // a restart recording none
  EXPECT_TRUE(c->ListNodes()->at(0).settings.empty());
  const std::map<std::string, uint64_t> later = {{"node_timeout", 14000}};
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 30, 31, 0, later}).ok());
  EXPECT_EQ(c->ListNodes()->at(0).settings, later);
  // A refused heartbeat (an earlier incarnation) records nothing.
  EXPECT_EQ(c->Heartbeat({"a", "http://a", 25, 32, 0, values}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->ListNodes()->at(0).settings, later);
  // Kept across a reopen; gone with a clean stop and with a removal.
  c.reset();
  c = OpenCatalog();
  EXPECT_EQ(c->ListNodes()->at(0).settings, later);
  ASSERT_TRUE(c->LeaveCluster("a", 30, 40).ok());
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 30, 41}).ok());
  EXPECT_TRUE(c->ListNodes()->at(0).settings.empty());
  ASSERT_TRUE(c->Heartbeat({"b", "http://b", 5, 7, 0, values}).ok());
  ASSERT_TRUE(c->RemoveNode("b").ok());
  ASSERT_TRUE(c->Heartbeat({"b", "http://b", 5, 8}).ok());
  EXPECT_TRUE(c->ListNodes()->at(1).settings.empty());
}

// Each node's values are listed with its own row, whatever order the ids' case and punctuation
// put them in (a byte order and a natural-language collation differ: "Bravo" < "alpha" in bytes).
TEST_P(CatalogTest, EachNodesSettingsAreListedWithItsRowWhateverItsIdsCase) {
  auto c = OpenCatalog();
  const std::vector<std::string> ids = {"alpha", "Bravo", "Edge-1", "core-2", "edge-0"};
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint64_t v = 1000 * (i + 1);
    ASSERT_TRUE(c->Heartbeat({ids[i],
                              "http://" + ids[i],
                              5,
                              6,
                              0,
                              {{"node_heartbeat", v}, {"node_timeout", 5 * v}}})
                    .ok());
  }
  ASSERT_TRUE(c->Heartbeat({"delta", "http://delta", 5, 6}).ok());  // recorded none
  auto nodes = c->ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), ids.size() + 1);
  for (const NodeRow& row : *nodes) {
    auto it = std::find(ids.begin(), ids.end(), row.id);
    if (it == ids.end()) {
      EXPECT_EQ(row.id, "delta");
      EXPECT_TRUE(row.settings.empty()) << row.id;
      continue;
    }
    const uint64_t v = 1000 * (it - ids.begin() + 1);
    EXPECT_EQ(row.settings,
              (std::map<std::string, uint64_t>{{"node_heartbeat", v}, {"node_timeout", 5 * v}}))
        << row.id;
    EXPECT_EQ(row.url, "http://" + row.id);
  }
}

TEST_P(CatalogTest, SeveralLeasesAreTakenInOneCallFirstFreeFirstUpToMax) {
  auto c = OpenCatalog();
  const std::vector<std::string> names = {"compaction/1", "compaction/2", "compaction/3"};
  auto a = c->AcquireLeases(names, "node-a", 100, 50, 2);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, (std::vector<LeaseRow>{{"compaction/1", "node-a", 150, 1},
                                       {"compaction/2", "node-a", 150, 1}}));
  // Node b, preferring another order, passes over a's leases and takes the free one.
  auto b = c->AcquireLeases({"compaction/2", "compaction/1", "compaction/3"}, "node-b", 120, 50, 2);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b, (std::vector<LeaseRow>{{"compaction/3", "node-b", 170, 1}}));
  // Renewals keep the epoch; AcquireLease sees the same leases.
  auto renewed = c->AcquireLeases({"compaction/2", "compaction/1"}, "node-a", 140, 50, 5);
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(*renewed, (std::vector<LeaseRow>{{"compaction/2", "node-a", 190, 1},
                                             {"compaction/1", "node-a", 190, 1}}));
  EXPECT_EQ(c->AcquireLease("compaction/3", "node-a", 150, 50)->holder, "node-b");
  // Past their expiry, another node takes them with the next epoch; a released one too.
  ASSERT_TRUE(c->ReleaseLease("compaction/3", "node-b").ok());
  auto later = c->AcquireLeases(names, "node-c", 190, 50, 3);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(*later, (std::vector<LeaseRow>{{"compaction/1", "node-c", 240, 2},
                                           {"compaction/2", "node-c", 240, 2},
                                           {"compaction/3", "node-c", 240, 2}}));
  // Nothing to take: an empty answer, not an error.
  auto none = c->AcquireLeases(names, "node-a", 200, 50, 3);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(CatalogTest, SeveralLeasesForNobodyTwiceTooManyOrNoneAreRefused) {
  auto c = OpenCatalog();
  EXPECT_TRUE(c->AcquireLeases({"a"}, "", 100, 50, 1).status().IsInvalidArgument());
  EXPECT_TRUE(c->AcquireLeases({"a"}, "node-a", 100, 0, 1).status().IsInvalidArgument());
  EXPECT_TRUE(c->AcquireLeases({"a"}, "node-a", 100, 50, 0).status().IsInvalidArgument());
  EXPECT_TRUE(c->AcquireLeases({"a", "b", "a"}, "node-a", 100, 50, 1).status().IsInvalidArgument());
  EXPECT_TRUE(c->AcquireLeases({"a", ""}, "node-a", 100, 50, 1).status().IsInvalidArgument());
  std::vector<std::string> many;
  for (size_t i = 0; i <= kMaxLeasesPerCall; ++i) many.push_back("job/" + std::to_string(i));
  auto refused = c->AcquireLeases(many, "node-a", 100, 50, 1);
  EXPECT_TRUE(refused.status().IsInvalidArgument()) << refused.status().ToString();
  auto leases = c->ListLeases();
  ASSERT_TRUE(leases.ok());
  for (const LeaseRow& l : *leases) EXPECT_EQ(l.holder, "") << l.name;
}

// A job's commit under a lease (Replace with a fence) happens only while the lease is still its
// holder's at the epoch it claimed: a node whose lease was taken over, however late its commit
// arrives, changes nothing.
TEST_P(CatalogTest, AReplaceUnderALeaseCommitsOnlyWhileItsHolderHoldsItAtItsEpoch) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  ASSERT_TRUE(c->AcquireLease("compaction/7", "node-a", 100, 50).ok());  // epoch 1
  auto ids = [&] {
    std::vector<uint64_t> out;
    auto rows = c->List();
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    for (const SegmentRow& r : rows.ok() ? *rows : std::vector<SegmentRow>{}) out.push_back(r.id);
    return out;
  };
  const LeaseFence a1{"compaction/7", "node-a", 1};
  // Another holder, another epoch, or a lease that does not exist: refused, nothing changed.
  for (const LeaseFence& wrong :
       {LeaseFence{"compaction/7", "node-b", 1}, LeaseFence{"compaction/7", "node-a", 2},
        LeaseFence{"compaction/8", "node-a", 1}}) {
    Status s = c->Replace({1, 2}, {Row(3)}, &wrong);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find(wrong.name), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(ids(), (std::vector<uint64_t>{1, 2}));
  // Node a stalls past the expiry and node b takes the job over (epoch 2): a's late commit is
  // refused and says who holds the lease now.
  ASSERT_EQ(c->AcquireLease("compaction/7", "node-b", 200, 50)->epoch, 2u);
  Status late = c->Replace({1, 2}, {Row(3)}, &a1);
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition) << late.ToString();
  EXPECT_NE(late.message().find("node-b"), std::string::npos) << late.ToString();
  EXPECT_EQ(ids(), (std::vector<uint64_t>{1, 2}));
  // The holder commits; its fence does not care that the lease expired meanwhile (nobody took
  // it), only that it is still its own at its epoch.
  const LeaseFence b2{"compaction/7", "node-b", 2};
  ASSERT_TRUE(c->Replace({1, 2}, {Row(4)}, &b2).ok());
  EXPECT_EQ(ids(), (std::vector<uint64_t>{4}));
  // A released lease fences its former holder out too.
  ASSERT_TRUE(c->ReleaseLease("compaction/7", "node-b").ok());
  EXPECT_EQ(c->Replace({4}, {Row(5)}, &b2).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ids(), (std::vector<uint64_t>{4}));
  // Replace without a fence is unchanged.
  ASSERT_TRUE(c->Replace({4}, {Row(5)}).ok());
  EXPECT_EQ(ids(), (std::vector<uint64_t>{5}));
}

// Retention's deletion, a cold move's update and the segment sweep's record carry their job's
// lease like Replace: a node that stalled while another took the job commits nothing.
TEST_P(CatalogTest, RetirementsUpdatesAndSweepsUnderALeaseCommitOnlyWhileItsHolderHoldsIt) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  ASSERT_TRUE(c->AcquireLease("retention", "node-a", 100, 50).ok());  // epoch 1
  ASSERT_EQ(c->AcquireLease("retention", "node-b", 200, 50)->epoch, 2u);
  const LeaseFence a1{"retention", "node-a", 1}, b2{"retention", "node-b", 2};
  const RetiredSegmentRow r1{1, "t1", 3, 100, 199, "local", Row(1).path, 300};
  auto decided = c->LastRetentionEventId();
  ASSERT_TRUE(decided.ok());
  Status late = c->RetireSegments({r1}, {}, *decided, &a1);
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition) << late.ToString();
  EXPECT_TRUE(IsLeaseFenceRefusal(late)) << late.ToString();
  EXPECT_NE(late.message().find("node-b"), std::string::npos) << late.ToString();
  EXPECT_TRUE(c->Get(1)->has_value());
  EXPECT_TRUE(c->ListRetiredSegments()->empty());
  ASSERT_TRUE(c->RetireSegments({r1}, {}, *decided, &b2).ok());
  EXPECT_FALSE(c->Get(1)->has_value());

  SegmentRow moved = Row(2);
  moved.tier = std::string(kTierCold);
  moved.store = std::string(kColdStore);
  moved.path = "segments/t1/2.seg";
  EXPECT_TRUE(IsLeaseFenceRefusal(c->Update({moved}, &a1)));
  EXPECT_EQ(c->Get(2)->value().path, Row(2).path);
  ASSERT_TRUE(c->Update({moved}, &b2).ok());
  EXPECT_EQ(c->Get(2)->value().path, moved.path);

  auto refused = c->SweepSegmentObjects(kColdStore, {"segments/t1/9.seg"}, 300, 1000, &a1);
  EXPECT_TRUE(IsLeaseFenceRefusal(refused.status())) << refused.status().ToString();
  auto swept = c->SweepSegmentObjects(kColdStore, {"segments/t1/9.seg"}, 300, 1000, &b2);
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(*swept, (std::vector<std::string>{"segments/t1/9.seg"}));
}

// The sweep records the objects it deletes in the transaction that finds them named by no row,
// and no registration names one afterwards: an upload registered after the sweep read the
// catalog (its node stalled past the grace) cannot name an object the sweep deletes.
TEST_P(CatalogTest, ASweptObjectIsNeverRegistered) {
  auto c = OpenCatalog();
  auto shared = [](uint64_t id, const std::string& path) {
    SegmentRow r = Row(id);
    r.store = std::string(kColdStore);
    r.path = path;
    return r;
  };
  ASSERT_TRUE(c->Insert(shared(1, "segments/t1/1.seg")).ok());
  auto swept = c->SweepSegmentObjects(
      kColdStore, {"segments/t1/1.seg", "segments/t1/2.seg", "segments/t1/3.seg"}, 1000, 500,
      nullptr);
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  // The named one is not swept.
  EXPECT_EQ(*swept, (std::vector<std::string>{"segments/t1/2.seg", "segments/t1/3.seg"}));
  Status insert = c->Insert(shared(2, "segments/t1/2.seg"));
  EXPECT_EQ(insert.code(), StatusCode::kFailedPrecondition) << insert.ToString();
  EXPECT_NE(insert.message().find("segments/t1/2.seg"), std::string::npos) << insert.ToString();
  EXPECT_EQ(c->Replace({1}, {shared(3, "segments/t1/3.seg")}).code(),
            StatusCode::kFailedPrecondition);
  auto registered = c->RegisterSegment(shared(4, "segments/t1/2.seg"), "node-a", nullptr);
  EXPECT_EQ(registered.status().code(), StatusCode::kFailedPrecondition);
  // Nor by an update (a cold move's copy, written again under the name the sweep recorded).
  Status update = c->Update({shared(1, "segments/t1/2.seg")});
  EXPECT_EQ(update.code(), StatusCode::kFailedPrecondition) << update.ToString();
  auto rows = c->List();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, 1u);                     // the refused Replace removed nothing either
  EXPECT_EQ((*rows)[0].path, "segments/t1/1.seg");  // nor did the refused update change it
  // Another store's object of the same name is another object.
  SegmentRow local = Row(5);
  local.path = "segments/t1/2.seg";
  EXPECT_TRUE(c->Insert(local).ok());
  // Swept again (a deletion that failed is retried): still swept.
  swept = c->SweepSegmentObjects(kColdStore, {"segments/t1/2.seg"}, 1200, 500, nullptr);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, (std::vector<std::string>{"segments/t1/2.seg"}));
  // Records older than "keep" go with a later sweep: 3 (swept at 1000) is forgotten at 1600,
  // 2 (swept again at 1200) is not.
  ASSERT_TRUE(c->SweepSegmentObjects(kColdStore, {}, 1600, 500, nullptr).ok());
  EXPECT_TRUE(c->Insert(shared(6, "segments/t1/3.seg")).ok());
  EXPECT_EQ(c->Insert(shared(7, "segments/t1/2.seg")).code(), StatusCode::kFailedPrecondition);
}

#ifndef SAWMILL_CATALOG_TEST_PG
TEST_P(CatalogTest, NodesHeartbeatAndAreRemoved) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Heartbeat({"b", "http://10.0.0.2:9640", 5, 6}).ok());
  ASSERT_TRUE(c->Heartbeat({"a", "http://10.0.0.1:9640", 5, 7}).ok());
  ASSERT_TRUE(c->Heartbeat({"a", "http://10.0.0.1:9640", 5, 9}).ok());
  auto nodes = c->ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0], (NodeRow{"a", "http://10.0.0.1:9640", 5, 9}));
  ASSERT_TRUE(c->RemoveNode("b").ok());
  EXPECT_TRUE(c->RemoveNode("b").IsNotFound());
  EXPECT_EQ(c->ListNodes()->size(), 1u);
}

TEST_P(CatalogTest, ALeaseHasOneHolderUntilItExpiresOrIsReleased) {
  auto c = OpenCatalog();
  auto a = c->AcquireLease("compaction", "node-a", 100, 50);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, (LeaseRow{"compaction", "node-a", 150, 1}));
  // Another node is refused while it runs; the answer says who holds it.
  auto b = c->AcquireLease("compaction", "node-b", 120, 50);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->holder, "node-a");
  // The holder renews (same epoch); another job's lease is independent.
  EXPECT_EQ(*c->AcquireLease("compaction", "node-a", 140, 50),
            (LeaseRow{"compaction", "node-a", 190, 1}));
  EXPECT_EQ(c->AcquireLease("retention", "node-b", 140, 50)->holder, "node-b");
  // Past the expiry another node takes it over, with a new epoch.
  EXPECT_EQ(*c->AcquireLease("compaction", "node-b", 190, 50),
            (LeaseRow{"compaction", "node-b", 240, 2}));
  // Releasing someone else's lease does nothing; the holder's release frees it at once.
  ASSERT_TRUE(c->ReleaseLease("compaction", "node-a").ok());
  EXPECT_EQ(c->AcquireLease("compaction", "node-a", 200, 50)->holder, "node-b");
  ASSERT_TRUE(c->ReleaseLease("compaction", "node-b").ok());
  EXPECT_EQ(*c->AcquireLease("compaction", "node-a", 201, 50),
            (LeaseRow{"compaction", "node-a", 251, 3}));
  auto all = c->ListLeases();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].name, "retention");
}

TEST_P(CatalogTest, ALeaseForNobodyOrForNoTimeIsRefused) {
  auto c = OpenCatalog();
  // An empty holder would "hold" a lease every other node also takes as free.
  auto nobody = c->AcquireLease("compaction", "", 100, 50);
  EXPECT_TRUE(nobody.status().IsInvalidArgument()) << nobody.status().ToString();
  auto no_time = c->AcquireLease("compaction", "node-a", 100, 0);
  EXPECT_TRUE(no_time.status().IsInvalidArgument()) << no_time.status().ToString();
  EXPECT_TRUE(c->ListLeases()->empty());
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

// A VFS over SQLite's default that counts the syncs of every file it opens: registered as the
// default while it lives, so a catalog opened meanwhile goes through it.
class SyncCountingVfs {
 public:
  SyncCountingVfs() : base_(sqlite3_vfs_find(nullptr)) {
    vfs_ = *base_;
    vfs_.zName = "sync_counting";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + base_->szOsFile;
    vfs_.pAppData = this;
    vfs_.xOpen = &Open;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/1);
  }
  ~SyncCountingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(base_, 1);
  }
  int syncs() const { return syncs_.load(); }

 private:
  // The counting file, with the base VFS's file right behind it (szOsFile above).
  struct File {
    sqlite3_file file;
    SyncCountingVfs* owner;
    sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };
  static File* F(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
  static int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* out, int flags, int* oflags) {
    auto* self = static_cast<SyncCountingVfs*>(vfs->pAppData);
    File* f = F(out);
    f->owner = self;
    f->file.pMethods = nullptr;
    int rc = self->base_->xOpen(self->base_, name, f->real(), flags, oflags);
    if (rc == SQLITE_OK && f->real()->pMethods != nullptr) {
      self->methods_ = *f->real()->pMethods;
      self->methods_.xClose = [](sqlite3_file* x) {
        int r = F(x)->real()->pMethods->xClose(F(x)->real());
        return r;
      };
      self->methods_.xSync = [](sqlite3_file* x, int sync_flags) {
        F(x)->owner->syncs_.fetch_add(1);
        return F(x)->real()->pMethods->xSync(F(x)->real(), sync_flags);
      };
#define SAWMILL_FORWARD(name, ...) \
  [](sqlite3_file* x, auto... a) { return F(x)->real()->pMethods->name(F(x)->real(), a...); }
      self->methods_.xRead = SAWMILL_FORWARD(xRead);
      self->methods_.xWrite = SAWMILL_FORWARD(xWrite);
      self->methods_.xTruncate = SAWMILL_FORWARD(xTruncate);
      self->methods_.xFileSize = SAWMILL_FORWARD(xFileSize);
      self->methods_.xLock = SAWMILL_FORWARD(xLock);
      self->methods_.xUnlock = SAWMILL_FORWARD(xUnlock);
      self->methods_.xCheckReservedLock = SAWMILL_FORWARD(xCheckReservedLock);
      self->methods_.xFileControl = SAWMILL_FORWARD(xFileControl);
      self->methods_.xSectorSize = SAWMILL_FORWARD(xSectorSize);
      self->methods_.xDeviceCharacteristics = SAWMILL_FORWARD(xDeviceCharacteristics);
      self->methods_.xShmMap = SAWMILL_FORWARD(xShmMap);
      self->methods_.xShmLock = SAWMILL_FORWARD(xShmLock);
      self->methods_.xShmBarrier = SAWMILL_FORWARD(xShmBarrier);
      self->methods_.xShmUnmap = SAWMILL_FORWARD(xShmUnmap);
      self->methods_.xFetch = SAWMILL_FORWARD(xFetch);
      self->methods_.xUnfetch = SAWMILL_FORWARD(xUnfetch);
#undef SAWMILL_FORWARD
      f->file.pMethods = &self->methods_;
    }
    return rc;
  }

  sqlite3_vfs* base_;
  sqlite3_vfs vfs_;
  sqlite3_io_methods methods_{};
  std::atomic<int> syncs_{0};
};

// Every audited request waits for its audit entry, so an append commits without waiting for
// the disk (before: four syncs an append); every other commit of the catalog (a segment's
// registration, which the WAL's trim relies on) still syncs, also right after an append. The
// entries are there after a reopen.
TEST_F(SqliteCatalogTest, AnAuditAppendDoesNotWaitForTheDiskButOtherCommitsStillDo) {
  SyncCountingVfs vfs;
  auto hash = [](const AuditRow& r) { return "h" + std::to_string(r.seq) + r.query; };
  {
    auto c = Open();
    ASSERT_TRUE(c->Insert(Row(1)).ok());
    for (int round = 0; round < 2; ++round) {
      const int before = vfs.syncs();
      for (int i = 0; i < 5; ++i) {
        AuditRow row;
        row.query = "q" + std::to_string(round) + std::to_string(i);
        auto stored = c->AppendAuditChained(row, 1, hash);
        ASSERT_TRUE(stored.ok()) << stored.status().ToString();
      }
      // At most the WAL file's new header, once: the registration's checkpoint emptied it.
      EXPECT_LE(vfs.syncs() - before, 1) << "round " << round << ": 5 audit appends synced";
      const int before_insert = vfs.syncs();
      ASSERT_TRUE(c->Insert(Row(10 + round)).ok());
      EXPECT_GT(vfs.syncs(), before_insert)
          << "round " << round << ": a segment's registration did not sync after audit appends";
    }
  }
  auto c = Open();
  AuditFilter all;
  all.limit = 100;
  auto rows = c->ListAudit(all);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->size(), 10u);
  EXPECT_EQ(c->List()->size(), 3u);
}

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
  const AllocatedIds ids = AllocateAtOnce(a.get(), b.get(), 30);
  EXPECT_EQ(ids.all.size(), 60u);
  EXPECT_EQ(*ids.all.begin(), 6u);  // above the row the other instance stored
  EXPECT_TRUE(std::is_sorted(ids.a.begin(), ids.a.end()));
  EXPECT_TRUE(std::is_sorted(ids.b.begin(), ids.b.end()));
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

// Bytes of the catalog file and its SQLite WAL (what the data directory holds for it).
uint64_t CatalogFileBytes(const std::string& path) {
  uint64_t bytes = 0;
  for (const std::string& p : {path, path + "-wal"}) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(p, ec);
    if (!ec) bytes += n;
  }
  return bytes;
}

// Each group's tables are created by its first write (sqlite_catalog.h, Tables): a new catalog,
// which every new data directory has, is a few pages instead of one for each of ~50 tables and
// indexes (68 KiB, more than the segments of a small data set). Reads of a group never written
// answer as its empty tables did, and do not create it.
TEST_F(SqliteCatalogTest, ANewCatalogIsAFewKiBAndReadsOfTablesNeverWrittenAnswerEmpty) {
  auto c = Open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->List().ok());
  EXPECT_TRUE(c->ListIdempotencyKeys(0, 10)->empty());
  EXPECT_TRUE(c->ListTokens()->empty());
  EXPECT_TRUE(c->ListAudit({})->empty());
  EXPECT_FALSE(c->LastAudit()->has_value());
  EXPECT_EQ(c->GetAuditAnchor()->seq, 0u);
  EXPECT_TRUE(c->ListTenantQuotas()->empty());
  EXPECT_TRUE(c->ListScanUsage(0)->empty());
  EXPECT_TRUE(c->ListNodes()->empty());
  EXPECT_TRUE(c->ListGoneNodes()->empty());
  EXPECT_TRUE(c->ListLeases()->empty());
  EXPECT_TRUE(c->ListWalObjects("")->empty());
  EXPECT_TRUE(c->ReadWalTakeovers()->empty());
  EXPECT_FALSE(c->GetIdempotencyKey("t", "k")->has_value());
  EXPECT_TRUE(c->ListHolds(false)->empty());
  EXPECT_TRUE(c->ListRetentionPolicies()->empty());
  EXPECT_TRUE(c->ListComplianceRules()->empty());
  EXPECT_TRUE(c->ListRetiredSegments()->empty());
  EXPECT_TRUE(c->ListRetentionEvents({})->empty());
  EXPECT_EQ(*c->LastRetentionEventId(), 0u);
  EXPECT_TRUE(c->ListDamage()->empty());
  EXPECT_TRUE(c->ListAlertStates()->empty());
  EXPECT_TRUE(c->ListAlertTransitions("t", "", 0, 10)->empty());
  EXPECT_TRUE(c->ListAlertRules()->empty());
  // A lease fence with no lease table is refused as a lease nobody holds.
  const LeaseFence fence{"compaction", "node-a", 1};
  EXPECT_TRUE(IsLeaseFenceRefusal(c->Replace({}, {Row(1)}, &fence)));
  // Segments are registered without the sweep's table.
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  c.reset();
  const uint64_t fresh = CatalogFileBytes(path_);
  // Was 69,632 bytes (68 pages of 1 KiB) with every table created at open.
  EXPECT_LE(fresh, 12u * 1024) << "a new catalog with one segment";
  // Each group appears with its first write, and what was written is read back after a reopen.
  c = Open();
  ASSERT_TRUE(c->InsertToken({"id1", "ci", {"a"}, "reader", "ab12", 5, 0, 0, "admin"}).ok());
  ASSERT_TRUE(c->Heartbeat({"node-a", "http://a", 1, 2, 0}).ok());
  ASSERT_TRUE(c->PutAlertRule({"t1", "r", "filter: x", 5}).ok());
  c.reset();
  EXPECT_GT(CatalogFileBytes(path_), fresh);
  c = Open();
  EXPECT_EQ(c->ListTokens()->size(), 1u);
  EXPECT_EQ(c->ListNodes()->size(), 1u);
  EXPECT_EQ(c->ListAlertRules()->size(), 1u);
  EXPECT_EQ((*c->List()).size(), 1u);
}

// The catalog of a single server as the `disk` benchmark leaves it (one segment registered, the
// node's heartbeat and settings, an audited admin call): at most 12.5 KiB, in 512-byte pages
// (with 1 KiB pages, 19,456 bytes: every table and index is a page at least, and so was the
// directory's largest fixed cost; docs/performance.md "Session 16: disk"). A catalog an earlier
// build created keeps its 1 KiB pages and takes writes.
TEST_F(SqliteCatalogTest, ASingleServersCatalogIsTwelveKiBInSmallPages) {
  auto c = Open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  NodeRow node{"node-a", "http://a", 1, 2, 0};
  node.settings = {{"node_heartbeat", 3000}, {"node_timeout", 30000}};
  ASSERT_TRUE(c->Heartbeat(node).ok());
  AuditRow a;
  a.seq = 1;
  a.at_ns = 10;
  a.tenant = "default";
  a.action = "admin.flush";
  a.status = 200;
  a.hash = "h1";
  ASSERT_TRUE(c->AppendAudit(a).ok());
  c.reset();
  EXPECT_LE(CatalogFileBytes(path_), 12u * 1024 + 512);
  c = Open();
  EXPECT_EQ(c->List()->size(), 1u);
  EXPECT_EQ(c->ListNodes()->size(), 1u);
  EXPECT_EQ(c->ListAudit({})->size(), 1u);
  c.reset();

  // An earlier build's catalog: 1 KiB pages, kept.
  std::filesystem::remove(path_);
  Sql("PRAGMA page_size=1024; PRAGMA journal_mode=WAL; CREATE TABLE t (x);");
  c = Open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  c.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1024);
  sqlite3_finalize(st);
  sqlite3_close(db);
  c = Open();
  EXPECT_EQ(c->List()->size(), 1u);
}

// A single server writes its segments, its node's heartbeats, its leaving, and the audit of its
// admin calls, which it prunes at start (nothing old enough). The tables it never writes
// (audit_anchor, node_fences) are not in its catalog, and the schema is stored without its
// indentation: 21 pages of 512 bytes instead of 25. Each of those tables appears with its first
// write (a prune that prunes, a fence), reads before answer empty, and what was written after
// is there after a restart.
TEST_F(SqliteCatalogTest, ASingleServersCatalogHoldsOnlyTheTablesItWrites) {
  const auto tables = [this] {
    std::string names;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1,
                       &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
      names += (names.empty() ? "" : " ") +
               std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return names;
  };
  const auto audit = [](uint64_t seq, int64_t at, std::string hash) {
    AuditRow a;
    a.seq = seq;
    a.at_ns = at;
    a.tenant = "default";
    a.action = "POST /api/v1/admin/flush";
    a.status = 200;
    a.hash = std::move(hash);
    return a;
  };
  auto c = Open();
  ASSERT_TRUE(c);
  EXPECT_EQ(*c->PruneAudit(5), 0u) << "an empty audit";
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  ASSERT_TRUE(c->Heartbeat({"node-a", "http://a", 10, 20, 0, {{"node_timeout", 6000}}}).ok());
  ASSERT_TRUE(c->AppendAudit(audit(1, 10, "h1")).ok());
  EXPECT_EQ(*c->PruneAudit(5), 0u) << "nothing older than 5";
  EXPECT_EQ(c->Heartbeat({"node-a", "http://a", 5, 30, 0}).code(), StatusCode::kFailedPrecondition)
      << "an older incarnation is refused, with no fence to look at";
  ASSERT_EQ(c->ListNodes()->size(), 1u);
  EXPECT_EQ(c->ListNodes()->at(0).settings.at("node_timeout"), 6000u);
  EXPECT_EQ(*c->GetAuditAnchor(), AuditAnchor{});
  ASSERT_TRUE(c->LeaveCluster("node-a", 10, 40).ok());
  c.reset();
  EXPECT_EQ(tables(),
            "audit_log meta node_confirmed node_gone node_settings nodes segment_changes "
            "segment_origins segments sqlite_sequence");
  EXPECT_LE(CatalogFileBytes(path_), 21u * 512) << "was 25 pages of 512 bytes";

  // A restart, then the writes that need the other tables.
  c = Open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Heartbeat({"node-a", "http://a", 50, 60, 0, {{"node_timeout", 7000}}}).ok());
  ASSERT_TRUE(c->AppendAudit(audit(2, 20, "h2")).ok());
  EXPECT_EQ(*c->PruneAudit(15), 1u);
  c.reset();
  EXPECT_EQ(tables(),
            "audit_anchor audit_log meta node_confirmed node_gone node_settings nodes "
            "segment_changes segment_origins segments sqlite_sequence");
  c = Open();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->List()->size(), 1u);
  ASSERT_EQ(c->ListNodes()->size(), 1u);
  EXPECT_EQ(c->ListNodes()->at(0).settings.at("node_timeout"), 7000u);
  EXPECT_EQ(*c->GetAuditAnchor(), (AuditAnchor{1, "h1"}));
  ASSERT_EQ(c->ListAudit({})->size(), 1u);
  EXPECT_EQ(c->ListAudit({})->at(0).hash, "h2");
  ASSERT_TRUE(c->RemoveNode("node-a").ok());
  EXPECT_TRUE(c->ListNodes()->empty());
}

// The catalog of the previous version (every table created at open, rows in several of them, as
// a server left it: testdata/catalog_v2_c9841d4.sql) opens, reads back and takes writes in every
// group; a group an older build created without a later table (node_confirmed) is completed.
TEST_F(SqliteCatalogTest, ACatalogOfThePreviousVersionOpensAndWorks) {
  std::ifstream in(std::string(SAWMILL_CATALOG_TESTDATA) + "/catalog_v2_c9841d4.sql");
  ASSERT_TRUE(in) << "testdata/catalog_v2_c9841d4.sql";
  std::string dump((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Sql("PRAGMA page_size=1024;\n" + dump +
      "INSERT INTO api_tokens VALUES ('id1', 'ci', 'a', 'reader', 'ab12', 5, 0, 0, 'admin');\n"
      "INSERT INTO alert_rules VALUES ('t1', 'r', 'filter: x', 5);\n"
      "DROP TABLE node_confirmed;\n");
  auto c = Open();
  ASSERT_TRUE(c);
  auto rows = c->List();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].rows, 7121u);
  EXPECT_EQ((*rows)[0].path, "segments/hot/default/13/1.seg");
  EXPECT_EQ(c->ListAudit({})->size(), 2u);
  EXPECT_EQ((*c->LastAudit())->action, "POST /api/v1/admin/compact");
  EXPECT_EQ(c->ListTokens()->size(), 1u);
  EXPECT_EQ(c->ListAlertRules()->size(), 1u);
  auto gone = c->ListGoneNodes();
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();  // node_confirmed is back
  ASSERT_EQ(gone->size(), 1u);
  EXPECT_EQ((*gone)[0].id, "vm-6dde3d7026bb61b1");
  EXPECT_EQ(*c->AllocateSegmentId(), 2u);
  // The group's table added since (node_settings) is created at open.
  ASSERT_TRUE(c->Heartbeat({"node-a", "http://a", 1, 2, 7, {{"node_timeout", 6000}}}).ok());
  EXPECT_EQ((*c->ListNodes())[0].confirmed_through, 7u);
  EXPECT_EQ((*c->ListNodes())[0].settings.at("node_timeout"), 6000u);
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  ASSERT_TRUE(c->RecordDamage({}).ok());
  ASSERT_TRUE(c->PutTenantQuota({"t1", "{}", 1, "admin"}).ok());
  ASSERT_TRUE(c->AcquireLease("compaction", "node-a", 100, 50).ok());
  EXPECT_EQ(c->ListSegmentChanges(0, 0)->segments.size(), 2u);
  c.reset();
  c = Open();
  EXPECT_EQ(c->List()->size(), 2u);
  EXPECT_EQ(c->ListTenantQuotas()->size(), 1u);
  EXPECT_EQ(c->ListLeases()->size(), 1u);
}

TEST(RedactPostgresUrlTest, PasswordsInTheUserInfoAndTheQueryAreHidden) {
  EXPECT_EQ(RedactPostgresUrl("postgresql://sawmill:s3cret@db:5432/logs"),
            "postgresql://sawmill:***@db:5432/logs");
  EXPECT_EQ(RedactPostgresUrl("postgresql://sawmill@db/logs?sslmode=require&password=s3cret"),
            "postgresql://sawmill@db/logs?sslmode=require&password=***");
  EXPECT_EQ(RedactPostgresUrl("postgres://db/logs?password=s3cret&application_name=x"),
            "postgres://db/logs?password=***&application_name=x");
  EXPECT_EQ(RedactPostgresUrl("postgresql://u:p@db/logs?password=q"),
            "postgresql://u:***@db/logs?password=***");
  // An '@' after the host is no user info.
  EXPECT_EQ(RedactPostgresUrl("postgresql://db:5432/logs?user=a@b"),
            "postgresql://db:5432/logs?user=a@b");
  EXPECT_EQ(RedactPostgresUrl("postgresql://db/logs"), "postgresql://db/logs");
}

#else  // SAWMILL_CATALOG_TEST_PG

// ---- The PostgreSQL catalog ----

class PgCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = SchemaFor(TestDir());
    PgSql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  void TearDown() override { PgSql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE"); }
  std::unique_ptr<Catalog> Open(PgCatalogOptions options = {}) {
    options.schema = schema_;
    auto c = OpenPostgresCatalog(PgTestUrl(), options);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  std::string schema_;
};

TEST_F(PgCatalogTest, UnreachableServerIsUnavailableAndNamesIt) {
  // A port nothing listens on (bound, never listening).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string url =
      "postgresql://sawmill:secret@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/sawmill";
  auto c = OpenPostgresCatalog(url, {.connect_timeout_s = 2});
  ::close(fd);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsUnavailable()) << c.status().ToString();
  EXPECT_NE(c.status().message().find("127.0.0.1"), std::string::npos) << c.status().ToString();
  EXPECT_EQ(c.status().message().find("secret"), std::string::npos) << "password in the message";
}

TEST_F(PgCatalogTest, ASecondExclusiveCatalogIsRefusedUntilTheFirstCloses) {
  auto first = Open({.exclusive = true});
  ASSERT_NE(first, nullptr);
  auto second = OpenPostgresCatalog(PgTestUrl(), {.schema = schema_, .exclusive = true});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status().ToString();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
  first.reset();
  EXPECT_NE(Open({.exclusive = true}), nullptr);
}

// A catalog of an earlier build, without the node_settings table, gets it at open (and the
// nodes' settings are then recorded and read).
TEST_F(PgCatalogTest, ACatalogWithoutTheNodeSettingsTableGetsItAtOpen) {
  auto c = Open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 1, 2}).ok());
  c.reset();
  PgSql("DROP TABLE " + schema_ + ".node_settings");
  c = Open();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Heartbeat({"a", "http://a", 1, 3, 0, {{"node_timeout", 6000}}}).ok());
  auto nodes = c->ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  EXPECT_EQ(nodes->at(0).settings, (std::map<std::string, uint64_t>{{"node_timeout", 6000}}));
}

// `sawmill admin settings` tells a catalog a server on its own holds (its exclusive lock) and
// takes nothing: the probe lets the lock go, so such a server still starts after it.
TEST_F(PgCatalogTest, AServerOnItsOwnHoldingTheCatalogIsFoundAndTheProbeHoldsNothing) {
  PgCatalogOptions options;
  options.schema = schema_;
  auto held = PostgresCatalogHeldExclusively(PgTestUrl(), options);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_FALSE(*held);
  auto alone = Open({.exclusive = true});  // starts after the probe
  ASSERT_TRUE(alone);
  held = PostgresCatalogHeldExclusively(PgTestUrl(), options);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_TRUE(*held);
  alone.reset();
  held = PostgresCatalogHeldExclusively(PgTestUrl(), options);
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(*held);
  // Another schema's server is another catalog.
  alone = Open({.exclusive = true});
  options.schema = schema_ + "x";
  held = PostgresCatalogHeldExclusively(PgTestUrl(), options);
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(*held);
  PgSql("DROP SCHEMA IF EXISTS " + schema_ + "x CASCADE");
}

// The same under a natural-language collation of the ids (a database created with en_US or an
// ICU locale orders "alpha" < "Bravo" < "core-2" < "Edge-1"): each node keeps its own values.
TEST_F(PgCatalogTest, EachNodesSettingsAreListedWithItsRowUnderANaturalLanguageCollation) {
  if (PgSql("SELECT count(*) FROM pg_collation WHERE collname = 'en-x-icu'") != "1") {
    GTEST_FAIL() << "the test server has no ICU collation en-x-icu";
  }
  auto c = Open();
  ASSERT_TRUE(c);
  PgSql("ALTER TABLE " + schema_ + ".nodes ALTER COLUMN id TYPE text COLLATE \"en-x-icu\"");
  const std::vector<std::string> ids = {"alpha", "Bravo", "Edge-1", "core-2"};
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(
        c->Heartbeat({ids[i], "http://" + ids[i], 5, 6, 0, {{"node_timeout", 1000 * (i + 1)}}})
            .ok());
  }
  auto nodes = c->ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), ids.size());
  EXPECT_EQ((*nodes)[1].id, "Bravo");  // the collation's order, not the bytes'
  for (const NodeRow& row : *nodes) {
    const uint64_t v = 1000 * (std::find(ids.begin(), ids.end(), row.id) - ids.begin() + 1);
    EXPECT_EQ(row.settings, (std::map<std::string, uint64_t>{{"node_timeout", v}})) << row.id;
  }
}

// The probe of `sawmill admin settings` never takes the exclusive lock: a server on its own
// taking it while probes run (a start, a reconnection) is never refused as "in use".
TEST_F(PgCatalogTest, AServerTakingTheCatalogWhileItIsProbedIsNeverRefused) {
  auto c = Open();  // the schema
  ASSERT_TRUE(c);
  PGconn* conn = PQconnectdb(PgTestUrl().c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  const std::string key = "hashtext('sawmill.catalog.' || '" + schema_ + "')";
  std::atomic<bool> done{false};
  std::thread probes([&] {
    PgCatalogOptions options;
    options.schema = schema_;
    for (int i = 0; i < 60; ++i) {
      auto held = PostgresCatalogHeldExclusively(PgTestUrl(), options);
      EXPECT_TRUE(held.ok()) << held.status().ToString();
    }
    done = true;
  });
  int tries = 0, refused = 0;
  while (!done) {
    PGresult* r = PQexec(conn, ("SELECT pg_try_advisory_lock(" + key + ")").c_str());
    const bool taken = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    ++tries;
    if (!taken) {
      ++refused;
      continue;
    }
    PQclear(PQexec(conn, ("SELECT pg_advisory_unlock(" + key + ")").c_str()));
  }
  probes.join();
  PQfinish(conn);
  EXPECT_GT(tries, 0);
  EXPECT_EQ(refused, 0) << "of " << tries << " tries";
}

TEST_F(PgCatalogTest, TwoConnectionsAllocateDisjointIdsAndSeeEachOthersRows) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const AllocatedIds ids = AllocateAtOnce(a.get(), b.get(), 40);
  EXPECT_EQ(ids.all.size(), 80u);
  EXPECT_EQ(*ids.all.rbegin(), 80u);
  ASSERT_TRUE(a->Insert(Row(500)).ok());
  EXPECT_TRUE(b->Get(500)->has_value());
  EXPECT_EQ(b->Insert(Row(500)).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*b->AllocateSegmentId(), 501u);
}

TEST_F(PgCatalogTest, ARetentionDecisionIsRefusedAfterAHoldAddedThroughAnotherConnection) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a->Insert(Row(1)).ok());
  const uint64_t decided = *a->LastRetentionEventId();
  RetentionEventRow who;
  who.actor = "ops";
  ASSERT_TRUE(b->AddHold({0, "t1", 0, 100, "", "INC-1", "ops", 1, 0, "", ""}, who).ok());
  EXPECT_EQ(a->RetireSegments({{1, "t1", 3, 100, 199, "local", "p", 2}}, {}, decided).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(a->Get(1)->has_value());
}

TEST_F(PgCatalogTest, AKilledConnectionIsUnavailableOnceThenReconnected) {
  const std::string app = "sawmill_test_" + std::to_string(::getpid());
  auto c = Open({.application_name = app});
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  // What a PostgreSQL restart or a network cut does to the catalog's connection.
  ASSERT_EQ(PgSql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                  "application_name = '" +
                  app + "'"),
            "1");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Status first = c->Insert(Row(2));
  EXPECT_TRUE(first.IsUnavailable()) << first.ToString();
  // The next call connects again; the failed one changed nothing.
  ASSERT_TRUE(c->Insert(Row(2)).ok());
  EXPECT_EQ(c->List()->size(), 2u);
}

// The cluster's superuser (trust on loopback): "postgres" when the fixture runs as root, else
// the user who ran initdb.
std::string PgSuperuserUrl() {
  const std::string url = PgTestUrl();
  const size_t at = url.find('@');
  const char* me = std::getenv("USER");
  for (std::string user : {std::string("postgres"), std::string(me != nullptr ? me : "root")}) {
    std::string candidate = "postgresql://" + user + url.substr(at);
    PGconn* conn = PQconnectdb(candidate.c_str());
    const bool ok = PQstatus(conn) == CONNECTION_OK;
    PQfinish(conn);
    if (ok) return candidate;
  }
  ADD_FAILURE() << "no superuser connects to " << url;
  return url;
}

TEST_F(PgCatalogTest, AUserWithoutCreateRightsRunsACatalogWhoseTablesExist) {
  {
    auto owner = Open();
    ASSERT_NE(owner, nullptr);
    ASSERT_TRUE(owner->Insert(Row(1)).ok());
  }
  // What docs/operations.md promises: after the first start, SELECT/INSERT/UPDATE/DELETE (and
  // USAGE on the schema and its sequences) are enough. The role may make schemas (the test's
  // own schema option needs that) but not tables in this one.
  const std::string role = "sawmill_dml_" + std::to_string(::getpid());
  PGconn* admin = PQconnectdb(PgSuperuserUrl().c_str());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
  const std::string grants = "DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role +
                             " LOGIN; GRANT CONNECT, CREATE ON DATABASE sawmill TO " + role +
                             "; GRANT USAGE ON SCHEMA " + schema_ + " TO " + role +
                             "; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " +
                             schema_ + " TO " + role + "; GRANT USAGE ON ALL SEQUENCES IN SCHEMA " +
                             schema_ + " TO " + role;
  PGresult* r = PQexec(admin, grants.c_str());
  ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  {
    const std::string url = PgTestUrl();
    auto c = OpenPostgresCatalog("postgresql://" + role + url.substr(url.find('@')),
                                 {.schema = schema_});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_TRUE((*c)->Insert(Row(2)).ok());
    EXPECT_EQ((*c)->List()->size(), 2u);
  }
  r = PQexec(admin, ("DROP OWNED BY " + role + "; DROP ROLE " + role).c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(admin);
}

TEST_F(PgCatalogTest, TextTheDatabaseCannotHoldIsInvalidArgumentAndStoresNothing) {
  auto c = Open();
  SegmentRow r = Row(1);
  r.tenant = std::string("a\0b", 3);
  EXPECT_EQ(c->Insert(r).code(), StatusCode::kInvalidArgument);
  r.tenant = "\xff\xfe";
  EXPECT_EQ(c->Insert(r).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c->List()->empty());
  EXPECT_TRUE(c->Insert(Row(1)).ok());
}

TEST_F(PgCatalogTest, TwoConnectionsRacingForALeaseGetOneHolder) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  int won_a = 0, won_b = 0;
  std::thread ta([&] {
    for (int i = 0; i < 30; ++i) {
      auto l = a->AcquireLease("job" + std::to_string(i), "a", 100, 1000);
      ASSERT_TRUE(l.ok()) << l.status().ToString();
      won_a += l->holder == "a";
    }
  });
  std::thread tb([&] {
    for (int i = 0; i < 30; ++i) {
      auto l = b->AcquireLease("job" + std::to_string(i), "b", 100, 1000);
      ASSERT_TRUE(l.ok()) << l.status().ToString();
      won_b += l->holder == "b";
    }
  });
  ta.join();
  tb.join();
  // Every job has exactly one holder, and each holder's answer agrees with the table.
  EXPECT_EQ(won_a + won_b, 30);
  auto leases = a->ListLeases();
  ASSERT_EQ(leases->size(), 30u);
  for (const LeaseRow& l : *leases) EXPECT_EQ(l.epoch, 1u) << l.name;
}

// Two nodes claiming partition leases from one list at the same moment, a few at a time, as
// their compaction and tier rounds do: each lease ends with one holder, taken once (epoch 1),
// and neither waits for the other (the rows one is taking are passed over by the other).
TEST_F(PgCatalogTest, TwoConnectionsClaimingFromOneListOfLeasesSplitItWithoutWaiting) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::vector<std::string> names;
  for (int i = 0; i < 64; ++i) names.push_back("tiers/" + std::to_string(i));
  std::map<std::string, std::string> holder;
  Mutex mu;
  // Each asks for the leases it does not hold yet, two at a time, until none is left to take.
  auto run = [&](Catalog* c, const std::string& me) {
    std::set<std::string> mine;
    while (true) {
      std::vector<std::string> wanted;
      for (const std::string& name : names) {
        if (mine.count(name) == 0) wanted.push_back(name);
      }
      if (wanted.empty()) return;
      auto got = c->AcquireLeases(wanted, me, 100, 1000000, 2);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      if (got->empty()) return;
      MutexLock l(&mu);
      for (const LeaseRow& lease : *got) {
        EXPECT_EQ(lease.holder, me);
        mine.insert(lease.name);
        auto [it, fresh] = holder.emplace(lease.name, me);
        EXPECT_TRUE(fresh) << lease.name << " taken twice";
      }
    }
  };
  std::thread ta([&] { run(a.get(), "a"); });
  std::thread tb([&] { run(b.get(), "b"); });
  ta.join();
  tb.join();
  auto leases = a->ListLeases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), names.size());
  int by_a = 0;
  for (const LeaseRow& l : *leases) {
    EXPECT_EQ(l.epoch, 1u) << l.name;
    EXPECT_EQ(l.holder, holder[l.name]) << l.name;
    by_a += l.holder == "a";
  }
  EXPECT_EQ(holder.size(), names.size());
  EXPECT_GT(by_a, 0);
  EXPECT_LT(by_a, 64);
}

// A commit under a lease keeps the lease from changing hands until it ends: while a's Replace
// runs (its commit hook is inside the transaction), b's claim passes the lease over instead of
// taking it; once a committed, b takes it (epoch 2) and a's next commit under it is refused.
TEST_F(PgCatalogTest, ALeaseIsNotTakenOverWhileACommitUnderItRuns) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->AcquireLease("compaction/3", "node-a", 100, 50).ok());
  ASSERT_TRUE(a->Insert(Row(1)).ok());
  const LeaseFence fence{"compaction/3", "node-a", 1};
  size_t taken_during = 99;
  a->SetCommitHook([&] {
    // Expired from b's clock, but a's commit holds the lease: passed over, not waited for.
    auto got = b->AcquireLeases({"compaction/3"}, "node-b", 1000, 50, 1);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    taken_during = got.ok() ? got->size() : 99;
    return Status::OK();
  });
  ASSERT_TRUE(a->Replace({1}, {Row(2)}, &fence).ok());
  a->SetCommitHook(nullptr);
  EXPECT_EQ(taken_during, 0u);
  auto after = b->AcquireLeases({"compaction/3"}, "node-b", 1000, 50, 1);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, (std::vector<LeaseRow>{{"compaction/3", "node-b", 1050, 2}}));
  EXPECT_EQ(a->Replace({2}, {Row(3)}, &fence).code(), StatusCode::kFailedPrecondition);
  const LeaseFence b2{"compaction/3", "node-b", 2};
  EXPECT_TRUE(b->Replace({2}, {Row(3)}, &b2).ok());
}

// Segment "id"'s row as a cluster node registers it: in the shared (cold) store.
SegmentRow SharedRow(uint64_t id) {
  SegmentRow row = Row(id);
  row.store = std::string(kColdStore);
  row.path = "segments/t1/" + std::to_string(id) + ".seg";
  return row;
}

// A sweep and a registration of one object on two connections at once: the sweep waits for the
// registration's commit and then finds the object named (it is not swept); before the lock, both
// committed, and the sweep deleted an object a row names.
TEST_F(PgCatalogTest, ASweepWaitsForARegistrationOfTheSameObjectInFlight) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const SegmentRow row = SharedRow(1);
  Result<uint64_t> registered = uint64_t{0};
  Result<std::vector<std::string>> swept = std::vector<std::string>{};
  StartDuringCommit(
      a.get(), [&] { registered = a->RegisterSegment(row, "node-a", nullptr); },
      [&] {
        swept =
            b->SweepSegmentObjects(kColdStore, {row.path, "segments/t1/2.seg"}, 1000, 500, nullptr);
      });
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(*swept, (std::vector<std::string>{"segments/t1/2.seg"}));
}

// The other order: a registration that waits for a sweep's lock on its object reads
// swept_objects after the sweep committed (under READ COMMITTED, in a statement after the lock),
// so it is refused rather than naming an object the sweep then deletes.
TEST_F(PgCatalogTest, ARegistrationThatWaitedForASweepOfItsObjectIsRefused) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const SegmentRow row = SharedRow(1);
  Result<std::vector<std::string>> swept = std::vector<std::string>{};
  std::optional<Result<uint64_t>> registered;
  StartDuringCommit(
      b.get(), [&] { swept = b->SweepSegmentObjects(kColdStore, {row.path}, 1000, 500, nullptr); },
      [&] { registered = a->RegisterSegment(row, "node-a", nullptr); });
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(*swept, (std::vector<std::string>{row.path}));
  ASSERT_TRUE(registered.has_value());
  EXPECT_FALSE(registered->ok()) << "a segment row names an object the sweep deletes";
  EXPECT_NE(registered->status().message().find("segment sweep"), std::string::npos)
      << registered->status().ToString();
  auto listed = a->List();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  for (const SegmentRow& r : *listed) EXPECT_NE(r.path, row.path);
}

// An operator's command (`sawmill admin settings set`) and a node starting, each on a connection
// of its own, over settings a first node settled; "seen" is what the command read and checked.
class PgSettingsRaceTest : public PgCatalogTest {
 protected:
  void SetUp() override {
    PgCatalogTest::SetUp();
    command_ = Open();
    node_ = Open();
    ASSERT_NE(command_, nullptr);
    ASSERT_NE(node_, nullptr);
    ASSERT_TRUE(command_->SettleSettings(runs_).ok());
    seen_ = *command_->ReadSettings();
  }
  const std::map<std::string, uint64_t> runs_ = {{"node_heartbeat", 2000}, {"node_timeout", 10000}};
  std::unique_ptr<Catalog> command_, node_;
  std::map<std::string, uint64_t> seen_;
};

// An operator's checked change committing while a node registers (docs/cluster.md "Cluster-wide
// settings"): the registration waits for the commit (the settings lock, held shared by
// registrations), so the node's re-read after it finds the new value and the node is refused at
// start. Had it registered and re-read before the commit, it would run 10s beside nodes that
// start with 20s, unseen by the check, which found no node.
TEST_F(PgSettingsRaceTest, ANodeRegisteringWhileACheckedSettingChangeCommitsReadsTheNewValue) {
  Status changed = Status::Internal("not run"), registered = Status::Internal("not run");
  Result<std::map<std::string, uint64_t>> reread = std::map<std::string, uint64_t>{};
  StartDuringCommit(
      command_.get(),
      [&] { changed = command_->ChangeSettingIf(seen_, {}, "node_timeout", 20000); },
      [&] {
        registered = node_->Heartbeat({"n", "http://n", 5, 1000, 0, runs_});
        reread = node_->ReadSettings();
      });
  ASSERT_TRUE(changed.ok()) << changed.ToString();
  ASSERT_TRUE(registered.ok()) << registered.ToString();
  ASSERT_TRUE(reread.ok()) << reread.status().ToString();
  EXPECT_EQ(reread->at("node_timeout"), 20000u) << "the node re-read the old value and runs it";
}

// The other order: a node's registration committing while the change starts. The change waits
// for it, then counts the node it did not check with and is refused; without the wait it read the
// nodes before the registration's commit, took the change, and the node's re-read (before the
// change's commit) found the old value.
TEST_F(PgSettingsRaceTest, ACheckedSettingChangeWhileANodeRegistersIsRefused) {
  Status changed = Status::Internal("not run"), registered = Status::Internal("not run");
  StartDuringCommit(
      node_.get(),
      [&] {
        registered = node_->Heartbeat({"n", "http://n", 5, 1000, 0, runs_});
      },
      [&] { changed = command_->ChangeSettingIf(seen_, {}, "node_timeout", 20000); });
  ASSERT_TRUE(registered.ok()) << registered.ToString();
  EXPECT_EQ(changed.code(), StatusCode::kFailedPrecondition) << changed.ToString();
  EXPECT_NE(changed.message().find("a node registered meanwhile (n)"), std::string::npos)
      << changed.message();
  EXPECT_EQ(command_->ReadSettings()->at("node_timeout"), 10000u);
}

TEST_F(PgCatalogTest, TwoNodesTakingOverOneDeadNodeSplitItsWalObjectsAndSeqBlocksDoNotMeet) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (uint64_t i = 0; i < 40; ++i) {
    WalObjectRow w;
    w.name = "wal/dead/" + std::to_string(i) + ".wal";
    w.node = w.owner = "dead";
    w.first_seq = w.last_seq = i + 1;
    w.state = std::string(kWalObjectUnflushed);
    ASSERT_TRUE(a->RegisterWalObject(w, {}).ok());
  }
  std::vector<std::string> got_a, got_b;
  std::vector<uint64_t> seqs_a, seqs_b;
  std::atomic<uint64_t> claims{0};  // claims that took something
  auto run = [&claims](Catalog* c, const char* me, std::vector<std::string>* got,
                       std::vector<uint64_t>* seqs) {
    for (int i = 0; i < 20; ++i) {
      auto claimed = c->ClaimWalObjects({"dead"}, me, 3, INT64_MAX);
      ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
      for (const auto& w : *claimed) got->push_back(w.name);
      if (!claimed->empty()) ++claims;
      auto first = c->AllocateSeqs(100, 0);
      ASSERT_TRUE(first.ok()) << first.status().ToString();
      seqs->push_back(*first);
    }
  };
  std::thread ta([&] { run(a.get(), "a", &got_a, &seqs_a); });
  std::thread tb([&] { run(b.get(), "b", &got_b, &seqs_b); });
  ta.join();
  tb.join();
  // Every object taken over exactly once; every block of 100 seqs its own.
  std::set<std::string> all(got_a.begin(), got_a.end());
  all.insert(got_b.begin(), got_b.end());
  EXPECT_EQ(all.size(), 40u);
  EXPECT_EQ(got_a.size() + got_b.size(), 40u);
  // Each claim that took something raised the generation once, none lost between the two.
  EXPECT_EQ(a->ReadWalTakeovers()->at("dead"), claims.load());
  std::vector<uint64_t> seqs = seqs_a;
  seqs.insert(seqs.end(), seqs_b.begin(), seqs_b.end());
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_GE(seqs[i], seqs[i - 1] + 100);
}

#endif  // SAWMILL_CATALOG_TEST_PG

}  // namespace
}  // namespace sawmill::catalog
