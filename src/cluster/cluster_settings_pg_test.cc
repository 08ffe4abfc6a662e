// Cluster-wide settings at a node's start on a real PostgreSQL (ctest fixture pg_server;
// docs/cluster.md "Cluster-wide settings"): a node settles its settings, and only its first
// heartbeat (ClusterNode::Open) makes it live to the others. An operator's `sawmill admin
// settings set` between the two is checked without it; the node must then not run the old
// value beside nodes that start with the new one.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "catalog/forwarding_catalog.h"
#include "cluster/cluster_node.h"
#include "cluster/cluster_settings.h"
#include "cluster/pg_cluster_test.h"

namespace sawmill::cluster {
namespace {

constexpr int64_t kHeartbeat = 200 * kNanosPerMilli;
constexpr int64_t kNodeTimeout = 6 * kNanosPerSecond;

// Forwards to the real catalog; runs "hook" once, just before the first Heartbeat (the node's
// registration) reaches the catalog.
class BeforeFirstHeartbeat final : public catalog::ForwardingCatalog {
 public:
  BeforeFirstHeartbeat(std::unique_ptr<catalog::Catalog> target, std::function<void()> hook)
      : ForwardingCatalog(std::move(target)), hook_(std::move(hook)) {}

 protected:
  Status Before(std::string_view call) const override {
    if (call == "Heartbeat" && !ran_.exchange(true)) hook_();
    return Status::OK();
  }

 private:
  std::function<void()> hook_;
  mutable std::atomic<bool> ran_{false};
};

class NodeStartSettingsTest : public PgClusterTest {
 protected:
  NodeStartSettingsTest() : PgClusterTest("startsettings", "ss") {}

  void TearDown() override { DropStore(); }

  // What `sawmill admin settings set NAME VALUE` does (src/cli/admin_settings_command.cc): reads
  // the recorded values, checks the change against the nodes live now, and records it compared
  // with what it read and the nodes it counted ("between" runs after the check, before the
  // write). Returns its refusal, if any.
  Status AdminSet(
      const std::string& name, uint64_t value, const std::function<void()>& between = [] {}) {
    ASSIGN_OR_RETURN(auto recorded, reader_->ReadSettings());
    ASSIGN_OR_RETURN(auto rows, reader_->ListNodes());
    std::vector<std::string> live;
    std::map<std::string, int64_t> registered;
    const int64_t alive_since = Clock::Real()->NowNanos() - kNodeTimeout;
    for (const catalog::NodeRow& row : rows) {
      if (row.heartbeat_ns >= alive_since) live.push_back(row.id);
      registered[row.id] = row.started_ns;
    }
    RETURN_IF_ERROR(CheckSettingChange(name, value, recorded, live));
    between();
    return reader_->ChangeSettingIf(recorded, registered, name, value);
  }

  // Node "id" settles its four settings (none given: it adopts what is recorded) and returns
  // them, as `sawmill server` does before it opens the node.
  std::map<std::string, uint64_t> Settle() {
    uint64_t heartbeat = kHeartbeat / kNanosPerMilli, timeout = kNodeTimeout / kNanosPerMilli;
    uint64_t query = 60'000, window = 86'400'000;
    const std::vector<NodeSetting> settings = {{"node_heartbeat", &heartbeat, false},
                                               {"node_timeout", &timeout, false},
                                               {"query_timeout", &query, false},
                                               {"idempotency_window", &window, false}};
    Status settled = SettleNodeSettings(reader_.get(), "CAT", settings, nullptr);
    EXPECT_TRUE(settled.ok()) << settled.ToString();
    std::map<std::string, uint64_t> values;
    for (const NodeSetting& setting : settings) values[std::string(setting.name)] = *setting.value;
    return values;
  }

  // Opens node "id" with the settled values "settled"; "before_registration" runs just before
  // its first heartbeat reaches the catalog.
  Result<std::unique_ptr<ClusterNode>> Open(const std::string& id,
                                            const std::map<std::string, uint64_t>& settled,
                                            std::function<void()> before_registration) {
    ClusterNodeOptions options = NodeOptions(id, kHeartbeat, kNodeTimeout);
    options.segment_sweep_interval_ns = 0;
    options.registry.settings = settled;
    options.wrap_node_catalog =
        [hook = std::move(before_registration)](std::unique_ptr<catalog::Catalog> real) mutable {
          return std::unique_ptr<catalog::Catalog>(
              std::make_unique<BeforeFirstHeartbeat>(std::move(real), std::move(hook)));
        };
    return ClusterNode::Open(std::move(options));
  }
};

// Node a settles node_timeout 6 s (the first: it records it). Before its registration, an
// operator sets node_timeout to 20 s: no node is live, so the change is taken (with a live node
// of 6 s it would be refused: the mix could count lines twice). Node a must not open with 6 s
// while nodes started from now on take 20 s: it is refused, naming the setting and both values,
// and is told to restart; restarted, it takes 20 s. Without the check after
// the registration it opened and ran 6 s.
TEST_F(NodeStartSettingsTest, ASettingChangedBeforeTheNodeWasLiveRefusesItsStart) {
  const std::map<std::string, uint64_t> settled = Settle();
  ASSERT_EQ(settled.at("node_timeout"), 6000u);
  Status during = Status::Internal("not run");
  auto opened = Open("node-a", settled, [&] { during = AdminSet("node_timeout", 20'000); });
  ASSERT_TRUE(during.ok()) << "the change while node a starts was refused: " << during.ToString();
  ASSERT_FALSE(opened.ok()) << "node a opened with node_timeout 6s while the cluster's is 20s";
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  const std::string& message = opened.status().message();
  EXPECT_NE(message.find("cluster-wide settings changed while this node started: restart it"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("node_timeout was 6s when this node took it, and is now 20s"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("node_heartbeat"), std::string::npos) << "unchanged ones named too";

  // Its restart settles 20 s and opens.
  const std::map<std::string, uint64_t> again = Settle();
  EXPECT_EQ(again.at("node_timeout"), 20'000u);
  auto restarted = Open("node-a", again, [] {});
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  (*restarted)->registry()->Stop(/*remove=*/true);
}

// Once registered, the node is live: the same change is then checked with it and refused, and
// nothing stops the node (it runs what the cluster records).
TEST_F(NodeStartSettingsTest, AChangeAfterTheRegistrationIsCheckedWithTheNode) {
  auto opened = Open("node-a", Settle(), [] {});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const Status after = AdminSet("node_timeout", 20'000);
  EXPECT_EQ(after.code(), StatusCode::kFailedPrecondition) << after.ToString();
  EXPECT_NE(after.message().find("1 node is live (node-a)"), std::string::npos) << after.ToString();
  (*opened)->registry()->Stop(/*remove=*/true);
}

// The command's own window (docs/cluster.md "Cluster-wide settings"): node a registers, re-reads
// the settings (6 s, unchanged) and opens after the command checked with no node live and before
// its write. The write is refused, naming a ("run it again", which then counts a and refuses the
// change while a runs 6 s); without the comparison it recorded 20 s with a running 6 s.
TEST_F(NodeStartSettingsTest, ANodeStartedBetweenTheCheckAndTheWriteRefusesTheChange) {
  const std::map<std::string, uint64_t> settled = Settle();
  Result<std::unique_ptr<ClusterNode>> opened = Status::Internal("not run");
  const Status set =
      AdminSet("node_timeout", 20'000, [&] { opened = Open("node-a", settled, [] {}); });
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(set.code(), StatusCode::kFailedPrecondition) << set.ToString();
  EXPECT_NE(set.message().find("a node registered meanwhile (node-a)"), std::string::npos)
      << set.ToString();
  EXPECT_EQ(reader_->ReadSettings()->at("node_timeout"), 6000u)
      << "recorded 20s while node a, unchecked, runs 6s";
  const Status again = AdminSet("node_timeout", 20'000);
  EXPECT_NE(again.message().find("1 node is live (node-a)"), std::string::npos) << again.ToString();
  (*opened)->registry()->Stop(/*remove=*/true);
}

// The other order: node a registers while the command's write commits (its registration starts
// from inside the commit). The registration waits for the commit, so a's re-read finds 20 s and
// its start is refused; without the wait a registered and re-read 6 s before the commit and ran
// 6 s, unseen by the check.
TEST_F(NodeStartSettingsTest, ANodeStartingWhileTheChangeCommitsIsRefused) {
  const std::map<std::string, uint64_t> settled = Settle();
  Result<std::unique_ptr<ClusterNode>> opened = Status::Internal("not run");
  std::atomic<bool> done{false}, started{false};
  std::thread node;
  reader_->SetCommitHook([&] {
    if (started.exchange(true)) return Status::OK();
    node = std::thread([&] {
      opened = Open("node-a", settled, [] {});
      done = true;
    });
    // Until node a opened (it did not wait for this commit) or 2 s passed (it waits).
    for (int i = 0; i < 200 && !done.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Status::OK();
  });
  const Status set = AdminSet("node_timeout", 20'000);
  reader_->SetCommitHook(nullptr);
  ASSERT_TRUE(node.joinable()) << "the commit hook never ran";
  node.join();
  ASSERT_TRUE(set.ok()) << set.ToString();
  ASSERT_FALSE(opened.ok()) << "node a opened with node_timeout 6s while the cluster's is 20s";
  EXPECT_NE(opened.status().message().find("node_timeout was 6s when this node took it, and is "
                                           "now 20s"),
            std::string::npos)
      << opened.status().ToString();
}

}  // namespace
}  // namespace sawmill::cluster
