#include "storage/tier_mover.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "objstore/cold_cache.h"
#include "segment/segment_merge.h"
#include "storage/job_gate.h"
#include "storage/segment_files.h"
#include "storage/storage_metrics.h"

namespace sawmill::storage {

int TierRank(std::string_view tier) {
  if (tier == catalog::kTierHot) return 0;
  if (tier == catalog::kTierWarm) return 1;
  if (tier == catalog::kTierCold) return 2;
  return -1;
}

TierMover::TierMover(const EngineOptions& options, Env* env, Clock* clock,
                     catalog::Catalog* catalog, Mutex* mu, SegmentRegistry* segments,
                     std::shared_ptr<CorruptionReporter> reporter, Engine* engine,
                     const std::atomic<bool>* stop)
    : options_(options),
      env_(env),
      clock_(clock),
      catalog_(catalog),
      mu_(mu),
      segments_(segments),
      reporter_(std::move(reporter)),
      engine_(engine),
      stop_(stop),
      warm_failures_("tier: moving segments to warm", clock),
      cold_failures_("tier: moving segments to cold", clock) {}

Result<TierMoveReport> TierMover::MoveOlderThan(int64_t cutoff_ns, std::string_view to) {
  return MoveWhere(
      to, 1,
      [cutoff_ns](const catalog::SegmentRow& row, std::string_view) {
        return row.max_ts < cutoff_ns;
      },
      nullptr);
}

Result<TierMoveReport> TierMover::MoveOldestFirst(std::string_view to,
                                                  const std::function<bool()>& enough) {
  const int target = TierRank(to);
  return MoveWhere(
      to, target < 1 ? 1 : target,
      [](const catalog::SegmentRow&, std::string_view) { return true; }, enough);
}

void TierMover::SetPolicy(Engine::TierPolicy policy) {
  MutexLock l(&policy_mu_);
  policy_ = std::move(policy);
}

Result<TierMoveReport> TierMover::MoveWhere(
    std::string_view to, int first_step,
    const std::function<bool(const catalog::SegmentRow&, std::string_view step_to)>& due_fn,
    const std::function<bool()>& enough) {
  const int target = TierRank(to);
  if (target < 1) {
    return Status::InvalidArgument("tier move: the target tier must be warm or cold, not '" +
                                   std::string(to) + "'");
  }
  TierMoveReport report;
  report.to = std::string(to);
  // Warm first, then cold: a hot segment going cold is re-encoded on the way.
  // A cluster node re-encodes only segments their nodes have confirmed (segment_files.h
  // OriginConfirmed), read before the candidates are: a number read earlier is only lower.
  std::map<std::string, uint64_t> confirmed;
  if (options_.shared_store) {
    // A node gone (left or fenced) counts once query_timeout and node_timeout have passed:
    // no query that asked it can still run (a live list lags a heartbeat; clocks differ).
    auto read = ConfirmedThroughByNode(catalog_, clock_->NowNanos(),
                                       options_.shared_settle_ns + options_.node_timeout_ns);
    if (!read.ok()) {
      return read.status().WithContext(
          "tier move: reading which registrations the nodes have confirmed");
    }
    confirmed = std::move(read).value();
  }
  for (int step = first_step; step <= target && !stopping(); ++step) {
    const std::string_view step_to = step == 1 ? catalog::kTierWarm : catalog::kTierCold;
    std::vector<std::shared_ptr<SegmentEntry>> due;
    {
      MutexLock l(&*mu_);
      for (auto& entry : segments_->All()) {
        const catalog::SegmentRow& row = entry->row();
        if (row.state != catalog::kStateActive) continue;
        // A cluster node re-encodes only segments it has known for query_timeout: no running
        // query can then hold their lines in a peer's memtable answer while it reads the warm
        // copy (docs/cluster.md "Compaction and tier moves on cluster nodes").
        if (options_.shared_store &&
            (SegmentEntry::SteadyClockNanos() - entry->known_since_ns < options_.shared_settle_ns ||
             !OriginConfirmed(confirmed, entry->node, entry->registered))) {
          continue;
        }
        if (TierRank(row.tier) == step - 1 && due_fn(row, step_to)) due.push_back(entry);
      }
    }
    // Oldest first (by the newest line; then by id, so the order is stable).
    std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) {
      return std::pair(a->row().max_ts, a->row().id) < std::pair(b->row().max_ts, b->row().id);
    });
    // In a round of the job, a partition's segments are moved by the node that claims its lease,
    // a few partitions at a time (TakeClaimed), so that the nodes of a cluster move different
    // ones at once; elsewhere (admin commands, disk pressure) all of "due" in one batch.
    while (!due.empty()) {
      std::vector<std::string> claimed;
      std::vector<std::shared_ptr<SegmentEntry>> batch = TakeClaimed(&due, &claimed);
      if (batch.empty()) break;  // the rest is other nodes' now
      MoveBatch(step, &batch, enough, &report);
      ReleasePartitionJobs(claimed);
      if (!report.error.empty() || (enough && enough()) || stopping()) return report;
    }
  }
  return report;
}

void TierMover::MoveBatch(int step, std::vector<std::shared_ptr<SegmentEntry>>* batch,
                          const std::function<bool()>& enough, TierMoveReport* report) {
  const std::string_view step_to = step == 1 ? catalog::kTierWarm : catalog::kTierCold;
  for (std::shared_ptr<SegmentEntry>& entry : *batch) {
    if (stopping() || (enough && enough())) return;
    const uint64_t before = entry->row().bytes;
    uint64_t written = 0;
    bool skipped = false;
    Status s = MoveOne(entry, step_to, &written, &skipped);
    // Let go of the source now: its object is deleted when the last holder does, and "enough"
    // must see the space it leaves.
    entry.reset();
    if (skipped) continue;  // taken by a compaction or another move meanwhile, or stopping
    if (!s.ok()) {
      ++report->failed;
      report->error = s.ToString();
      return;
    }
    ++(step == 1 ? report->to_warm : report->to_cold);
    report->bytes_read += before;
    report->bytes_written += written;
  }
}

std::vector<std::shared_ptr<SegmentEntry>> TierMover::TakeClaimed(
    std::vector<std::shared_ptr<SegmentEntry>>* due, std::vector<std::string>* claimed) {
  std::vector<std::shared_ptr<SegmentEntry>> batch;
  if (!ClaimingPartitionJobs()) {
    batch.swap(*due);
    return batch;
  }
  // The partitions' leases in the order of their oldest due segment.
  auto lease_of = [](const std::shared_ptr<SegmentEntry>& e) {
    return PartitionJobLease("tiers", e->row().tenant, e->row().partition);
  };
  std::vector<std::string> wanted;
  for (const auto& entry : *due) {
    std::string lease = lease_of(entry);
    if (std::find(wanted.begin(), wanted.end(), lease) == wanted.end()) wanted.push_back(lease);
    if (wanted.size() == catalog::kMaxLeasesPerCall) break;
  }
  *claimed = ClaimPartitionJobs(wanted, kPartitionsPerClaim);
  // Passed over (another node's, or being claimed by one): every name not claimed when fewer
  // than asked came back, else those before the last one claimed (the rest were not tried).
  std::set<std::string> got(claimed->begin(), claimed->end());
  std::set<std::string> busy;
  for (const std::string& name : wanted) {
    if (claimed->size() == kPartitionsPerClaim && name == claimed->back()) break;
    if (got.count(name) == 0) busy.insert(name);
  }
  std::vector<std::shared_ptr<SegmentEntry>> rest;
  for (auto& entry : *due) {
    const std::string lease = lease_of(entry);
    if (got.count(lease) > 0) {
      batch.push_back(std::move(entry));
    } else if (busy.count(lease) == 0) {
      rest.push_back(std::move(entry));
    }
  }
  due->swap(rest);
  return batch;
}

Status TierMover::RunDue() {
  const int64_t now = clock_->NowNanos();
  Engine::TierPolicy policy;
  {
    MutexLock l(&policy_mu_);
    policy = policy_;
  }
  // The ages of each tenant, asked once per round (the policy may read the catalog).
  std::map<std::string, std::pair<int64_t, int64_t>, std::less<>> ages;
  auto ages_of = [&](const std::string& tenant) -> std::pair<int64_t, int64_t> {
    auto it = ages.find(tenant);
    if (it != ages.end()) return it->second;
    int64_t warm = -1, cold = -1;
    if (policy) policy(tenant, &warm, &cold);
    if (warm < 0) warm = options_.warm_after_ns;
    if (cold < 0) cold = options_.cold_after_ns;
    return ages[tenant] = {warm, cold};
  };
  Status first;
  auto keep = [&](const Result<TierMoveReport>& r) {
    const Status s =
        r.ok() ? (r->error.empty() ? Status::OK() : Status::IOError(r->error)) : r.status();
    if (!s.ok() && first.ok()) first = s;
  };
  // Hot segments past warm_after go warm.
  keep(MoveWhere(
      catalog::kTierWarm, 1,
      [&](const catalog::SegmentRow& row, std::string_view) {
        const int64_t warm = ages_of(row.tenant).first;
        return warm > 0 && row.max_ts < now - warm;
      },
      nullptr));
  // Segments past cold_after go cold (a hot one through warm). A cluster node has no cold
  // tier: its segments are all in the shared store already.
  if (options_.shared_store) return first;
  keep(MoveWhere(
      catalog::kTierCold, 1,
      [&](const catalog::SegmentRow& row, std::string_view) {
        const int64_t cold = ages_of(row.tenant).second;
        return cold > 0 && row.max_ts < now - cold;
      },
      nullptr));
  return first;
}

Status TierMover::MoveOne(const std::shared_ptr<SegmentEntry>& entry, std::string_view to,
                          uint64_t* written, bool* skipped) {
  MutexLock ml(&move_mu_);
  {
    MutexLock l(&*mu_);
    // Still registered as it was, and nobody else working on it.
    if (entry->compacting || entry->obsolete() || segments_->Find(entry->row().id) != entry) {
      *skipped = true;
      return Status::OK();
    }
    entry->compacting = true;
  }
  auto release = [&] {
    MutexLock l(&*mu_);
    entry->compacting = false;
  };
  const catalog::SegmentRow source = entry->row();
  const std::string what = "move of segment " + std::to_string(source.id) + " (" + source.tenant +
                           ", " + source.tier + ") to " + std::string(to);
  auto& m = StorageMetrics::Get();
  RepeatedFailureLog& failures = to == catalog::kTierWarm ? warm_failures_ : cold_failures_;
  auto fail = [&](const Status& s) {
    release();
    if (stopping()) {
      // Abandoned, not failed: the segment stays where it was and moves at the next start.
      spdlog::info("tier: {} abandoned: stopping ({}; moved again at the next start)", what,
                   s.ToString());
      *skipped = true;
      return Status::OK();
    }
    // Every failure counted; logged when moves start failing, then at most once a minute (a
    // store that is down is tried again at every round and every disk check).
    m.tier_transition_failures->Add({{"tier", std::string(to)}}).Increment();
    failures.Failure(s.WithContext(what + " (the segment stays " + source.tier + ")"));
    return s.WithContext(what);
  };

  // The source's seqs, which the target must hold exactly (as a set: a few bytes per run).
  // Going warm, its rows are re-encoded block by block (segment::MergeSegments), never all held.
  auto reader = entry->Open();
  if (!reader.ok()) return fail(reader.status());
  Roaring64Map seqs;
  uint64_t rows = 0;
  Status read = CollectSeqs(**reader, &seqs, &rows);
  if (!read.ok()) {
    if (read.IsDataLoss()) engine_->ReportCorruption(source.id, read);
    return fail(read);
  }

  std::shared_ptr<SegmentEntry> target;
  Status s = to == catalog::kTierWarm ? ToWarm(entry, *reader, seqs, rows, &target)
                                      : ToCold(entry, seqs, rows, &target);
  if (!s.ok()) {
    if (options_.shared_store && s.IsNotFound()) {
      // Another node retired the source first (its compaction, say): not a failure of this
      // move. The segment view removes the source when it applies that node's swap. Only when
      // its row is really gone: a source object missing while the catalog still names it is a
      // failure, counted and logged, not skipped forever.
      auto row = catalog_->Get(source.id);
      if (row.ok() && !row->has_value()) {
        release();
        *skipped = true;
        return Status::OK();
      }
    }
    return fail(s);
  }
  *written = target->row().bytes;
  {
    MutexLock l(&*mu_);
    // One step for snapshots: the source out (deleted by its last holder), the target in.
    // On a cluster node other nodes may still read the source: its object is left to the
    // orphan sweep (docs/cluster.md).
    segments_->Replace({entry}, target, /*delete_inputs=*/!options_.shared_store);
    segments_->UpdateGauges();
  }
  failures.Success();
  m.tier_transitions->Add({{"tier", std::string(to)}}).Increment();
  m.tier_transition_bytes->Add({{"tier", std::string(to)}})
      .Increment(static_cast<double>(*written));
  spdlog::info("tier: segment {} of {} ({} bytes, {}) -> segment {} ({} bytes, {})", source.id,
               source.tenant, source.bytes, source.tier, target->row().id, target->row().bytes,
               target->row().tier);
  return Status::OK();
}

Status TierMover::ToWarm(const std::shared_ptr<SegmentEntry>& entry,
                         const std::shared_ptr<segment::SegmentReader>& reader,
                         const Roaring64Map& seqs, uint64_t rows,
                         std::shared_ptr<SegmentEntry>* out) {
  const catalog::SegmentRow& source = entry->row();
  ASSIGN_OR_RETURN(const uint64_t id, catalog_->AllocateSegmentId());
  // A cluster node's warm copy goes where its flushes go: the shared store, written and read
  // back past any cache (docs/cluster.md "Compaction and tier moves on cluster nodes").
  const bool shared = options_.shared_store;
  const std::shared_ptr<objstore::ObjectStore> out_store =
      shared ? objstore::Uncached(cold()) : local();
  const std::string rel =
      shared ? SharedSegmentName(source.tenant, id)
             : SegmentRelPath(std::string(catalog::kTierWarm), source.tenant, source.partition, id);
  in_flight_ = {std::string(shared ? catalog::kColdStore : catalog::kLocalStore), rel};
  segment::SegmentInfo in, written;
  in.id = id;
  in.tenant = source.tenant;
  in.partition = source.partition;
  segment::MergeStats merge;
  // A stop abandons the move at the next block (docs/storage.md "Stopping"): the output is
  // removed below, the source stays hot.
  const auto stop = [this] { return stopping(); };
  Status s = segment::MergeSegments(out_store.get(), rel, in, {reader},
                                    Writer(options_.warm_segment_options), &written, &merge, stop);
  if (!s.ok() && s.IsDataLoss() && merge.failed_input >= 0) {
    engine_->ReportCorruption(source.id, s);
  }
  if (s.ok()) s = VerifyWritten(out_store, rel, written, seqs, rows, ReadBack::kEncoded, stop);
  if (s.ok() && stopping()) s = Status::Unavailable("stopping before the swap");
  catalog::SegmentRow row;
  bool keep_output = false;
  if (s.ok()) {
    row = RowFromInfo(written, rel, std::string(catalog::kTierWarm), clock_->NowNanos());
    row.created_ns = source.created_ns;  // when the records were first stored
    if (shared) row.store = std::string(catalog::kColdStore);
    // The one transaction: the warm segment registered, the hot one retired. Not after this
    // node lost the partition's lease: checked before, and in the transaction itself
    // (storage/job_gate.h).
    const std::string lease = PartitionJobLease("tiers", source.tenant, source.partition);
    s = CommitUnderJobLease(lease, [&](const catalog::LeaseFence* fence) {
      if (!shared) return catalog_->Replace({source.id}, {row}, fence);
      {
        MutexLock l(&*mu_);
        segments_->AddPendingOutput(id, {source.id});  // the view leaves it to MoveOne
      }
      return SwapShared(catalog_, {source.id}, row, fence, &keep_output);
    });
  }
  if (!s.ok()) {
    // Never an object a row may name (a swap whose answer was lost may have committed).
    if (!keep_output) out_store->Delete(rel).IgnoreError();
    if (shared) {
      MutexLock l(&*mu_);
      segments_->DropPendingOutput(id, /*may_have_committed=*/keep_output);
    }
    in_flight_ = {};
    return s;
  }
  in_flight_ = {};
  const std::shared_ptr<objstore::ObjectStore>& at = shared ? cold() : local();
  *out = std::make_shared<SegmentEntry>(env_, at, at->Location(rel), std::move(row), reporter_);
  return Status::OK();
}

Status TierMover::ToCold(const std::shared_ptr<SegmentEntry>& entry, const Roaring64Map& seqs,
                         uint64_t rows, std::shared_ptr<SegmentEntry>* out) {
  const catalog::SegmentRow& source = entry->row();
  if (source.store != catalog::kLocalStore || source.path.empty() || source.path[0] == '/') {
    return Status::FailedPrecondition("segment " + std::to_string(source.id) +
                                      " is not an object of the data directory's store");
  }
  const std::string name = SharedSegmentName(source.tenant, source.id);
  in_flight_ = {std::string(catalog::kColdStore), name};
  // The same bytes: the warm encoding is already the one for size. A stop abandons the upload
  // before its next piece (docs/storage.md "Stopping"): nothing is committed under the name, the
  // local copy stays registered, and the next start moves it again.
  Status s = objstore::CopyObject(local().get(), source.path, cold().get(), name, [this] {
               return stopping();
             }).status();
  // Read back from the store itself, past the cold cache: the check is of what was uploaded,
  // and a transition must not fill the cache with segments no query asked for. A copy: not
  // held to the invariants of the build that encoded it (segment_files.h ReadBack).
  if (s.ok()) {
    s = VerifyWritten(objstore::Uncached(cold()), name, entry->info(), seqs, rows,
                      ReadBack::kCopied, [this] { return stopping(); });
  }
  if (s.ok() && stopping()) s = Status::Unavailable("stopping before the catalog update");
  catalog::SegmentRow row = source;
  if (s.ok()) {
    row.tier = std::string(catalog::kTierCold);
    row.store = std::string(catalog::kColdStore);
    row.path = name;
    row.state = std::string(catalog::kStateActive);
    // The one transaction: the row now names the cold copy; the local one is retired. Not
    // after this node lost the partition's lease mid-round: checked before, and in the
    // transaction itself (storage/job_gate.h).
    const std::string lease = PartitionJobLease("tiers", source.tenant, source.partition);
    s = CommitUnderJobLease(
        lease, [&](const catalog::LeaseFence* fence) { return catalog_->Update({row}, fence); });
    if (!s.ok()) {
      // Never an object a row names: the name is the source's id, so a move of the same
      // segment that committed elsewhere (the node that took the lease) names this very
      // object, and an update whose answer was lost may have committed. Deleted only when the
      // row is read back and does not name it (else the tier sweep decides, from the catalog).
      auto now = catalog_->Get(source.id);
      const bool named =
          !now.ok() || (now->has_value() && (*now)->store == row.store && (*now)->path == row.path);
      if (!named) cold()->Delete(name).IgnoreError();
      in_flight_ = {};
      return s;
    }
  }
  if (!s.ok()) {
    cold()->Delete(name).IgnoreError();
    in_flight_ = {};
    return s;
  }
  in_flight_ = {};
  *out = std::make_shared<SegmentEntry>(env_, cold(), cold()->Location(name), std::move(row),
                                        reporter_);
  return Status::OK();
}

Result<uint64_t> TierMover::Sweep(const std::vector<catalog::ReconcileStore>& stores,
                                  const catalog::SegmentFileOps& ops) {
  MutexLock ml(&move_mu_);
  catalog::ReconcileOptions options;
  options.sweep = true;
  // Replaced segments a snapshot still reads are deleted by their last holder, not here.
  std::set<std::pair<std::string, std::string>> held;
  {
    MutexLock l(&*mu_);
    segments_->HeldObsolete(&held);
  }
  options.skip = [&](const std::string& store, const std::string& name) {
    return held.count({store, name}) > 0 || in_flight_ == std::make_pair(store, name);
  };
  ASSIGN_OR_RETURN(catalog::ReconcileReport report,
                   catalog::Reconcile(stores, catalog_, ops, clock_->NowNanos(), options));
  if (report.orphans_deleted > 0) {
    StorageMetrics::Get().swept_objects->Increment(static_cast<double>(report.orphans_deleted));
  }
  // Unfinished uploads to the cold store (a crash or a lost connection mid-upload; on S3 the
  // parts are kept and billed until aborted). Only this mover writes there and it is not writing
  // now (move_mu_); an S3 store lists only uploads older than its grace period besides.
  auto unfinished = cold()->ListIncomplete("");
  if (!unfinished.ok()) {
    spdlog::warn(
        "tier sweep: cannot list unfinished writes in the cold store (retried next "
        "round): {}",
        unfinished.status().ToString());
  } else {
    for (const std::string& name : *unfinished) {
      Status s = cold()->DeleteIncomplete(name);
      if (s.ok() || s.IsNotFound()) {
        spdlog::warn(
            "tier sweep: {} is an unfinished write to the cold store (no catalog row "
            "can name it); aborted",
            cold()->Location(name));
      } else {
        spdlog::warn("tier sweep: aborting the unfinished write {} failed (retried next round): {}",
                     cold()->Location(name), s.ToString());
      }
    }
  }
  return report.orphans_deleted;
}

}  // namespace sawmill::storage
