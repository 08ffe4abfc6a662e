// A cluster node's view of every node's segments (engine.h ApplySegmentChanges; docs/cluster.md
// "The segment view"): the catalog's segment changes applied to the registry.
#include <spdlog/spdlog.h>

#include <set>

#include "catalog/catalog.h"
#include "storage/storage_engine.h"

namespace sawmill::storage {

Status StorageEngine::ApplySegmentChanges(const catalog::SegmentChanges& changes) {
  if (options_.node_id.empty()) {
    return Status::FailedPrecondition(
        "this engine is no cluster node: it keeps no view of "
        "other nodes' segments");
  }
  MutexLock l(&mu_);
  std::set<uint64_t> named;
  // The output of this node's compaction or tier move is added, and its inputs removed, by the
  // swap itself in one step (SegmentRegistry::AddPendingOutput). An input this node is compacting
  // that another node removed (a conflicting swap, retention) goes now: left, it would show
  // twice next to that node's output until this node's swap fails.
  std::set<uint64_t> changed(changes.removed.begin(), changes.removed.end());
  for (const catalog::SegmentView& view : changes.segments) changed.insert(view.row.id);
  const std::set<uint64_t> own = segments_.OwnSwappedInputs(changed);
  for (const catalog::SegmentView& view : changes.segments) {
    const catalog::SegmentRow& row = view.row;
    named.insert(row.id);
    std::shared_ptr<SegmentEntry> existing = segments_.Find(row.id);
    // A segment this node is retiring or compacting is its own business until it is done.
    if (existing != nullptr && existing->compacting) continue;
    if (segments_.IsPendingOutput(row.id)) continue;
    // Only active and corrupt segments are readable (as at start).
    if (row.state == catalog::kStateMissing) {
      if (existing != nullptr) segments_.Forget(row.id);
      continue;
    }
    if (existing != nullptr) {
      existing->node = view.node;
      existing->registered = view.registered;
      if (existing->row() == row) continue;
    } else if (view.node == options_.node_id) {
      // This node's own flush: the flusher adds it as it drops the memtable (until then the
      // memtable holds its lines).
      continue;
    }
    std::shared_ptr<objstore::ObjectStore> store = segments_.StoreNamed(row.store);
    std::string path = store != nullptr ? store->Location(row.path) : row.path;
    auto entry =
        std::make_shared<SegmentEntry>(env_, std::move(store), std::move(path), row, reporter_);
    entry->node = view.node;
    entry->registered = view.registered;
    if (existing != nullptr && existing->row().tenant != row.tenant) segments_.Forget(row.id);
    segments_.Add(std::move(entry));
  }
  for (uint64_t id : changes.removed) {
    if (own.count(id) == 0) segments_.Forget(id);
    // A flush of this node whose registration's outcome is unknown: not published once known.
    flusher_->NoteRemoved(id);
  }
  if (changes.full) {
    // Every segment registered by then is named: the others were removed meanwhile. A flush
    // of this node registered after the answer was read is kept.
    for (const std::shared_ptr<SegmentEntry>& entry : segments_.All()) {
      if (named.count(entry->row().id) > 0 || own.count(entry->row().id) > 0) continue;
      if (entry->registered > changes.last) continue;
      segments_.Forget(entry->row().id);
    }
  }
  segments_.UpdateGauges();
  return Status::OK();
}

uint64_t StorageEngine::FullSegmentViewWanted() {
  MutexLock l(&mu_);
  return segments_.full_view_wanted();
}

uint64_t StorageEngine::ConfirmedThrough() {
  MutexLock l(&mu_);
  return flusher_->ConfirmedThrough();
}

Status StorageEngine::InitSegmentView() {
  // A cluster node (docs/cluster.md "The segment view"): every segment with the node that
  // flushed it, and the cut of this node's own flushes: all registered so far, none held.
  ASSIGN_OR_RETURN(catalog::SegmentChanges all, catalog_->ListSegmentChanges(0, 0));
  RETURN_IF_ERROR(ApplySegmentChanges(all));
  MutexLock l(&mu_);
  flusher_->RegisteredThroughAtLeast(all.last);
  return Status::OK();
}

}  // namespace sawmill::storage
