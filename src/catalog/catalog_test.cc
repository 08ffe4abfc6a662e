#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace sawmill::catalog {
namespace {

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_catalog_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Catalog> OpenCatalog() {
    auto c = Catalog::Open((dir_ / "catalog.db").string());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  static SegmentRow Row(uint64_t id, std::string tenant = "t1", uint32_t partition = 3) {
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

  std::filesystem::path dir_;
};

TEST_F(CatalogTest, RowsPersistAcrossReopen) {
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

TEST_F(CatalogTest, DuplicateIdIsAlreadyExists) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(1)).ok());
  EXPECT_EQ(c->Insert(Row(1)).code(), StatusCode::kAlreadyExists);
}

TEST_F(CatalogTest, ReplaceIsAllOrNothing) {
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

TEST_F(CatalogTest, CommitHookFailureRollsBack) {
  auto c = OpenCatalog();
  c->SetCommitHook([] { return Status::IOError("simulated crash"); });
  EXPECT_FALSE(c->Insert(Row(1)).ok());
  c->SetCommitHook(nullptr);
  EXPECT_TRUE(c->List()->empty());
  ASSERT_TRUE(c->Insert(Row(1)).ok());
}

TEST_F(CatalogTest, IdsAreNeverReused) {
  auto c = OpenCatalog();
  ASSERT_TRUE(c->Insert(Row(7)).ok());
  ASSERT_TRUE(c->Delete(7).ok());
  EXPECT_EQ(*c->MaxId(), 7u);
}

TEST_F(CatalogTest, StateChangesAndFilters) {
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

TEST_F(CatalogTest, UnopenableFileIsAClearError) {
  auto c = Catalog::Open((dir_ / "no" / "such" / "dir" / "catalog.db").string());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("catalog.db"), std::string::npos);
}

}  // namespace
}  // namespace sawmill::catalog
