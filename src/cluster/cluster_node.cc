#include "cluster/cluster_node.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

#include "catalog/pg_catalog.h"

namespace sawmill::cluster {

ClusterNode::ClusterNode(ClusterNodeOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

ClusterNode::~ClusterNode() { Stop(); }

Result<std::unique_ptr<ClusterNode>> ClusterNode::Open(ClusterNodeOptions options) {
  std::unique_ptr<ClusterNode> node(new ClusterNode(std::move(options)));
  NodeRegistryOptions registry = node->options_.registry;
  registry.clock = node->clock_;
  node->options_.wal.node = registry.id;
  catalog::PgCatalogOptions pg;
  pg.application_name = "sawmill node " + registry.id;
  ASSIGN_OR_RETURN(node->node_catalog_,
                   catalog::OpenPostgresCatalog(node->options_.catalog_url, pg));
  pg.application_name = "sawmill wal " + registry.id;
  ASSIGN_OR_RETURN(node->wal_catalog_,
                   catalog::OpenPostgresCatalog(node->options_.catalog_url, pg));
  // Registered before anything else: from this heartbeat on, no other node takes over this
  // node's WAL objects (ClaimWalObjects checks the heartbeat in the same statement), and the
  // registry keeps heartbeating while the engine replays them.
  ASSIGN_OR_RETURN(node->registry_, NodeRegistry::Start(node->node_catalog_.get(), registry));
  node->options_.wal.incarnation = node->registry_->incarnation();
  spdlog::info("cluster node {} ({}): catalog {}, node timeout {} ms", node->id(),
               node->registry_->url(), catalog::RedactPostgresUrl(node->options_.catalog_url),
               node->registry_->node_timeout_ns() / kNanosPerMilli);
  return node;
}

void ClusterNode::Configure(storage::EngineOptions* options,
                            std::shared_ptr<objstore::ObjectStore> segment_store) {
  options->catalog_path = options_.catalog_url;
  options->shared_store = true;
  // Its flushes are registered under its id, and its view takes the others' (docs/cluster.md
  // "The segment view").
  options->node_id = options_.registry.id;
  options->cold_store = std::move(segment_store);
  options->background_compaction = false;
  options->tier_interval_ns = 0;
  options->wal_factory =
      [this](wal::WalSink::ApplyFn apply) -> Result<std::unique_ptr<wal::WalSink>> {
    ASSIGN_OR_RETURN(auto writer, WalObjectWriter::Open(wal_catalog_.get(), options_.wal_store,
                                                        clock_, options_.wal, std::move(apply)));
    writer_ = writer.get();
    return std::unique_ptr<wal::WalSink>(std::move(writer));
  };
}

void ClusterNode::Start(storage::Engine* engine) {
  engine_ = engine;
  takeover_.Start(options_.registry.heartbeat_interval_ns, [this] { TakeoverRound(); });
}

void ClusterNode::Stop() {
  stopping_.store(true);
  takeover_.Stop();
}

Result<size_t> ClusterNode::TakeOverNow() {
  if (writer_ == nullptr || engine_ == nullptr) {
    return Status::FailedPrecondition("the cluster node has not started");
  }
  // Dead and alive as the registry judges them, from the nodes table as it is now.
  ASSIGN_OR_RETURN(std::vector<NodeView> nodes, registry_->List());
  bool self_live = false;
  std::vector<std::string> dead;
  for (const NodeView& view : nodes) {
    if (view.self) {
      self_live = view.live;
    } else if (!view.live && view.row.id != id()) {
      dead.push_back(view.row.id);
    }
  }
  // A node whose own heartbeat is not current may be found dead itself: it takes nothing over.
  if (!self_live) {
    return Status::Unavailable("this node's heartbeat is not current; no takeover");
  }
  if (dead.empty()) return size_t{0};
  // After a catalog outage (ours, so probably everyone's) a live node's heartbeat is as stale as
  // a dead one's: each gets node_timeout to beat again before its objects may be taken, or a
  // node that merely lost the catalog for a moment would have its lines flushed twice.
  if (!registry_->CatalogSteadyForNodeTimeout()) return size_t{0};
  const int64_t alive_since = clock_->NowNanos() - registry_->node_timeout_ns();
  size_t taken = 0;
  RETURN_IF_ERROR(engine_->WithoutWalTrim([&]() -> Status {
    ASSIGN_OR_RETURN(taken, writer_->TakeOver(dead, alive_since, options_.takeover_batch));
    return Status::OK();
  }));
  if (taken > 0) {
    // Into segments now, so that the objects go and the lines are in the shared store.
    Status s = engine_->Flush();
    if (!s.ok()) spdlog::warn("flush after a takeover failed (retried): {}", s.ToString());
  }
  return taken;
}

void ClusterNode::TakeoverRound() {
  auto taken = TakeOverNow();
  // Until every object is taken: another round at once.
  while (taken.ok() && *taken >= options_.takeover_batch && !stopping_.load()) {
    taken = TakeOverNow();
  }
  if (!taken.ok()) {
    // Logged when it starts failing and when it works again (each round retries).
    if (!takeover_failing_) {
      spdlog::warn("takeover round failed (retried every heartbeat): {}",
                   taken.status().ToString());
    }
    takeover_failing_ = true;
  } else if (takeover_failing_) {
    spdlog::info("takeover rounds work again");
    takeover_failing_ = false;
  }
}

}  // namespace sawmill::cluster
