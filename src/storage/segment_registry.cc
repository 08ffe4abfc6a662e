#include "storage/segment_registry.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/mutex.h"
#include "segment/segment_file_reader.h"
#include "storage/storage_metrics.h"

namespace sawmill::storage {

// ---- CorruptionReporter ----

void CorruptionReporter::Report(uint64_t segment_id, const Status& status) {
  MutexLock l(&mu_);
  if (engine_ != nullptr) engine_->ReportCorruption(segment_id, status);
}

void CorruptionReporter::Detach() {
  MutexLock l(&mu_);
  engine_ = nullptr;
}

// ---- SegmentEntry ----

SegmentEntry::~SegmentEntry() {
  if (!obsolete_) return;
  reader_.reset();
  const bool legacy = row_.path.empty() || row_.path[0] == '/';
  Status s = !legacy && store_ != nullptr ? store_->Delete(row_.path) : env_->RemoveFile(path_);
  if (!s.ok() && !s.IsNotFound()) {
    // Reconciliation deletes it later (no catalog row, superseded).
    StorageMetrics::Get().delete_errors->Increment();
    spdlog::warn("cannot delete replaced segment {}: {}", path_, s.ToString());
  }
}

Result<std::shared_ptr<segment::SegmentReader>> SegmentEntry::Open() {
  Status failed;
  {
    MutexLock l(&open_mu_);
    if (reader_ != nullptr) return reader_;
    if (store_ == nullptr ||
        (row_.store != catalog::kLocalStore && row_.store != catalog::kColdStore)) {
      // Not a damaged file: a store this engine was not given.
      return Status::FailedPrecondition("segment " + std::to_string(row_.id) +
                                        " is in object store '" + row_.store +
                                        "', which this server does not have");
    }
    auto opened = !row_.path.empty() && row_.path[0] != '/'
                      ? segment::SegmentReader::Open(store_, row_.path)
                      : segment::SegmentReader::Open(env_, path_);
    const auto* file =
        opened.ok() ? dynamic_cast<const segment::SegmentFileReader*>(opened->get()) : nullptr;
    if (file != nullptr && reporter_ != nullptr &&
        file->format_version() > reporter_->newest_format()) {
      // A node playing a previous build (EngineOptions::newest_format_version): as its reader
      // would answer (segment_reader.cc), not damage.
      return Status::FailedPrecondition(
          "segment " + path_ + ": format version " + std::to_string(file->format_version()) +
          " is not readable by this build (reads " + std::to_string(segment::kMinReadableVersion) +
          ".." + std::to_string(reporter_->newest_format()) + ")");
    }
    if (opened.ok()) {
      const segment::SegmentInfo& info = (*opened)->info();
      if (info.id == row_.id && info.tenant == row_.tenant && info.partition == row_.partition) {
        reader_ = std::move(opened).value();
        return reader_;
      }
      failed = Status::DataLoss("segment " + path_ + " holds segment " + std::to_string(info.id) +
                                " of tenant " + info.tenant + ", partition " +
                                std::to_string(info.partition) + ", not segment " +
                                std::to_string(row_.id));
    } else {
      failed = opened.status();
    }
  }
  // Outside open_mu_: reporting takes the engine's locks and writes the catalog.
  if (failed.IsDataLoss() && reporter_ != nullptr) reporter_->Report(row_.id, failed);
  return failed;
}

segment::SegmentInfo SegmentEntry::info() const {
  segment::SegmentInfo info;
  info.id = row_.id;
  info.tenant = row_.tenant;
  info.partition = row_.partition;
  info.rows = row_.rows;
  info.min_ts = row_.min_ts;
  info.max_ts = row_.max_ts;
  info.min_ingest_ts = row_.min_ingest_ts;
  info.max_ingest_ts = row_.max_ingest_ts;
  info.min_seq = row_.min_seq;
  info.max_seq = row_.max_seq;
  info.file_bytes = row_.bytes;
  info.raw_bytes = row_.raw_bytes;
  return info;
}

// ---- SegmentRegistry ----

std::shared_ptr<objstore::ObjectStore> SegmentRegistry::StoreNamed(std::string_view name) const {
  if (name == catalog::kLocalStore) return store_;
  if (name == catalog::kColdStore) return cold_;
  return nullptr;
}

void SegmentRegistry::HeldObsolete(std::set<std::pair<std::string, std::string>>* out) {
  std::erase_if(replaced_, [&](const std::weak_ptr<SegmentEntry>& weak) {
    std::shared_ptr<SegmentEntry> entry = weak.lock();
    if (entry == nullptr) return true;
    out->emplace(entry->row().store, entry->row().path);
    return false;
  });
}

std::vector<std::shared_ptr<SegmentEntry>> SegmentRegistry::All() const {
  std::vector<std::shared_ptr<SegmentEntry>> out;
  for (const auto& [tenant, by_id] : segments_) {
    for (const auto& [id, entry] : by_id) out.push_back(entry);
  }
  return out;
}

void SegmentRegistry::Add(std::shared_ptr<SegmentEntry> entry) {
  const catalog::SegmentRow& row = entry->row();
  segments_[row.tenant][row.id] = std::move(entry);
}

std::shared_ptr<SegmentEntry> SegmentRegistry::Find(uint64_t id) const {
  for (const auto& [tenant, by_id] : segments_) {
    auto it = by_id.find(id);
    if (it != by_id.end()) return it->second;
  }
  return nullptr;
}

void SegmentRegistry::Replace(const std::vector<std::shared_ptr<SegmentEntry>>& inputs,
                              std::shared_ptr<SegmentEntry> output, bool delete_inputs) {
  auto& by_id = segments_[output->row().tenant];
  for (const auto& entry : inputs) {
    by_id.erase(entry->row().id);
    entry->compacting = false;
    if (!delete_inputs) continue;
    // Snapshots holding it keep reading; the last one to let go deletes the file.
    entry->MarkObsolete();
    replaced_.push_back(entry);
  }
  const uint64_t id = output->row().id;
  pending_outputs_.erase(id);
  by_id[id] = std::move(output);
}

void SegmentRegistry::Remove(const std::vector<std::shared_ptr<SegmentEntry>>& entries) {
  for (const auto& entry : entries) {
    auto it = segments_.find(entry->row().tenant);
    if (it != segments_.end()) it->second.erase(entry->row().id);
    entry->compacting = false;
    entry->MarkObsolete();
    replaced_.push_back(entry);  // the sweep leaves it to its last holder
  }
}

std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> SegmentRegistry::SmallActive(
    uint64_t below_bytes) const {
  std::map<PartitionKey, std::vector<std::shared_ptr<SegmentEntry>>> out;
  for (const auto& [tenant, by_id] : segments_) {
    for (const auto& [id, entry] : by_id) {
      const auto& row = entry->row();
      // Only hot segments: warm and cold ones were re-encoded for size already.
      if (row.state == catalog::kStateActive && row.tier == catalog::kTierHot &&
          !entry->compacting && row.bytes < below_bytes) {
        out[{row.tenant, row.partition}].push_back(entry);
      }
    }
  }
  return out;
}

void SegmentRegistry::Forget(uint64_t id) {
  for (auto& [tenant, by_id] : segments_) {
    if (by_id.erase(id) > 0) return;
  }
}

void SegmentRegistry::AddToSnapshot(Snapshot* snapshot) const {
  auto seg_it = segments_.find(snapshot->tenant);
  if (seg_it == segments_.end()) return;
  snapshot->segments.reserve(seg_it->second.size());
  for (const auto& [id, entry] : seg_it->second) {
    SegmentHandle h;
    h.info = entry->info();
    h.path = entry->path();
    h.tier = entry->row().tier;
    h.store = entry->row().store;
    h.object = entry->row().path;
    h.node = entry->node;
    h.registered = entry->registered;
    h.open = [entry = entry]() { return entry->Open(); };
    snapshot->segments.push_back(std::move(h));
  }
}

uint64_t SegmentRegistry::count() const {
  uint64_t n = 0;
  for (const auto& [tenant, by_id] : segments_) n += by_id.size();
  return n;
}

uint64_t SegmentRegistry::bytes() const {
  uint64_t n = 0;
  for (const auto& [tenant, by_id] : segments_) {
    for (const auto& [id, entry] : by_id) n += entry->row().bytes;
  }
  return n;
}

void SegmentRegistry::UpdateGauges() const {
  auto& m = StorageMetrics::Get();
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_tier = {
      {"hot", {0, 0}}, {"warm", {0, 0}}, {"cold", {0, 0}}};
  uint64_t corrupt = 0;
  for (const auto& [tenant, by_id] : segments_) {
    for (const auto& [id, entry] : by_id) {
      auto& t = by_tier[entry->row().tier];
      ++t.first;
      t.second += entry->row().bytes;
      corrupt += entry->row().state == catalog::kStateCorrupt;
    }
  }
  m.corrupt_registered->Set(static_cast<double>(corrupt));
  for (const auto& [tier, counts] : by_tier) {
    m.segments->Add({{"tier", tier}}).Set(static_cast<double>(counts.first));
    m.segment_bytes->Add({{"tier", tier}}).Set(static_cast<double>(counts.second));
  }
}

}  // namespace sawmill::storage
