// Test-only: what the cluster tests on one PostgreSQL (ctest fixture pg_server) share: a fixture
// giving each test a directory, a schema of its own, the shared store and a catalog connection
// of its own, and a catalog wrapper that kills a node.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "catalog/forwarding_catalog.h"
#include "catalog/pg_catalog.h"
#include "catalog/pg_test_server.h"
#include "common/env.h"
#include "objstore/local_directory_store.h"

namespace sawmill::cluster {

// Forwards to the real catalog until the node is killed (Die): from then on every call fails
// before it reaches the catalog (nothing the node's process does reaches it any more).
class KillableCatalog : public catalog::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;

  void Die() { dead_.store(true); }
  bool dead() const { return dead_.load(); }

 protected:
  Status Before(std::string_view call) const override {
    if (dead_.load()) return Status::IOError("test: node killed (" + std::string(call) + ")");
    return Status::OK();
  }

 private:
  std::atomic<bool> dead_{false};
};

// SetUp makes dir_ (named "sawmill_<name>_<pid>_<test>"), a PostgreSQL schema of its own
// ("<schema_prefix><hash>", url_), the nodes' shared store under dir_/store (store_) and the
// test's own catalog connection (reader_). A test's TearDown stops its nodes, then DropStore.
class PgClusterTest : public ::testing::Test {
 protected:
  PgClusterTest(std::string name, std::string schema_prefix)
      : name_(std::move(name)), schema_prefix_(std::move(schema_prefix)) {}

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_" + name_ + "_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "store");
    schema_ = schema_prefix_ + std::to_string(std::hash<std::string>{}(dir_.string()) % 1000000007);
    url_ = catalog::PgTestSchemaUrl(schema_);
    store_ =
        std::make_shared<objstore::LocalDirectoryStore>(Env::Default(), (dir_ / "store").string());
    auto reader = catalog::OpenPostgresCatalog(url_);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    reader_ = std::move(*reader);
  }

  void DropStore() {
    reader_.reset();
    catalog::PgTestSql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::string schema_, url_;
  std::shared_ptr<objstore::LocalDirectoryStore> store_;
  std::unique_ptr<catalog::Catalog> reader_;

 private:
  std::string name_, schema_prefix_;
};

}  // namespace sawmill::cluster
