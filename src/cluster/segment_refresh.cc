#include "cluster/segment_refresh.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "common/metrics.h"

namespace sawmill::cluster {
namespace {

struct RefreshMetrics {
  prometheus::Counter* refreshes;
  prometheus::Counter* failures;
  prometheus::Counter* full;
  prometheus::Counter* behind;
  prometheus::Gauge* last;
};

RefreshMetrics& Metrics() {
  static RefreshMetrics m = [] {
    RefreshMetrics r{};
    r.refreshes = UnlabelledCounter("sawmill_segment_refreshes_total",
                                    "Refreshes of this node's view of every node's segments from "
                                    "the catalog (periodic and on demand)");
    r.failures = UnlabelledCounter("sawmill_segment_refresh_failures_total",
                                   "Of those, the ones that could not read the catalog");
    r.full = UnlabelledCounter("sawmill_segment_refresh_full_total",
                               "Refreshes that read the whole segment table (the first, or a "
                               "view older than the changes the catalog keeps)");
    r.behind = UnlabelledCounter(
        "sawmill_segment_view_behind_total",
        "Queries whose segment view could not be brought up to what another node's answer "
        "needed in time (each answer partial, naming the node)");
    r.last = UnlabelledGauge("sawmill_segment_view_change",
                             "The newest catalog change this node's segment view has applied");
    return r;
  }();
  return m;
}

}  // namespace

SegmentRefresh::SegmentRefresh(catalog::Catalog* catalog, storage::Engine* engine,
                               SegmentRefreshOptions options, Clock* clock)
    : catalog_(catalog),
      engine_(engine),
      options_(std::move(options)),
      clock_(clock != nullptr ? clock : Clock::Real()),
      failures_("refresh of the segment view from the catalog", clock_) {
  Metrics();  // registered at start, so that /metrics lists them
}

void SegmentRefresh::Start() {
  if (options_.apply) {
    Status s = RefreshNow();
    if (!s.ok()) spdlog::warn("segment view: the first refresh failed (retried): {}", s.ToString());
  }
  const int64_t interval = options_.apply && options_.interval_ns > 0
                               ? options_.interval_ns
                               : std::max<int64_t>(options_.prune_every_ns, kNanosPerSecond);
  worker_.Start(interval, [this] { Round(); });
}

void SegmentRefresh::Stop() { worker_.Stop(); }

uint64_t SegmentRefresh::last() const {
  MutexLock l(&mu_);
  return last_;
}

void SegmentRefresh::Round() {
  if (options_.apply) RefreshNow().IgnoreError();  // counted and logged by RefreshLocked
  MutexLock l(&refresh_mu_);
  const int64_t now = clock_->MonotonicNanos();
  if (last_prune_ns_ != 0 && now - last_prune_ns_ < options_.prune_every_ns) return;
  last_prune_ns_ = now;
  auto gone = catalog_->PruneSegmentChanges(clock_->NowNanos() - options_.keep_changes_ns);
  if (!gone.ok()) {
    spdlog::warn("segment changes: pruning the old ones failed (retried in {} s): {}",
                 options_.prune_every_ns / kNanosPerSecond, gone.status().ToString());
  } else if (*gone > 0) {
    spdlog::debug("segment changes: {} older than {} s pruned", *gone,
                  options_.keep_changes_ns / kNanosPerSecond);
  }
}

void SegmentRefresh::Merge(catalog::SegmentChanges next, catalog::SegmentChanges* into) {
  std::map<uint64_t, catalog::SegmentView> by_id;
  for (catalog::SegmentView& v : into->segments) by_id[v.row.id] = std::move(v);
  std::set<uint64_t> removed(into->removed.begin(), into->removed.end());
  for (uint64_t id : next.removed) {
    by_id.erase(id);
    if (!into->full) removed.insert(id);  // a full view simply no longer names it
  }
  for (catalog::SegmentView& v : next.segments) {
    removed.erase(v.row.id);
    by_id[v.row.id] = std::move(v);
  }
  into->segments.clear();
  for (auto& [id, v] : by_id) into->segments.push_back(std::move(v));
  into->removed.assign(removed.begin(), removed.end());
  into->last = next.last;
  into->more = next.more;
}

Status SegmentRefresh::RefreshNow() {
  MutexLock l(&refresh_mu_);
  return RefreshLocked();
}

Status SegmentRefresh::RefreshLocked() {
  Metrics().refreshes->Increment();
  uint64_t from = last();
  // A swap of this node's whose outcome stayed unknown may have committed while this view
  // passed its changes (left to the swap, then never applied): only the whole table mends that
  // (engine.h FullSegmentViewWanted).
  const uint64_t full_wanted = engine_->FullSegmentViewWanted();
  if (full_wanted != full_done_) {
    spdlog::info(
        "segment view: a compaction or warm move of this node may have committed without its "
        "answer; reading every segment from the catalog");
    from = 0;
  }
  Status status;
  // Every batch up to the newest change is read before any is applied: a limit can cut one
  // transaction's changes in two (a compaction's swap retires its inputs and adds its output),
  // and a view holding half of it would miss or double their lines.
  catalog::SegmentChanges all;
  bool any = false;
  while (true) {
    auto changes = catalog_->ListSegmentChanges(from, options_.batch);
    if (!changes.ok()) {
      status = changes.status();
      break;
    }
    if (changes->full) Metrics().full->Increment();
    if (!any || changes->full) {
      all = std::move(changes).value();
    } else {
      Merge(std::move(changes).value(), &all);
    }
    any = true;
    from = all.last;
    if (!all.more) break;
  }
  if (status.ok() && any) {
    if (options_.before_apply) {
      // Whether applying it changes the view: a newer change, or a listing that differs. (A view
      // of a catalog without any change yet reads the whole table every time, the same table.)
      const bool changes = all.last != last() || full_wanted != full_done_ ||
                           !all.removed.empty() || (!all.full && !all.segments.empty());
      options_.before_apply(changes);
    }
    status = engine_->ApplySegmentChanges(all);
    if (status.ok()) {
      full_done_ = full_wanted;
      {
        MutexLock l(&mu_);
        last_ = all.last;
      }
      Metrics().last->Set(static_cast<double>(all.last));
    }
  }
  if (!status.ok()) {
    Metrics().failures->Increment();
    failures_.Failure(status);
    return status;
  }
  failures_.Success();
  return Status::OK();
}

uint64_t SegmentRefresh::CatchUp(uint64_t at_least, int64_t timeout_ns, std::string* error) {
  const int64_t deadline = clock_->MonotonicNanos() + std::max<int64_t>(timeout_ns, 0);
  std::string why = "the catalog had not reached it";
  while (true) {
    if (last() >= at_least) return last();
    {
      MutexLock l(&refresh_mu_);
      // A refresh that ran while this one waited for the lock may have been enough.
      if (last() >= at_least) return last();
      Status s = RefreshLocked();
      if (!s.ok()) why = s.ToString();
    }
    if (last() >= at_least) return last();
    if (clock_->MonotonicNanos() + 20 * kNanosPerMilli > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Metrics().behind->Increment();
  *error = "this node's view of the catalog's segments is at change " + std::to_string(last()) +
           ", the answer needs " + std::to_string(at_least) + " (" + why + ")";
  return last();
}

}  // namespace sawmill::cluster
