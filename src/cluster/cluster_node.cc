#include "cluster/cluster_node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "catalog/pg_catalog.h"
#include "cluster/cluster_settings.h"
#include "common/metrics.h"
#include "objstore/cold_cache.h"
#include "storage/job_gate.h"

namespace sawmill::cluster {
namespace {

prometheus::Counter& OrphansDeleted() {
  static prometheus::Counter* c = UnlabelledCounter(
      "sawmill_segment_orphans_deleted_total",
      "Segment objects in the shared store that no catalog row named for longer than "
      "segment_orphan_grace, deleted by the sweep (the inputs of compactions and warm moves, "
      "written by a flush or compaction whose registration failed or whose node died, or left "
      "by a delete that failed)");
  return *c;
}

}  // namespace

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
  if (node->options_.wrap_node_catalog) {
    node->node_catalog_ = node->options_.wrap_node_catalog(std::move(node->node_catalog_));
  }
  pg.application_name = "sawmill wal " + registry.id;
  ASSIGN_OR_RETURN(node->wal_catalog_,
                   catalog::OpenPostgresCatalog(node->options_.catalog_url, pg));
  if (node->options_.wrap_wal_catalog) {
    node->wal_catalog_ = node->options_.wrap_wal_catalog(std::move(node->wal_catalog_));
  }
  // Registered before anything else: from this heartbeat on, no other node takes over this
  // node's WAL objects (ClaimWalObjects checks the heartbeat in the same statement), and the
  // registry keeps heartbeating while the engine replays them.
  ASSIGN_OR_RETURN(node->registry_, NodeRegistry::Start(node->node_catalog_.get(), registry));
  // Live from that heartbeat on: a later `admin settings set` counts this node. One made since
  // the node settled its settings did not, so the node must not run with the old values
  // (docs/cluster.md "Cluster-wide settings").
  if (!registry.settings.empty()) {
    RETURN_IF_ERROR(CheckSettledSettingsUnchanged(
        node->node_catalog_.get(), catalog::RedactPostgresUrl(node->options_.catalog_url),
        registry.settings));
  }
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
  // A node gone for the registry is gone for its Idempotency-Key claims too.
  options->node_timeout_ns = registry_->node_timeout_ns();
  segment_store_ = objstore::Uncached(segment_store);
  options->cold_store = std::move(segment_store);
  // Compaction's outputs and warm copies go to the shared store too, merged only within one
  // node's seq block (engine.h shared_merge_seq_span).
  options->shared_merge_seq_span = options_.wal.seq_block;
  options->memtable_answer_fence = [this] { return FenceMemtableAnswer(); };
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
  // Other nodes merge this node's segments only once its heartbeat confirms them
  // (docs/cluster.md "Compaction and tier moves on cluster nodes").
  registry_->SetConfirmedThrough([engine] { return engine->ConfirmedThrough(); });
  takeover_.Start(options_.registry.heartbeat_interval_ns, [this] { TakeoverRound(); });
  if (options_.segment_sweep_interval_ns > 0) {
    sweep_.Start(options_.segment_sweep_interval_ns, [this] { SweepRound(); });
  }
}

void ClusterNode::Stop() {
  stopping_.store(true);
  // No registry when Open failed at registering (the destructor runs then too).
  if (registry_ == nullptr) return;
  registry_->SetConfirmedThrough(nullptr);  // the engine closes next
  takeover_.Stop();
  sweep_.Stop();
}

Result<size_t> ClusterNode::TakeOverNow() {
  if (writer_ == nullptr || engine_ == nullptr) {
    return Status::FailedPrecondition("the cluster node has not started");
  }
  // Dead and alive as the registry judges them, from the nodes table as it is now.
  ASSIGN_OR_RETURN(std::vector<NodeView> nodes, registry_->List());
  bool self_live = false;
  std::vector<std::string> dead;
  std::vector<catalog::NodeRow> dead_rows;
  for (const NodeView& view : nodes) {
    if (view.self) {
      self_live = view.live;
    } else if (!view.live && view.row.id != id()) {
      dead.push_back(view.row.id);
      dead_rows.push_back(view.row);
    }
  }
  // A node whose own heartbeat is not current may be found dead itself: it takes nothing over.
  if (!self_live) {
    return Status::Unavailable("this node's heartbeat is not current; no takeover");
  }
  if (dead.empty()) return size_t{0};
  // Nor does a node that may still hold rows of objects it lost (docs/cluster.md "Fenced
  // flush"): after a gap in its heartbeats it first learns which were taken over, and its flush
  // drops their rows, before it may take any back from a taker that died in turn; else its
  // memtables would hold those rows twice, the old copies and the replayed ones.
  // An answer's fence may stand on an older confirmation (heartbeat_age_ns INT64_MAX: the
  // querying node decides), a takeover may not: it needs this node to have read, since its
  // last gap, which of its objects were taken over (found by the session's reading: with the
  // read failing once after a gap, a node took its lost objects back beside their old copies).
  const Result<storage::MemtableFence> fenced = FenceMemtableAnswer();
  if (!fenced.ok()) {
    return Status::Unavailable("this node takes nothing over until its own rows are settled: " +
                               fenced.status().ToString());
  }
  if (fenced->set && fenced->heartbeat_age_ns == INT64_MAX) {
    return Status::Unavailable(
        "this node takes nothing over until it has read which of its WAL objects were taken "
        "over since its last gap in heartbeats (the read failed)");
  }
  // After a catalog outage (ours, so probably everyone's) a live node's heartbeat is as stale as
  // a dead one's: each gets node_timeout to beat again before its objects may be taken, or a
  // node that merely lost the catalog for a moment would have its lines flushed twice.
  if (!registry_->CatalogSteadyForNodeTimeout()) return size_t{0};
  const int64_t alive_since = clock_->NowNanos() - registry_->node_timeout_ns();
  size_t taken = 0;
  // While a claim runs, and after one took something until the segment view's next read of the
  // generations, this node's answers do not vouch for what it knows (KnownTakeovers).
  claims_running_.fetch_add(1);
  // The check above read this node's generation; the claim compares it in its own transaction,
  // so a second stall between the two (objects of this node taken over meanwhile by a taker
  // that died in turn, whose rows its memtables still hold) claims nothing: the next round
  // learns what was lost and flushes first (docs/cluster.md "Fenced flush").
  const std::optional<uint64_t> own_generation =
      fenced->set ? std::optional<uint64_t>(fenced->takeover_generation) : std::nullopt;
  Status claimed = engine_->WithoutWalTrim([&]() -> Status {
    ASSIGN_OR_RETURN(taken,
                     writer_->TakeOver(dead, alive_since, options_.takeover_batch, own_generation));
    return Status::OK();
  });
  if (taken > 0 || !claimed.ok()) claims_done_.fetch_add(1);
  claims_running_.fetch_sub(1);
  RETURN_IF_ERROR(claimed);
  if (taken > 0) {
    // Into segments now, so that the objects go and the lines are in the shared store.
    Status s = engine_->Flush();
    if (!s.ok()) spdlog::warn("flush after a takeover failed (retried): {}", s.ToString());
  }
  if (taken < options_.takeover_batch) FenceDeadNodes(dead_rows, alive_since);
  return taken;
}

Result<std::map<std::string, uint64_t>> ClusterNode::ReadTakeovers() const {
  return node_catalog_->ReadWalTakeovers();
}

Status ClusterNode::ConfirmGeneration(uint64_t gaps) {
  // The catalog is read without holding confirm_mu_: an answer never waits for a read that a
  // dead network holds up (connect_timeout), only for the state below.
  using Generations = std::map<std::string, uint64_t>;
  ASSIGN_OR_RETURN(const Generations generations, ReadTakeovers());
  auto it = generations.find(id());
  const uint64_t generation = it == generations.end() ? 0 : it->second;
  bool check = false;
  {
    MutexLock lock(&confirm_mu_);
    check = !confirmed_ || generation != confirmed_generation_;
  }
  // Read after the generation: every object taken over up to it is seen as lost here (one taken
  // over after the read only makes the querying node's check fail).
  if (check) RETURN_IF_ERROR(writer_->CheckOwnership());
  // Two confirmations at once each finished their look-up: the newest of each stands.
  MutexLock lock(&confirm_mu_);
  confirmed_ = true;
  confirmed_generation_ = std::max(confirmed_generation_, generation);
  confirmed_gaps_ = std::max(confirmed_gaps_, gaps);
  return Status::OK();
}

Result<storage::MemtableFence> ClusterNode::FenceMemtableAnswer() {
  storage::MemtableFence fence;
  if (writer_ == nullptr) return fence;  // no WAL objects yet: nothing to lose
  const NodeRegistry::OwnBeats own = registry_->Own();
  bool confirmed = false;
  uint64_t confirmed_gaps = 0;
  {
    MutexLock lock(&confirm_mu_);
    confirmed = confirmed_;
    confirmed_gaps = confirmed_gaps_;
  }
  Status confirm = Status::OK();
  if (!confirmed || own.gaps != confirmed_gaps) {
    // After a gap in its heartbeats the others may have found this node dead and taken its
    // objects over: learn which before answering for rows they may hold too. When the catalog
    // cannot be read, the answer goes under the generation confirmed before, and the querying
    // node's check decides.
    confirm = ConfirmGeneration(own.gaps);
  }
  if (const size_t lost = writer_->LostRangesHeld(); lost > 0) {
    return Status::Unavailable(
        "node " + id() +
        " does not answer for its memtables: it was found dead while it stalled and " +
        (lost == SIZE_MAX ? std::string("a later incarnation of its id took over every WAL "
                                        "object")
                          : std::to_string(lost) + " of its WAL objects were taken over") +
        "; the taker answers for their lines, and this node answers again once its next flush "
        "has dropped them");
  }
  {
    MutexLock lock(&confirm_mu_);
    if (!confirmed_) {
      return Status::Unavailable("node " + id() +
                                 " does not answer for its memtables: it has not yet read "
                                 "whether any of its WAL objects were taken over: " +
                                 confirm.ToString());
    }
    fence.set = true;
    fence.takeover_generation = confirmed_generation_;
    // A gap since the confirmation: the heartbeat's age says nothing of the time in between.
    fence.heartbeat_age_ns = own.gaps == confirmed_gaps_ ? own.age_ns : INT64_MAX;
  }
  if (std::optional<std::map<std::string, uint64_t>> known = KnownTakeovers()) {
    fence.knows_takeovers = true;
    fence.takeovers = std::move(*known);
  }
  return fence;
}

void ClusterNode::NoteViewRead(bool changes) {
  // The claims this read covers: those done before it starts (a claim still under way, or done
  // after, makes KnownTakeovers unsure until the next read).
  const uint64_t done = claims_done_.load();
  auto generations = ReadTakeovers();
  MutexLock lock(&known_mu_);
  if (!generations.ok()) {
    // A view that does not change is still covered by the read before (a catalog cut between
    // the two reads of a quiet refresh costs nothing); one that changes is not.
    if (changes) known_valid_ = false;
    return;
  }
  known_valid_ = true;
  known_ = std::move(*generations);
  known_claims_done_ = done;
}

std::optional<std::map<std::string, uint64_t>> ClusterNode::KnownTakeovers() const {
  if (claims_running_.load() > 0) return std::nullopt;
  const uint64_t done = claims_done_.load();
  MutexLock lock(&known_mu_);
  if (!known_valid_ || known_claims_done_ != done) return std::nullopt;
  return known_;
}

int64_t ClusterNode::SweptObjectsKeptNs() const {
  // A registration the record refuses comes from an upload at least a grace old whose node
  // stalled that long; a day (or four graces) past the sweep is far beyond any such stall, and
  // bounds the table to the orphans of that time (mostly compaction inputs, one row each).
  return std::max<int64_t>(24 * 3600 * kNanosPerSecond, 4 * options_.segment_orphan_grace_ns);
}

Result<size_t> ClusterNode::SweepSegmentsNow() {
  if (segment_store_ == nullptr) return Status::FailedPrecondition("no shared segment store");
  // The store first, then the catalog: an object registered in between is named.
  ASSIGN_OR_RETURN(std::vector<std::string> listed, segment_store_->List(""));
  ASSIGN_OR_RETURN(std::vector<catalog::SegmentRow> rows, node_catalog_->List());
  std::set<std::string> named;
  for (const catalog::SegmentRow& row : rows) named.insert(row.path);
  const int64_t now = clock_->MonotonicNanos();
  std::map<std::string, int64_t> seen;
  std::vector<std::string> due;
  for (const std::string& name : listed) {
    if (named.count(name) > 0) continue;
    auto it = first_seen_.find(name);
    const int64_t first = it != first_seen_.end() ? it->second : now;
    if (now - first >= options_.segment_orphan_grace_ns) {
      due.push_back(name);
    } else {
      seen[name] = first;
    }
  }
  first_seen_ = std::move(seen);  // gone or named since: forgotten
  size_t deleted = 0;
  if (!due.empty()) {
    // Asked once more just before deleting, in one transaction that also records the objects
    // no row names as swept, so that no registration names them afterwards (an upload whose
    // node stalled past the grace is refused, not registered over a deleted object): never an
    // object the catalog names, however late a registration comes. Under the sweep's lease,
    // checked before and in that transaction (storage/job_gate.h): a node that lost it while
    // it listed deletes nothing.
    std::vector<std::string> swept;
    RETURN_IF_ERROR(storage::CommitUnderJobLease([&](const catalog::LeaseFence* fence) {
      auto recorded = node_catalog_->SweepSegmentObjects(
          catalog::kColdStore, due, clock_->NowNanos(), SweptObjectsKeptNs(), fence);
      if (!recorded.ok()) return recorded.status();
      swept = std::move(recorded).value();
      return Status::OK();
    }));
    due = std::move(swept);
  }
  for (const std::string& name : due) {
    Status s = segment_store_->Delete(name);
    if (s.ok() || s.IsNotFound()) {
      ++deleted;
      OrphansDeleted().Increment();
      spdlog::warn(
          "segment sweep: deleted {}: no catalog row has named it for at least {} s (an input "
          "of a compaction or warm move, a flush or compaction never registered, or a delete "
          "that failed)",
          segment_store_->Location(name), options_.segment_orphan_grace_ns / kNanosPerSecond);
    } else {
      first_seen_[name] = now - options_.segment_orphan_grace_ns;  // due again next round
      spdlog::warn("segment sweep: cannot delete {} (retried next round): {}",
                   segment_store_->Location(name), s.ToString());
    }
  }
  // Unfinished multipart uploads of segments (an S3 store lists only those older than its
  // upload grace, cold_store_upload_grace): nothing can name them.
  auto unfinished = segment_store_->ListIncomplete("");
  if (unfinished.ok()) {
    for (const std::string& name : *unfinished) {
      Status s = segment_store_->DeleteIncomplete(name);
      if (s.ok() || s.IsNotFound()) {
        spdlog::warn("segment sweep: aborted the unfinished upload {}",
                     segment_store_->Location(name));
      }
    }
  }
  return deleted;
}

void ClusterNode::SweepRound() {
  // One node sweeps at a time: the one holding the job's lease.
  if (!storage::MayRunJob("segment_sweep")) return;
  storage::JobRound round("segment_sweep");  // a lost lease abandons it before its deletions
  auto deleted = SweepSegmentsNow();
  if (!deleted.ok()) {
    spdlog::warn("segment sweep failed (retried next round): {}", deleted.status().ToString());
  }
}

void ClusterNode::TakeoverRound() {
  // The node's takeover generation, confirmed every round (one small read), so that its
  // answers carry a current one; and a node that was fenced drops the rows it lost with its
  // next flush, and answers no other node's query until then: that flush now, not at
  // flush_interval.
  if (writer_ != nullptr && engine_ != nullptr) {
    if (Status s = ConfirmGeneration(registry_->Own().gaps); !s.ok()) {
      spdlog::debug("node {}: cannot confirm its takeover generation: {}", id(), s.ToString());
    }
    const size_t lost = writer_->LostRangesHeld();  // SIZE_MAX: superseded, writes nothing
    if (lost > 0 && lost != SIZE_MAX) {
      Status s = engine_->Flush();
      if (!s.ok()) {
        spdlog::warn("flush after this node was fenced failed (retried): {}", s.ToString());
      }
    }
  }
  if (engine_ != nullptr) {
    // A rolling upgrade ends here: once every live node reads this build's segment format, the
    // store's version is raised and every node writes it (docs/cluster.md "Format version in a
    // rolling upgrade"). No catalog call once this node writes its newest.
    if (auto raised = engine_->RaiseWriteFormat(); !raised.ok()) {
      spdlog::debug("node {}: cannot raise the store's format version (retried): {}", id(),
                    raised.status().ToString());
    }
  }
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
  // A node without a heartbeat written for longer than node_timeout may have been taken over or
  // fenced out meanwhile (docs/cluster.md "Gone nodes"): it reads which of its objects it still
  // owns and whether a later incarnation of its id is registered, so that a fenced process stops
  // taking writes now rather than at its next flush. Nothing learnt when the catalog is away.
  if (writer_ != nullptr && registry_->Own().age_ns > registry_->node_timeout_ns()) {
    writer_->CheckOwnership().IgnoreError();
  }
}

void ClusterNode::FenceDeadNodes(const std::vector<catalog::NodeRow>& dead, int64_t alive_since) {
  // A dead node whose WAL objects are all taken over or flushed may still hold, in the memtables
  // of its paused process, the lines of segments it registered and never confirmed; no node
  // merges those while the process could wake and answer from them. Fenced (the catalog checks
  // that it is still dead, owns no unflushed object and holds such segments back), it cannot:
  // its id has a later incarnation. Others merge them query_timeout + node_timeout later
  // (docs/cluster.md "Compaction and tier moves on cluster nodes").
  for (const catalog::NodeRow& row : dead) {
    auto fenced =
        node_catalog_->FenceDeadNode(row.id, row.started_ns, alive_since, clock_->NowNanos());
    if (!fenced.ok()) {
      spdlog::warn("cannot fence dead node {} (retried next round): {}", row.id,
                   fenced.status().ToString());
    } else if (*fenced) {
      spdlog::warn(
          "fenced dead node {} (no heartbeat since {} ns, none of its WAL objects left): the "
          "segments it registered and never confirmed are merged after query_timeout + "
          "node_timeout; its process, if it wakes, answers and writes nothing until restarted",
          row.id, row.heartbeat_ns);
    }
  }
}

}  // namespace sawmill::cluster
