#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "auth/audit_log.h"
#include "auth/crypto.h"
#include "auth/roles.h"
#include "auth/token_store.h"
#include "catalog/sqlite_catalog.h"

namespace sawmill::auth {
namespace {

constexpr int64_t kSecond = kNanosPerSecond;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_auth_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    catalog_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    catalog_.reset();
    catalog::SqliteCatalogOptions options;
    options.shared = true;  // the tests edit the file behind the catalog's back
    auto opened = catalog::OpenSqliteCatalog((dir_ / "catalog.db").string(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    catalog_ = std::move(*opened);
  }
  // Runs "sql" on the catalog file through a connection of its own.
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "catalog.db").string().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  std::filesystem::path dir_;
  std::unique_ptr<catalog::Catalog> catalog_;
  ManualClock clock_{1'700'000'000 * kSecond};
};

TEST(CryptoTest, Sha256AndConstantTimeEqual) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abcd"));
  auto a = RandomBytes(32), b = RandomBytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(RolesTest, RightsOfEachRole) {
  EXPECT_TRUE(RoleHasRight(Role::kIngest, Right::kIngest));
  EXPECT_FALSE(RoleHasRight(Role::kIngest, Right::kRead));
  EXPECT_TRUE(RoleHasRight(Role::kReader, Right::kRead));
  EXPECT_FALSE(RoleHasRight(Role::kReader, Right::kIngest));
  EXPECT_FALSE(RoleHasRight(Role::kReader, Right::kTenantAdmin));
  EXPECT_TRUE(RoleHasRight(Role::kTenantAdmin, Right::kTenantAdmin));
  EXPECT_FALSE(RoleHasRight(Role::kTenantAdmin, Right::kPlatformAdmin));
  EXPECT_FALSE(RoleHasRight(Role::kTenantAdmin, Right::kAudit));
  EXPECT_TRUE(RoleHasRight(Role::kPlatformAdmin, Right::kAudit));
  EXPECT_TRUE(RoleHasRight(Role::kAuditor, Right::kAudit));
  EXPECT_FALSE(RoleHasRight(Role::kAuditor, Right::kRead));
  EXPECT_FALSE(RoleHasRight(Role::kAuditor, Right::kIngest));
  for (std::string_view name : {"ingest", "reader", "tenant-admin", "platform-admin", "auditor"}) {
    ASSERT_TRUE(ParseRole(name).has_value()) << name;
    EXPECT_EQ(RoleName(*ParseRole(name)), name);
  }
  EXPECT_FALSE(ParseRole("admin").has_value());
}

TEST_F(AuthTest, TokenIsShownOnceAndStoredOnlyAsAHash) {
  auto store = TokenStore::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE((*store)->enabled());
  auto created = (*store)->Create({"shipper", {"acme"}, Role::kIngest, 0, ""});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE((*store)->enabled());
  std::string_view id, secret;
  ASSERT_TRUE(ParseTokenText(created->token, &id, &secret)) << created->token;
  EXPECT_EQ(secret.size(), 64u);  // 256 bits
  auto rows = catalog_->ListTokens();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].secret_hash, Sha256Hex(secret));
  EXPECT_EQ((*rows)[0].secret_hash.find(secret), std::string::npos);
  // Another process (a restart) authenticates it from the catalog.
  auto again = TokenStore::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(again.ok());
  auto identity = (*again)->Authenticate(created->token);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->name, "shipper");
  EXPECT_EQ(identity->role, Role::kIngest);
  EXPECT_TRUE(identity->HasTenant("acme"));
  EXPECT_FALSE(identity->HasTenant("other"));
}

TEST_F(AuthTest, WrongMalformedExpiredAndRevokedTokensAreRefusedSayingWhy) {
  auto store = TokenStore::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(store.ok());
  auto created =
      (*store)->Create({"ci", {"acme"}, Role::kReader, clock_.NowNanos() + 60 * kSecond, "admin"});
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE((*store)->Authenticate(created->token).ok());

  std::string wrong = created->token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  auto refused = (*store)->Authenticate(wrong);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("not valid"), std::string::npos);

  refused = (*store)->Authenticate("hunter2");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("not a Sawmill API token"), std::string::npos);

  clock_.Advance(61 * kSecond);
  refused = (*store)->Authenticate(created->token);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("token 'ci' expired at"), std::string::npos);

  auto other = (*store)->Create({"other", {"acme"}, Role::kReader, 0, "admin"});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*store)->Authenticate(other->token).ok());
  ASSERT_TRUE((*store)->Revoke(other->row.id).ok());
  refused = (*store)->Authenticate(other->token);  // at once, no reload
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("token 'other' was revoked at"), std::string::npos);
  EXPECT_EQ((*store)->Revoke("0123456789abcdef").code(), StatusCode::kNotFound);
  // Revoked stays revoked after a restart.
  auto again = TokenStore::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Authenticate(other->token).status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE((*again)->enabled());
}

TEST_F(AuthTest, TenantListMustSuitTheRole) {
  auto store = TokenStore::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Create({"x", {"a"}, Role::kPlatformAdmin, 0, ""}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Create({"x", {}, Role::kIngest, 0, ""}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Create({"x", {"a", "b"}, Role::kIngest, 0, ""}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Create({"", {"a"}, Role::kIngest, 0, ""}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      (*store)->Create({"x", {"a"}, Role::kIngest, clock_.NowNanos() - 1, ""}).status().code(),
      StatusCode::kInvalidArgument);
  auto multi = (*store)->Create({"x", {"a", "b"}, Role::kReader, 0, ""});
  ASSERT_TRUE(multi.ok());
  auto identity = (*store)->Authenticate(multi->token);
  ASSERT_TRUE(identity.ok());
  EXPECT_TRUE(identity->HasTenant("a"));
  EXPECT_TRUE(identity->HasTenant("b"));
  EXPECT_FALSE((*store)->enabled() == false);
}

catalog::AuditRow Entry(const std::string& who, const std::string& query, int64_t rows) {
  catalog::AuditRow row;
  row.who = who;
  row.tenant = "acme";
  row.action = "search";
  row.query = query;
  row.rows = rows;
  row.address = "127.0.0.1";
  row.status = 200;
  return row;
}

TEST_F(AuthTest, AuditChainIsIntactAfterAppendsAndARestart) {
  {
    auto log = AuditLog::Open(catalog_.get(), &clock_);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE((*log)->Append(Entry("ann", "q" + std::to_string(i), i)).ok());
  }
  auto log = AuditLog::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Entry("bob", "level>=ERROR", 7)).ok());
  auto verified = (*log)->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->problems.empty()) << verified->problems[0];
  EXPECT_EQ(verified->entries, 6u);
  EXPECT_EQ(verified->last_seq, 6u);
  auto rows = catalog_->ListAudit({});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 6u);
  EXPECT_EQ((*rows)[5].prev_hash, (*rows)[4].hash);
  EXPECT_EQ((*rows)[5].who, "bob");
}

TEST_F(AuthTest, AuditVerifyFindsADeletedEntry) {
  auto log = AuditLog::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append(Entry("ann", "q", i)).ok());
  Sql("DELETE FROM audit_log WHERE seq = 3");
  auto verified = (*log)->Verify();
  ASSERT_TRUE(verified.ok());
  ASSERT_FALSE(verified->problems.empty());
  EXPECT_NE(verified->problems[0].find("entries 3 to 3 are missing"), std::string::npos)
      << verified->problems[0];
}

TEST_F(AuthTest, AuditVerifyFindsADeletedEntryRenumberedToHideTheGap) {
  auto log = AuditLog::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append(Entry("ann", "q", i)).ok());
  Sql("DELETE FROM audit_log WHERE seq = 3; UPDATE audit_log SET seq = seq - 1 WHERE seq > 3");
  auto verified = AuditLog::Open(catalog_.get(), &clock_).value()->Verify();
  ASSERT_TRUE(verified.ok());
  ASSERT_FALSE(verified->problems.empty());
  EXPECT_NE(verified->problems[0].find("entry 3 does not follow"), std::string::npos)
      << verified->problems[0];
}

TEST_F(AuthTest, AuditVerifyFindsAnEditedEntry) {
  auto log = AuditLog::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append(Entry("ann", "secret stuff", i)).ok());
  Sql("UPDATE audit_log SET query = 'harmless' WHERE seq = 2");
  auto verified = (*log)->Verify();
  ASSERT_TRUE(verified.ok());
  ASSERT_EQ(verified->problems.size(), 1u);
  EXPECT_EQ(verified->problems[0], "entry 2 was edited: its fields do not match its hash");
}

TEST_F(AuthTest, AuditVerifyFindsEntriesDeletedFromTheEnd) {
  auto log = AuditLog::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append(Entry("ann", "q", i)).ok());
  Sql("DELETE FROM audit_log WHERE seq >= 4");
  auto verified = (*log)->Verify();
  ASSERT_TRUE(verified.ok());
  ASSERT_EQ(verified->problems.size(), 1u);
  EXPECT_NE(verified->problems[0].find("entries 4 to 5 are missing"), std::string::npos);
  // The next entry does not cover the cut by taking seq 4: it leaves the gap, which a later
  // verification (by a process that never knew of entries 4 and 5) still names.
  ASSERT_TRUE((*log)->Append(Entry("ann", "after the cut", 1)).ok());
  EXPECT_EQ((*catalog_->LastAudit())->seq, 6u);
  verified = AuditLog::Open(catalog_.get(), &clock_).value()->Verify();
  ASSERT_TRUE(verified.ok());
  ASSERT_FALSE(verified->problems.empty());
  EXPECT_NE(verified->problems[0].find("entries 4 to 5 are missing"), std::string::npos)
      << verified->problems[0];
}

catalog::AuditFilter AllAudit() {
  catalog::AuditFilter f;
  f.limit = 1000;
  return f;
}

// Two nodes of a cluster: each its own catalog handle on the one catalog, each its own AuditLog,
// appending in turn and at once. Every entry of both is recorded, once, in one chain that
// verifies (before, each numbered its own chain and the second node's entries were refused as
// "audit entry 1 exists").
TEST_F(AuthTest, TwoNodesSharingTheCatalogRecordEveryEntryInOneChain) {
  catalog::SqliteCatalogOptions options;
  options.shared = true;
  auto other = catalog::OpenSqliteCatalog((dir_ / "catalog.db").string(), options);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto a = AuditLog::Open(catalog_.get(), &clock_);
  auto b = AuditLog::Open(other->get(), &clock_);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Append(Entry("node-a", "first", 0)).ok());
  ASSERT_TRUE((*b)->Append(Entry("node-b", "first", 0)).ok());
  constexpr int kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (AuditLog* log : {a->get(), b->get()}) {
    const std::string who = log == a->get() ? "node-a" : "node-b";
    threads.emplace_back([&failures, log, who] {
      for (int i = 0; i < kEach; ++i) {
        Status s = log->Append(Entry(who, "q" + std::to_string(i), i));
        if (!s.ok()) {
          ADD_FAILURE() << who << ": " << s.ToString();
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (AuditLog* log : {a->get(), b->get()}) {
    auto verified = log->Verify();
    ASSERT_TRUE(verified.ok());
    EXPECT_TRUE(verified->problems.empty()) << verified->problems[0];
    EXPECT_EQ(verified->entries, 2u * (kEach + 1));
  }
  auto rows = catalog_->ListAudit(AllAudit());
  ASSERT_TRUE(rows.ok());
  std::map<std::string, int> by_node;
  for (const catalog::AuditRow& row : *rows) ++by_node[row.who + "/" + row.query];
  EXPECT_EQ(by_node.size(), 2u * (kEach + 1));  // every entry once
  for (const auto& [entry, n] : by_node) EXPECT_EQ(n, 1) << entry;
}

TEST_F(AuthTest, AuditRetentionRemovesAPrefixAndTheChainStillVerifies) {
  auto log = AuditLog::Open(catalog_.get(), &clock_);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE((*log)->Append(Entry("ann", "q", i)).ok());
    clock_.Advance(kSecond);
  }
  auto pruned = (*log)->Prune(clock_.NowNanos() - 3 * kSecond);  // entries 1..3
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 3u);
  ASSERT_TRUE((*log)->Append(Entry("ann", "after", 1)).ok());
  auto verified = AuditLog::Open(catalog_.get(), &clock_).value()->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->problems.empty()) << verified->problems[0];
  EXPECT_EQ(verified->first_seq, 4u);
  EXPECT_EQ(verified->last_seq, 7u);
  // Deleting the new first entry is still found: the anchor names the one before it.
  Sql("DELETE FROM audit_log WHERE seq = 4");
  verified = AuditLog::Open(catalog_.get(), &clock_).value()->Verify();
  ASSERT_TRUE(verified.ok());
  ASSERT_FALSE(verified->problems.empty());
}

}  // namespace
}  // namespace sawmill::auth
