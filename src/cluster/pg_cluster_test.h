// Test-only: what the cluster tests on one PostgreSQL (ctest fixture pg_server) share: a fixture
// giving each test a directory, a schema of its own, the shared store and a catalog connection
// of its own, and a catalog wrapper that kills a node.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/forwarding_catalog.h"
#include "catalog/pg_catalog.h"
#include "catalog/pg_test_server.h"
#include "cluster/cluster_node.h"
#include "common/env.h"
#include "objstore/local_directory_store.h"
#include "segment/segment.h"

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

  // A TearDown of nodes running together: "nodes" (pointers to a test's nodes, each with a
  // "cluster" and an "engine", and a "refresh" where it keeps a segment view) stop their views
  // and takeover rounds, then every engine closes (sealing its last WAL object), then every
  // node leaves the nodes table; "nodes" is cleared, then DropStore.
  template <typename Nodes>
  void StopNodesAndDropStore(Nodes* nodes) {
    for (auto& node : *nodes) {
      if constexpr (requires { node->refresh; }) {
        if (node->refresh) node->refresh->Stop();
      }
      if (node->cluster) node->cluster->Stop();
    }
    for (auto& node : *nodes) {
      if (node->engine) node->engine->Close().IgnoreError();
    }
    for (auto& node : *nodes) {
      if (node->cluster) node->cluster->registry()->Stop(/*remove=*/true);
    }
    nodes->clear();
    DropStore();
  }

  // The options of node "id" on the test's catalog and store: heartbeats every "heartbeat_ns",
  // peers dead after "node_timeout_ns", an unreachable URL (peers are asked in process).
  ClusterNodeOptions NodeOptions(const std::string& id, int64_t heartbeat_ns,
                                 int64_t node_timeout_ns) const {
    ClusterNodeOptions options;
    options.catalog_url = url_;
    options.registry.id = id;
    options.registry.url = "http://" + id + ".invalid";
    options.registry.heartbeat_interval_ns = heartbeat_ns;
    options.registry.node_timeout_ns = node_timeout_ns;
    options.wal_store = store_;
    return options;
  }

  // Registered WAL objects written by "node" (whoever owns them now).
  size_t WalObjectsWrittenBy(const std::string& node) {
    auto rows = reader_->ListWalObjects("");
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    size_t n = 0;
    if (rows.ok()) {
      for (const auto& row : *rows) n += row.node == node ? 1 : 0;
    }
    return n;
  }

  // Every segment the catalog names, read from the store: how many times each message is in
  // one, and (when "objects" is not null) the segments' objects.
  std::map<std::string, int> LinesInSegments(std::vector<std::string>* objects = nullptr) {
    std::map<std::string, int> seen;
    auto rows = reader_->List();
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (!rows.ok()) return seen;
    for (const catalog::SegmentRow& row : *rows) {
      if (objects != nullptr) objects->push_back(row.path);
      auto segment = segment::SegmentReader::Open(store_, row.path);
      EXPECT_TRUE(segment.ok()) << row.path << ": " << segment.status().ToString();
      if (!segment.ok()) continue;
      for (uint32_t b = 0; b < (*segment)->blocks().size(); ++b) {
        std::vector<Record> records;
        Status s = (*segment)->ReadBlock(b, segment::kColMessage, &records, nullptr);
        EXPECT_TRUE(s.ok()) << s.ToString();
        for (const Record& r : records) ++seen[r.message];
      }
    }
    return seen;
  }

  std::filesystem::path dir_;
  std::string schema_, url_;
  std::shared_ptr<objstore::LocalDirectoryStore> store_;
  std::unique_ptr<catalog::Catalog> reader_;

 private:
  std::string name_, schema_prefix_;
};

}  // namespace sawmill::cluster
