#include "storage/compactor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "objstore/cold_cache.h"
#include "segment/segment_merge.h"
#include "storage/job_gate.h"
#include "storage/segment_files.h"
#include "storage/storage_metrics.h"

namespace sawmill::storage {

namespace {
// The zstd level of the text columns (the message above all) of the segments compaction writes,
// where segment_options leaves it at its default (flushes: zstd 9): compaction writes a line
// once or twice, in the background, so it can afford more. On the largest 10 M segment 11 took
// the message column 3.1 % smaller than 9 (after format version 11's lines) for 0.5 s more
// writer CPU per 928,000 rows; 12 gave the same bytes for more CPU (docs/performance.md
// "Message column at 10,000,000 lines").
constexpr int kCompactedTextZstdLevel = 11;
}  // namespace

Compactor::Compactor(const EngineOptions& options, Env* env, Clock* clock,
                     catalog::Catalog* catalog, Mutex* mu, const MemtableSet* memtables,
                     SegmentRegistry* segments, std::shared_ptr<CorruptionReporter> reporter,
                     Engine* engine, const std::atomic<bool>* stop)
    : options_(options),
      env_(env),
      clock_(clock),
      catalog_(catalog),
      mu_(mu),
      memtables_(memtables),
      segments_(segments),
      reporter_(std::move(reporter)),
      engine_(engine),
      stop_(stop) {}

std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> Compactor::SharedCandidates(
    std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> candidates,
    const std::map<std::string, uint64_t>& confirmed) const {
  // A cluster node (docs/cluster.md "Compaction and tier moves on cluster nodes"):
  // - only segments known for shared_settle_ns (query_timeout): a query that asked a peer for
  //   its memtables before the segment was registered has ended, so none can hold its lines in
  //   that answer while also reading the output (which, flushed by no node, is not cut);
  // - only segments whose node has confirmed their registration ("confirmed", OriginConfirmed):
  //   a node that lost a registration's answer keeps the memtable, and its answers hold the
  //   lines, however long it takes to learn the outcome;
  // - only segments one node flushed (an output or a segment of unknown origin is not merged
  //   again), merged within a seq span narrower than a seq block: the output's seq range, which
  //   WAL replay and takeover skip as stored, then holds no seq of another node's block.
  const int64_t now = SegmentEntry::SteadyClockNanos();
  std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> out;
  for (auto& [key, list] : candidates) {
    std::map<std::string, std::vector<std::shared_ptr<SegmentEntry>>> by_node;
    for (auto& entry : list) {
      if (entry->node.empty() || now - entry->known_since_ns < options_.shared_settle_ns) continue;
      if (!OriginConfirmed(confirmed, entry->node, entry->registered)) continue;
      by_node[entry->node].push_back(entry);
    }
    // The largest run of one node's segments (by seq) within the span.
    std::vector<std::shared_ptr<SegmentEntry>> best;
    for (auto& [node, mine] : by_node) {
      std::sort(mine.begin(), mine.end(),
                [](const auto& a, const auto& b) { return a->row().min_seq < b->row().min_seq; });
      for (size_t first = 0, last = 0; first < mine.size(); ++first) {
        last = std::max(last, first);
        while (last + 1 < mine.size() &&
               mine[last + 1]->row().max_seq - mine[first]->row().min_seq <
                   options_.shared_merge_seq_span) {
          ++last;
        }
        if (mine[first]->row().max_seq - mine[first]->row().min_seq >=
            options_.shared_merge_seq_span) {
          continue;  // one segment spans blocks already (lines taken over): left as it is
        }
        if (last - first + 1 > best.size()) {
          best.assign(mine.begin() + static_cast<ptrdiff_t>(first),
                      mine.begin() + static_cast<ptrdiff_t>(last) + 1);
        }
      }
    }
    if (!best.empty()) out[key] = std::move(best);
  }
  return out;
}

std::vector<std::pair<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>>>
Compactor::RankedCandidates(const std::map<std::string, uint64_t>& confirmed,
                            size_t min_inputs) const {
  std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> candidates =
      segments_->SmallActive(options_.compaction_small_bytes);
  if (options_.shared_store) candidates = SharedCandidates(std::move(candidates), confirmed);
  min_inputs = std::max<size_t>({min_inputs, 2, options_.compaction_min_inputs});
  std::vector<std::pair<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>>> out;
  for (auto& [key, list] : candidates) {
    if (list.size() >= min_inputs) {
      out.emplace_back(key, std::move(list));
    }
  }
  // The most inputs first; among equals, the first key (stable).
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  return out;
}

bool Compactor::RecodableAlone(const EngineOptions& options, const SegmentEntry& entry) {
  // Checked, not assumed from the flusher (whose cluster flushes never set cheap_text today):
  // a segment in the store every node shares is merged by the cluster's rules only.
  return entry.cheap_text && !options.shared_store && entry.node.empty();
}

std::vector<std::shared_ptr<SegmentEntry>> Compactor::RecodeCandidates() const {
  // A single server's cheap segments only (RecodableAlone): a cluster node merges by its own
  // rules (SharedCandidates).
  std::vector<std::shared_ptr<SegmentEntry>> out;
  if (options_.shared_store) return out;
  const int64_t now = clock_->MonotonicNanos();
  for (auto& [key, list] : segments_->SmallActive(UINT64_MAX)) {
    // Quiet: nothing in its memtables and no flush of it for recode_quiet_ns; else a flush may
    // come to merge with (a trickle of lines is flushed every flush_interval_ns).
    if (memtables_->KeyBytes(key) != 0) continue;
    int64_t latest = 0;
    for (const auto& entry : list) latest = std::max(latest, entry->flushed_mono_ns);
    if (latest != 0 && now - latest < options_.recode_quiet_ns) continue;
    for (auto& entry : list) {
      if (RecodableAlone(options_, *entry)) out.push_back(entry);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->row().id < b->row().id; });
  return out;
}

void Compactor::TestPauseBeforeSwap(uint64_t id) {
  // Tests only (e2e_cluster_compact kills a node here): SAWMILL_TEST_PAUSE_BEFORE_SWAP_MS.
  static const int64_t pause_ms = [] {
    const char* env = std::getenv("SAWMILL_TEST_PAUSE_BEFORE_SWAP_MS");
    return env != nullptr ? std::atoll(env) : 0;
  }();
  if (pause_ms <= 0) return;
  spdlog::warn("test hook: compaction output {} written; pausing {} ms before its swap", id,
               pause_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
}

Status Compactor::CompactOnce(bool* did_work) {
  *did_work = false;
  MutexLock cl(&compaction_mu_);
  if (stop_->load()) return Status::OK();  // stopping: the next start merges
  // A cluster node merges only segments their nodes have confirmed (SharedCandidates), read
  // before the candidates are: a number read earlier is only lower.
  std::map<std::string, uint64_t> confirmed;
  if (options_.shared_store) {
    // Not when no partition holds enough small segments to merge even before the cluster's
    // rules narrow them (SharedCandidates only takes some away): an idle round, every 2 s on
    // every node, then reads nothing from the catalog (docs/cluster.md "Job leases as built").
    bool any = false;
    {
      MutexLock l(&*mu_);
      const size_t min_inputs = std::max<uint32_t>(2, options_.compaction_min_inputs);
      for (const auto& [key, list] : segments_->SmallActive(options_.compaction_small_bytes)) {
        if (list.size() >= min_inputs) any = true;
      }
    }
    if (!any) return Status::OK();
    // A node gone (left or fenced) counts once query_timeout and node_timeout have passed:
    // no query that asked it can still run (a live list lags a heartbeat; clocks differ).
    auto read = ConfirmedThroughByNode(catalog_, clock_->NowNanos(),
                                       options_.shared_settle_ns + options_.node_timeout_ns);
    if (!read.ok()) {
      return read.status().WithContext(
          "compaction: reading which registrations the nodes have confirmed");
    }
    confirmed = std::move(read).value();
  }
  // The partitions worth a merge, best first. In a round of the job this node merges the best
  // one whose partition lease it claims (storage/job_gate.h), so that the nodes of a cluster
  // merge different partitions at once and never one partition twice.
  std::vector<std::string> leases;
  bool recode = false;    // no merge to do: one cheap segment re-encoded alone (RecodeCandidates)
  size_t min_inputs = 0;  // RankedCandidates' floor: raised while ingestion comes first
  {
    MutexLock l(&*mu_);
    // Ingestion first: while the memtables hold more than half their cap (paced appends wait for
    // the flushes, which compete with a merge for the CPU), only a partition whose small
    // segments have piled up to compaction_pressure_inputs is merged, so that their count stays
    // bounded however long the pressure lasts (docs/storage.md "Compaction").
    const bool pressure = memtables_->bytes() > options_.memtable_cap_bytes / 2;
    if (pressure) {
      if (options_.compaction_pressure_inputs == 0) return Status::OK();
      min_inputs = options_.compaction_pressure_inputs;
    }
    for (const auto& [key, list] : RankedCandidates(confirmed, min_inputs)) {
      std::string lease = PartitionJobLease("compaction", key.first, key.second);
      if (std::find(leases.begin(), leases.end(), lease) == leases.end()) leases.push_back(lease);
      if (leases.size() == catalog::kMaxLeasesPerCall) break;
    }
    if (leases.empty() && !pressure) {
      for (const auto& entry : RecodeCandidates()) {
        std::string lease =
            PartitionJobLease("compaction", entry->row().tenant, entry->row().partition);
        if (std::find(leases.begin(), leases.end(), lease) == leases.end()) {
          leases.push_back(lease);
        }
        if (leases.size() == catalog::kMaxLeasesPerCall) break;
      }
      recode = !leases.empty();
    }
  }
  if (leases.empty()) return Status::OK();
  const std::vector<std::string> claimed = ClaimPartitionJobs(leases, 1);
  if (claimed.empty()) return Status::OK();  // every one is another node's now
  const std::string& lease = claimed.front();
  std::vector<std::shared_ptr<SegmentEntry>> inputs;
  {
    MutexLock l(&*mu_);
    // Asked again: the registry may have changed while the lease was claimed.
    if (recode) {
      for (auto& entry : RecodeCandidates()) {
        if (PartitionJobLease("compaction", entry->row().tenant, entry->row().partition) == lease) {
          inputs.push_back(std::move(entry));
          break;
        }
      }
    } else {
      for (auto& [key, list] : RankedCandidates(confirmed, min_inputs)) {
        if (PartitionJobLease("compaction", key.first, key.second) == lease) {
          inputs = std::move(list);
          break;
        }
      }
    }
    if (inputs.empty()) return Status::OK();
    std::sort(inputs.begin(), inputs.end(),
              [](const auto& a, const auto& b) { return a->row().min_seq < b->row().min_seq; });
    // Bound the merged segment's size: stop at about two target segments of raw bytes (at
    // least two inputs). The merge's memory does not grow with it (MergeSegments).
    const uint64_t raw_budget = std::max<uint64_t>(2 * options_.segment_target_bytes, 1 << 20);
    uint64_t raw = 0;
    size_t take = 0;
    while (take < inputs.size() && take < 64 &&
           (take < 2 || raw + inputs[take]->row().raw_bytes <= raw_budget)) {
      raw += inputs[take]->row().raw_bytes;
      ++take;
    }
    inputs.resize(take);
    for (auto& entry : inputs) entry->compacting = true;
  }
  auto release = [&] {
    MutexLock l(&*mu_);
    for (auto& entry : inputs) entry->compacting = false;
  };

  const int64_t start = clock_->MonotonicNanos();
  const std::string tenant = inputs.front()->row().tenant;
  const uint32_t partition = inputs.front()->row().partition;
  // The inputs are merged block by block (segment::MergeSegments): what is held is the input
  // blocks whose time ranges overlap and one block of output rows, not the inputs' records.
  // Their seqs, which the output must hold exactly, are kept as a set (a few bytes per run).
  std::vector<std::shared_ptr<segment::SegmentReader>> readers;
  Roaring64Map seqs;
  uint64_t rows = 0;
  uint64_t input_bytes = 0;
  std::vector<uint64_t> input_ids;
  for (auto& entry : inputs) {
    input_ids.push_back(entry->row().id);
    input_bytes += entry->row().bytes;
    auto reader = entry->Open();
    Status s = reader.status();
    if (reader.ok()) {
      s = CollectSeqs(**reader, &seqs, &rows);
      readers.push_back(std::move(reader).value());
    }
    if (!s.ok()) {
      release();
      if (s.IsDataLoss()) engine_->ReportCorruption(entry->row().id, s);
      return s.WithContext("compaction of segment " + std::to_string(entry->row().id));
    }
  }

  auto allocated = catalog_->AllocateSegmentId();
  if (!allocated.ok()) {
    release();
    return allocated.status().WithContext("compaction of tenant " + tenant + " partition " +
                                          std::to_string(partition));
  }
  const uint64_t id = *allocated;
  // A cluster node's output goes where its flushes go: the shared store, written and read back
  // past any cache (docs/cluster.md "Compaction and tier moves on cluster nodes").
  const bool shared = options_.shared_store;
  const std::shared_ptr<objstore::ObjectStore> out_store =
      shared ? objstore::Uncached(segments_cold()) : store();
  const std::string rel =
      shared ? SharedSegmentName(tenant, id) : SegmentRelPath("hot", tenant, partition, id);
  const std::string path =
      shared ? segments_cold()->Location(rel) : JoinPath(options_.data_dir, rel);
  segment::SegmentInfo in, out;
  in.id = id;
  in.tenant = tenant;
  in.partition = partition;
  segment::MergeStats merge;
  segment::WriterOptions writer = Writer(options_.segment_options);
  if (writer.text_zstd_level == 0) writer.text_zstd_level = kCompactedTextZstdLevel;
  if (options_.compaction_text_layouts && !writer.text_layouts) {
    writer.text_layouts = true;
    writer.text_layout_probe = true;
  }
  // A stop abandons the round at the next block, of the merge or of the read-back, or before the
  // swap: the output is removed below and the inputs stay as they are, merged again at the next
  // start (a niced merge on a busy machine may have minutes to go; docs/storage.md "Stopping").
  const auto stopping = [this] { return stop_->load(); };
  Status s =
      segment::MergeSegments(out_store.get(), rel, in, readers, writer, &out, &merge, stopping);
  if (!s.ok() && merge.failed_input >= 0) {
    // An input that cannot be read: the same as before the merge started.
    const uint64_t bad = inputs[static_cast<size_t>(merge.failed_input)]->row().id;
    if (s.IsDataLoss()) engine_->ReportCorruption(bad, s);
    s = s.WithContext("compaction of segment " + std::to_string(bad));
  }
  readers.clear();
  // The inputs are deleted once the swap commits: the output must verify first.
  if (s.ok()) s = VerifyWritten(out_store, rel, out, seqs, rows, ReadBack::kEncoded, stopping);
  if (s.ok() && stopping()) s = Status::Unavailable("stopping before the swap");
  catalog::SegmentRow row;
  bool keep_output = false;
  if (s.ok()) {
    row = RowFromInfo(out, rel, "hot", clock_->NowNanos());
    if (shared) row.store = std::string(catalog::kColdStore);
    TestPauseBeforeSwap(id);
    // The swap: readers of the catalog see the inputs or the output, never both. Not after this
    // node lost the partition's lease: checked before, and in the swap's own transaction
    // (storage/job_gate.h).
    s = CommitUnderJobLease(lease, [&](const catalog::LeaseFence* fence) {
      if (!shared) return catalog_->Replace(input_ids, {row}, fence);
      {
        MutexLock l(&*mu_);
        segments_->AddPendingOutput(id, input_ids);  // the view leaves it to the swap
      }
      return SwapShared(catalog_, input_ids, row, fence, &keep_output);
    });
  }
  if (!s.ok()) {
    // Never an object a row may name: one whose swap may have committed stays (an orphan the
    // segment sweep deletes if no row names it).
    if (!keep_output) out_store->Delete(rel).IgnoreError();
    if (shared) {
      MutexLock l(&*mu_);
      segments_->DropPendingOutput(id, /*may_have_committed=*/keep_output);
    }
    // Inputs another node retired meanwhile leave this node's view when it applies that node's
    // swap, with its output (segment_view.cc), not before.
    release();
    if (stopping()) {
      spdlog::info(
          "compaction of {} segments of {}/{} abandoned: stopping ({:.3f}s in; merged "
          "again at the next start)",
          input_ids.size(), tenant, partition, Seconds(clock_->MonotonicNanos() - start));
    }
    return s.WithContext("compaction of tenant " + tenant + " partition " +
                         std::to_string(partition));
  }
  auto output = std::make_shared<SegmentEntry>(env_, shared ? segments_cold() : store(), path,
                                               std::move(row), reporter_);
  for (const auto& entry : inputs) {
    output->flushed_mono_ns = std::max(output->flushed_mono_ns, entry->flushed_mono_ns);
  }
  {
    MutexLock l(&*mu_);
    // Snapshots holding an input keep reading; the last one to let go deletes the file. On a
    // cluster node other nodes may still read the inputs: their objects are left to the orphan
    // sweep, which deletes them segment_orphan_grace after no row names them.
    segments_->Replace(inputs, std::move(output), /*delete_inputs=*/!shared);
    ++compactions_;
    memtables_->UpdateGauge();
    segments_->UpdateGauges();
  }
  inputs.clear();
  const int64_t elapsed = clock_->MonotonicNanos() - start;
  auto& m = StorageMetrics::Get();
  m.compactions->Increment();
  m.compacted_bytes->Increment(static_cast<double>(input_bytes));
  last_bytes_ = input_bytes + out.file_bytes;
  m.compaction_seconds->Observe(Seconds(elapsed));
  spdlog::info("compaction: {} segments of {}/{} ({} bytes) -> segment {} ({} bytes) in {:.3f}s{}",
               input_ids.size(), tenant, partition, input_bytes, id, out.file_bytes,
               Seconds(elapsed), recode ? " (flushed under pressure, re-encoded)" : "");
  *did_work = true;
  return Status::OK();
}

}  // namespace sawmill::storage
