#include "catalog/reconcile.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/metrics.h"

namespace sawmill::catalog {
namespace {

prometheus::Family<prometheus::Counter>& ReconcileFamily() {
  static auto& family = prometheus::BuildCounter()
                            .Name("sawmill_catalog_reconcile_total")
                            .Help("Start-up findings of catalog vs segment files, by kind")
                            .Register(MetricsRegistry());
  return family;
}

struct FoundFile {
  std::string path;
  std::string tier;
  uint64_t id = 0;
  bool is_segment = false;  // "<digits>.seg"; anything else is a leftover temporary
};

// Parses "<digits>.seg".
bool ParseSegmentName(const std::string& name, uint64_t* id) {
  constexpr std::string_view kSuffix = ".seg";
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return false;
  uint64_t v = 0;
  for (size_t i = 0; i + kSuffix.size() < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *id = v;
  return true;
}

// Walks <root>/<tier>/<tenant>/<partition>/ and collects the files there.
void Walk(Env* env, const std::string& dir, int depth, const std::string& tier,
          std::vector<FoundFile>* out) {
  auto children = env->GetChildren(dir);
  if (!children.ok()) return;
  std::sort(children->begin(), children->end());
  for (const auto& name : *children) {
    const std::string path = JoinPath(dir, name);
    if (depth < 3) {
      Walk(env, path, depth + 1, depth == 0 ? name : tier, out);
      continue;
    }
    FoundFile f;
    f.path = path;
    f.tier = tier;
    f.is_segment = ParseSegmentName(name, &f.id);
    out->push_back(std::move(f));
  }
}

}  // namespace

Result<ReconcileReport> Reconcile(Env* env, const std::string& segments_root, Catalog* catalog,
                                  const ReadSegmentRowFn& read_row, int64_t now_ns) {
  ReconcileReport report;
  auto& family = ReconcileFamily();
  auto note = [&](const char* kind, std::string msg) {
    family.Add({{"kind", kind}}).Increment();
    spdlog::warn("catalog reconciliation: {}", msg);
    report.messages.push_back(std::move(msg));
  };

  std::vector<FoundFile> files;
  Walk(env, segments_root, 0, "", &files);
  ASSIGN_OR_RETURN(std::vector<SegmentRow> rows, catalog->List());

  std::set<std::string> on_disk;
  for (const auto& f : files) {
    on_disk.insert(f.path);
    if (f.is_segment) report.max_file_id = std::max(report.max_file_id, f.id);
  }

  // Registered (tenant, partition) -> seq ranges, to tell a lost flush from a compaction leftover.
  std::map<std::pair<std::string, uint32_t>, std::vector<std::pair<uint64_t, uint64_t>>> ranges;
  std::set<std::string> registered_paths;
  for (const SegmentRow& row : rows) {
    registered_paths.insert(row.path);
    if (row.state == kStateMissing) continue;
    if (!on_disk.count(row.path)) {
      RETURN_IF_ERROR(catalog->SetState(row.id, kStateMissing));
      ++report.rows_missing_file;
      note("missing_file", "segment " + std::to_string(row.id) + " (" + row.tenant +
                               ", partition " + std::to_string(row.partition) + ", " +
                               std::to_string(row.rows) + " rows) has no file at " + row.path +
                               "; marked missing");
      continue;
    }
    ranges[{row.tenant, row.partition}].emplace_back(row.min_seq, row.max_seq);
  }

  // Orphans in id order, so that compaction inputs are considered before their output.
  std::vector<FoundFile> orphans;
  for (auto& f : files) {
    if (!registered_paths.count(f.path)) orphans.push_back(f);
  }
  std::sort(orphans.begin(), orphans.end(),
            [](const FoundFile& a, const FoundFile& b) { return a.id < b.id; });
  for (const FoundFile& f : orphans) {
    auto remove = [&](const std::string& why) {
      Status s = env->RemoveFile(f.path);
      ++report.orphans_deleted;
      note("orphan_deleted", f.path + " has no catalog row and " + why + "; deleted" +
                                 (s.ok() ? "" : " (failed: " + s.ToString() + ")"));
    };
    if (!f.is_segment) {
      remove("is not a segment (a leftover temporary file)");
      continue;
    }
    auto row = read_row(f.path);
    if (!row.ok()) {
      remove("cannot be read (" + row.status().ToString() + ")");
      continue;
    }
    SegmentRow r = std::move(row).value();
    r.path = f.path;
    r.tier = f.tier;
    r.state = std::string(kStateActive);
    if (r.created_ns == 0) r.created_ns = now_ns;
    auto& list = ranges[{r.tenant, r.partition}];
    bool overlaps = std::any_of(list.begin(), list.end(), [&](const auto& range) {
      return r.min_seq <= range.second && range.first <= r.max_seq;
    });
    if (overlaps || r.id != f.id) {
      remove(overlaps ? "its records are already in registered segments"
                      : "its id does not match its name");
      continue;
    }
    Status s = catalog->Insert(r);
    if (!s.ok()) {
      if (s.code() == StatusCode::kAlreadyExists) {
        remove("its id is taken by another segment");
        continue;
      }
      return s;
    }
    list.emplace_back(r.min_seq, r.max_seq);
    ++report.orphans_registered;
    note("orphan_registered", f.path + " had no catalog row; registered as segment " +
                                  std::to_string(r.id) + " (" + std::to_string(r.rows) + " rows)");
  }
  if (report.messages.empty()) {
    spdlog::info("catalog reconciliation: {} segments, {} files, all consistent", rows.size(),
                 files.size());
  }
  return report;
}

}  // namespace sawmill::catalog
