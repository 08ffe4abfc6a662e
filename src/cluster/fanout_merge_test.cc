// The merge of a cluster query (docs/cluster.md "Read path"), differential: the records of a
// real dataset spread over three nodes as a cluster holds them (the flushed ones in segments
// every node sees, the rest in one node's memtables each) must answer every random query
// (filters, newest-first pages of random limits, count, count by, buckets, top, uniq, fields,
// head) exactly as one scan of all the records does. The other nodes' parts go through the real
// wire form (part_codec) and the real merge (MergeParts); each runs with memtables_only over a
// snapshot that also holds the shared segments, so a part that read them would count them twice.
#include <gtest/gtest.h>

#include "cluster/fanout.h"
#include "cluster/part_codec.h"
#include "query/executor.h"
#include "query/random_query_test_util.h"
#include "query/test_dataset.h"

namespace sawmill::cluster {
namespace {

using query::ExecOptions;
using query::ExecResult;
using query::PartAnswer;

// A node's part as POST /internal/v1/memtable-search computes it, through the wire form.
PartAnswer PartOf(const std::shared_ptr<const storage::Snapshot>& node, const ExecOptions& o,
                  std::shared_ptr<const query::Query> query) {
  ExecOptions part = o;
  part.remote = nullptr;
  part.memtables_only = true;
  part.keep_groups = true;
  ExecResult r = query::Execute(node, std::move(query), part);
  PartAnswer a;
  a.hits = std::move(r.hits);
  a.groups = std::move(r.groups);
  a.stats = r.stats;
  a.partial = r.partial;
  a.warnings = std::move(r.warnings);
  auto back = DecodePartAnswer(EncodePartAnswer(a));
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  return back.ok() ? std::move(back).value() : PartAnswer{};
}

TEST(FanoutMerge, ThreeNodesAnswerLikeOne) {
  std::vector<Record> records = query::testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u) << "dataset missing under " << query::testing::SharedDir();
  // 70 % flushed (in segments every node reads from the catalog), the rest acknowledged on one
  // of three nodes each and still in its memtables.
  const size_t flushed = records.size() * 7 / 10;
  std::vector<Record> node_records[3];
  for (size_t i = 0; i < records.size(); ++i) {
    if (i < flushed) {
      for (auto& n : node_records) n.push_back(records[i]);
    } else {
      node_records[(records[i].seq * 7919) % 3].push_back(records[i]);
    }
  }
  query::testing::TempDir dirs[3] = {query::testing::TempDir("fanout0"),
                                     query::testing::TempDir("fanout1"),
                                     query::testing::TempDir("fanout2")};
  std::shared_ptr<const storage::Snapshot> nodes[3];
  for (int n = 0; n < 3; ++n) {
    nodes[n] = query::testing::BuildSnapshot(node_records[n], dirs[n].path(), 900,
                                             node_records[n].size() - flushed, 256);
    ASSERT_FALSE(nodes[n]->memtables.empty());
  }
  auto remote = [&nodes](const ExecOptions& o, std::shared_ptr<const query::Query> query) {
    std::vector<PartAnswer> parts;
    parts.push_back(PartOf(nodes[1], o, query));
    parts.push_back(PartOf(nodes[2], o, query));
    return MergeParts(std::move(parts));
  };
  query::testing::ExpectAgreement(nodes[0], records, 0, 2020, 300, query::testing::kDatasetStart,
                                  7000, remote);
}

// A failed node's part: the answer is partial and names it, the other parts still count.
TEST(FanoutMerge, AFailedPartMakesThePartialAnswerNameTheNode) {
  std::vector<Record> records = query::testing::LoadDataset();
  ASSERT_GT(records.size(), 1000u);
  query::testing::TempDir dir("fanout_failed");
  auto node = query::testing::BuildSnapshot(records, dir.path(), 900, 100, 256);
  auto query = std::make_shared<const query::Query>(query::ParseQuery("* | count").value());
  ExecOptions o;
  o.range = {INT64_MIN, INT64_MAX, false};
  o.all_time = true;
  o.remote = [] {
    PartAnswer good;
    good.groups.groups.push_back({0, {}, 5});
    PartAnswer failed;
    failed.partial = true;
    failed.warnings.push_back("node n2 (http://10.0.0.2:9640) did not answer within 2.0 s");
    std::vector<PartAnswer> parts;
    parts.push_back(std::move(good));
    parts.push_back(std::move(failed));
    return MergeParts(std::move(parts));
  };
  ExecResult r = query::Execute(node, query, o);
  EXPECT_TRUE(r.partial);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(r.rows[0][0].second), static_cast<int64_t>(records.size()) + 5);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("node n2"), std::string::npos);
}

}  // namespace
}  // namespace sawmill::cluster
