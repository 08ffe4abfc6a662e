#include "catalog/reconcile.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/metrics.h"

namespace sawmill::catalog {
namespace {

constexpr std::string_view kSegmentsDir = "segments";
constexpr std::string_view kQuarantineDir = "quarantine";
constexpr std::string_view kTierQuarantineDir = ".quarantine";

prometheus::Family<prometheus::Counter>& ReconcileFamily() {
  static auto& family = prometheus::BuildCounter()
                            .Name("sawmill_catalog_reconcile_total")
                            .Help("Start-up findings of catalog vs segment files, by kind")
                            .Register(MetricsRegistry());
  return family;
}

struct FoundFile {
  const ReconcileStore* where = nullptr;
  std::string full;  // where it is, for messages (the store's Location)
  std::string rel;   // the object's name in its store: "segments/<tier>/<tenant>/<p>/<name>"
  std::string tier;
  uint64_t name_id = 0;
  bool named_segment = false;  // "<digits>.seg"
  bool temporary = false;      // never set: unfinished writes are not listed as objects
  bool verified = false;
  SegmentRow row;  // what the file says, when verified
  Status error;    // why it does not verify
  bool claimed = false;
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

// Lists the segment objects of "where" (ReconcileStore) into "*out".
Status ListSegments(const ReconcileStore& where, std::vector<FoundFile>* out) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, where.store->List(where.prefix));
  for (std::string& name : names) {
    std::vector<std::string_view> parts;
    for (size_t start = 0;;) {
      size_t slash = name.find('/', start);
      parts.push_back(std::string_view(name).substr(
          start, slash == std::string::npos ? std::string::npos : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    FoundFile f;
    f.where = &where;
    if (where.tier.empty()) {
      // "segments/<tier>/<tenant>/<partition>/<file>"; anything else is not a segment's place.
      if (parts.size() != 5) continue;
      f.tier = std::string(parts[1]);
    } else {
      // "<tenant>/<file>", and not the store's own quarantine.
      if (parts.size() != 2 || parts[0] == kTierQuarantineDir) continue;
      f.tier = where.tier;
    }
    f.named_segment = ParseSegmentName(std::string(parts.back()), &f.name_id);
    f.full = where.store->Location(name);
    f.rel = std::move(name);
    out->push_back(std::move(f));
  }
  return Status::OK();
}

// The columns in which "stored" differs from "truth", for the log line.
std::string Diff(const SegmentRow& stored, const SegmentRow& truth) {
  std::string out;
  auto add = [&](const char* column, const std::string& from, const std::string& to) {
    if (from == to) return;
    if (!out.empty()) out += ", ";
    out += std::string(column) + " '" + from + "' -> '" + to + "'";
  };
  auto num = [](auto v) { return std::to_string(v); };
  add("tenant", stored.tenant, truth.tenant);
  add("partition", num(stored.partition), num(truth.partition));
  add("min_ts", num(stored.min_ts), num(truth.min_ts));
  add("max_ts", num(stored.max_ts), num(truth.max_ts));
  add("min_ingest_ts", num(stored.min_ingest_ts), num(truth.min_ingest_ts));
  add("max_ingest_ts", num(stored.max_ingest_ts), num(truth.max_ingest_ts));
  add("min_seq", num(stored.min_seq), num(truth.min_seq));
  add("max_seq", num(stored.max_seq), num(truth.max_seq));
  add("rows", num(stored.rows), num(truth.rows));
  add("bytes", num(stored.bytes), num(truth.bytes));
  add("raw_bytes", num(stored.raw_bytes), num(truth.raw_bytes));
  add("tier", stored.tier, truth.tier);
  add("store", stored.store, truth.store);
  add("path", stored.path, truth.path);
  add("state", stored.state, truth.state);
  return out;
}

struct Live {
  uint64_t id;
  uint64_t min_seq, max_seq;
  std::string store, name;  // where its bytes are
  bool active;              // verified and active: can prove another file superseded
};

// Segment "row" as the overlap checks see it, its bytes at "name" in its store.
Live LiveOf(const SegmentRow& row, const std::string& name) {
  return Live{row.id, row.min_seq, row.max_seq, row.store, name, row.state == kStateActive};
}

// The catalog row "row" as its verified file "file" says it: where the file is, with the row's
// creation time, corrupt if the row was, else active.
SegmentRow RowFromFile(const FoundFile& file, const SegmentRow& row) {
  SegmentRow truth = file.row;
  truth.path = file.rel;
  truth.tier = file.tier;
  truth.store = file.where->name;
  truth.created_ns = row.created_ns;
  truth.state = std::string(row.state == kStateCorrupt ? kStateCorrupt : kStateActive);
  return truth;
}

enum class Overlap { kNone, kSuperseded, kAmbiguous };

// Compares the seqs of "file" with those of the registered segments whose ranges overlap it.
Overlap Classify(const SegmentFileOps& ops, const FoundFile& file,
                 const std::vector<const Live*>& overlapping, std::string* why) {
  if (overlapping.empty()) return Overlap::kNone;
  auto mine = ops.read_seqs(file.where->name, file.rel);
  if (!mine.ok()) {
    *why = "its seqs cannot be read (" + mine.status().ToString() + ")";
    return Overlap::kAmbiguous;
  }
  std::vector<uint64_t> in_active, in_any;
  std::string ids;
  for (const Live* l : overlapping) {
    auto seqs = ops.read_seqs(l->store, l->name);
    if (!seqs.ok()) {
      *why = "it overlaps segment " + std::to_string(l->id) + ", whose seqs cannot be read (" +
             seqs.status().ToString() + ")";
      return Overlap::kAmbiguous;
    }
    in_any.insert(in_any.end(), seqs->begin(), seqs->end());
    if (l->active) in_active.insert(in_active.end(), seqs->begin(), seqs->end());
    ids += (ids.empty() ? "" : ", ") + std::to_string(l->id);
  }
  std::sort(in_active.begin(), in_active.end());
  std::sort(in_any.begin(), in_any.end());
  uint64_t active_hits = 0, any_hits = 0;
  for (uint64_t s : *mine) {
    active_hits += std::binary_search(in_active.begin(), in_active.end(), s);
    any_hits += std::binary_search(in_any.begin(), in_any.end(), s);
  }
  if (any_hits == 0) return Overlap::kNone;
  if (active_hits == mine->size()) {
    *why =
        "all " + std::to_string(mine->size()) + " of its rows are in registered segment(s) " + ids;
    return Overlap::kSuperseded;
  }
  *why = std::to_string(any_hits) + " of its " + std::to_string(mine->size()) +
         " rows are in registered segment(s) " + ids +
         (active_hits == any_hits ? "" : " (some of them corrupt)") +
         ", so it can be neither registered nor deleted";
  return Overlap::kAmbiguous;
}

}  // namespace

std::string ResolveSegmentPath(const std::string& data_dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return JoinPath(data_dir, path);
}

Result<ReconcileReport> Reconcile(const std::vector<ReconcileStore>& stores, Catalog* catalog,
                                  const SegmentFileOps& ops, int64_t now_ns,
                                  const ReconcileOptions& options) {
  ReconcileReport report;
  auto& family = ReconcileFamily();
  const bool sweep = options.sweep;
  auto note = [&](const char* kind, std::string msg) {
    family.Add({{"kind", kind}}).Increment();
    spdlog::warn("catalog reconciliation: {}", msg);
    report.messages.push_back(std::move(msg));
  };
  auto find_store = [&](const std::string& name) -> const ReconcileStore* {
    for (const ReconcileStore& s : stores) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };

  std::vector<FoundFile> files;
  for (const ReconcileStore& where : stores) {
    RETURN_IF_ERROR(ListSegments(where, &files));
  }
  // Rows are read after the objects are listed: an object written and registered meanwhile
  // (sweep mode) is then named by a row.
  ASSIGN_OR_RETURN(std::vector<SegmentRow> rows, catalog->List());
  std::set<std::pair<std::string, std::string>> named;  // (store, path) of every row
  for (const SegmentRow& row : rows) named.emplace(row.store, row.path);
  if (sweep) {
    // Only objects no row names and nothing protects are looked at.
    std::erase_if(files, [&](const FoundFile& f) {
      return named.count({f.where->name, f.rel}) ||
             (options.skip && options.skip(f.where->name, f.rel));
    });
  }
  for (FoundFile& f : files) {
    if (f.named_segment) report.max_file_id = std::max(report.max_file_id, f.name_id);
    if (f.where->trust_named && f.named_segment && named.count({f.where->name, f.rel})) {
      // Verified by the transition that wrote it; its row says what it holds.
      for (const SegmentRow& row : rows) {
        if (row.id == f.name_id && row.store == f.where->name && row.path == f.rel) {
          f.verified = true;
          f.row = row;
        }
      }
      if (f.verified) continue;
    }
    auto row = ops.read_row(f.where->name, f.rel);
    if (row.ok()) {
      f.verified = true;
      f.row = std::move(row).value();
      report.max_file_id = std::max(report.max_file_id, f.row.id);
    } else {
      f.error = row.status();
    }
  }

  std::map<uint64_t, std::vector<FoundFile*>> by_id;  // footer id -> verified files
  for (FoundFile& f : files) {
    if (f.verified && !f.temporary) by_id[f.row.id].push_back(&f);
  }
  auto quarantine = [&](FoundFile& f, const std::string& why) {
    if (sweep) return;  // only at start-up
    objstore::ObjectStore* store = f.where->store;
    const std::string rel = f.rel.substr(f.where->prefix.size());
    // The local store's quarantine is DIR/quarantine; a tier store's ".quarantine/", which no
    // tenant's directory can be named (PathComponent escapes a leading '.').
    const std::string dir(f.where->tier.empty() ? kQuarantineDir : kTierQuarantineDir);
    std::string dest = dir + "/" + rel;
    for (int n = 1; store->Size(dest).ok(); ++n) dest = dir + "/" + rel + "." + std::to_string(n);
    Status s = CopyObject(store, f.rel, store, dest).status();
    if (s.ok()) s = store->Delete(f.rel);
    ++report.quarantined;
    note("quarantined", f.full + " " + why +
                            (s.ok() ? "; moved to " + store->Location(dest)
                                    : "; could not be moved to " + store->Location(dest) + " (" +
                                          s.ToString() + "), left in place"));
  };

  std::map<std::pair<std::string, uint32_t>, std::vector<Live>> live;
  std::set<uint64_t> taken_ids;
  std::vector<SegmentRow> repairs;
  std::map<const FoundFile*, SegmentRow> restores;  // files of rows marked missing that are back
  std::map<const FoundFile*, Result<SegmentRow>> identities;
  auto identity_of = [&](const FoundFile& f) -> const Result<SegmentRow>& {
    auto it = identities.find(&f);
    if (it == identities.end())
      it = identities.emplace(&f, ops.read_identity(f.where->name, f.rel)).first;
    return it->second;
  };

  std::set<uint64_t> row_ids;
  for (const SegmentRow& row : rows) row_ids.insert(row.id);
  for (const SegmentRow& row : rows) {
    taken_ids.insert(row.id);
    // A segment in a store not given is that store's to check (docs/storage.md, "Catalog").
    const ReconcileStore* row_store = find_store(row.store);
    if (row_store == nullptr) continue;
    if (sweep) {
      // Rows are taken as they are (their objects were not even listed); they can prove an
      // object superseded.
      if (row.state != kStateMissing) {
        live[{row.tenant, row.partition}].push_back(LiveOf(row, row.path));
      }
      continue;
    }
    const std::string stored =
        !row.path.empty() && row.path[0] == '/' ? row.path : row_store->store->Location(row.path);
    FoundFile* match = nullptr;
    if (auto it = by_id.find(row.id); it != by_id.end()) {
      for (FoundFile* f : it->second) {
        if (!f->claimed && !match && (f->full == stored || f->rel == row.path)) match = f;
      }
      for (FoundFile* f : it->second) {
        if (!f->claimed && !match && f->named_segment && f->name_id == row.id) match = f;
      }
      for (FoundFile* f : it->second) {
        if (!f->claimed && !match) match = f;
      }
    }
    if (match != nullptr) {
      match->claimed = true;
      SegmentRow truth = RowFromFile(*match, row);
      if (row.state == kStateMissing) {
        restores.emplace(match, truth);  // decided with the orphans: it may have been replaced
        continue;
      }
      const std::string diff = Diff(row, truth);
      if (!diff.empty()) {
        repairs.push_back(truth);
        ++report.rows_repaired;
        note("row_repaired", "segment " + std::to_string(row.id) +
                                 ": the catalog row disagreed with its file " + match->full +
                                 " in " + diff + "; rewritten from the file");
      }
      live[{truth.tenant, truth.partition}].push_back(LiveOf(truth, match->rel));
      continue;
    }
    // No file verifies as this segment. Is one of the unreadable files this segment?
    FoundFile* bad = nullptr;
    for (int pass = 0; pass < 3 && bad == nullptr; ++pass) {
      for (FoundFile& f : files) {
        if (f.verified || f.claimed || f.temporary) continue;
        bool mine = false;
        if (pass == 0) mine = f.full == stored || f.rel == row.path;
        if (pass == 1) mine = f.named_segment && f.name_id == row.id;
        if (pass == 2) mine = identity_of(f).ok() && identity_of(f)->id == row.id;
        if (mine) {
          bad = &f;
          break;
        }
      }
    }
    if (bad != nullptr) {
      bad->claimed = true;
      SegmentRow fixed = row;
      fixed.path = bad->rel;
      fixed.tier = bad->tier;
      fixed.store = bad->where->name;
      fixed.state = std::string(kStateCorrupt);
      if (const auto& id = identity_of(*bad); id.ok() && id->id == row.id) {
        // The header identity survives a damaged footer: trust it over the catalog.
        fixed.tenant = id->tenant;
        fixed.partition = id->partition;
        fixed.rows = id->rows;
        fixed.min_seq = id->min_seq;
        fixed.max_seq = id->max_seq;
      }
      if (row.state != kStateCorrupt) {
        report.corrupt.emplace_back(row.id, bad->error.ToString());
        note("corrupt", "segment " + std::to_string(row.id) + " (" + fixed.tenant + ", partition " +
                            std::to_string(fixed.partition) + ", " + std::to_string(fixed.rows) +
                            " rows) at " + bad->full + " does not verify: " +
                            bad->error.ToString() + "; marked corrupt, the file is kept");
      }
      if (!Diff(row, fixed).empty()) repairs.push_back(fixed);
      live[{fixed.tenant, fixed.partition}].push_back(
          Live{fixed.id, fixed.min_seq, fixed.max_seq, fixed.store, bad->rel, false});
      continue;
    }
    // A row whose id is damaged: a verified file without a row of its own holds exactly the
    // segment the row describes (tenant, partition, seq range, rows). The row takes its id.
    FoundFile* same = nullptr;
    for (FoundFile& f : files) {
      if (f.verified && !f.claimed && !f.temporary && !row_ids.count(f.row.id) &&
          f.row.tenant == row.tenant && f.row.partition == row.partition &&
          f.row.min_seq == row.min_seq && f.row.max_seq == row.max_seq && f.row.rows == row.rows) {
        same = &f;
        break;
      }
    }
    if (same != nullptr) {
      same->claimed = true;
      const SegmentRow truth = RowFromFile(*same, row);
      RETURN_IF_ERROR(catalog->Replace({row.id}, {truth}));
      row_ids.insert(truth.id);
      taken_ids.insert(truth.id);
      ++report.rows_repaired;
      note("row_repaired", "segment " + std::to_string(row.id) + ": the catalog row carried a " +
                               "damaged id; its file " + same->full + " is segment " +
                               std::to_string(truth.id) + " with the same tenant, partition, " +
                               "seq range and rows; the row now says " + std::to_string(truth.id));
      live[{truth.tenant, truth.partition}].push_back(LiveOf(truth, same->rel));
      continue;
    }
    if (row.state == kStateMissing) continue;
    RETURN_IF_ERROR(catalog->SetState(row.id, kStateMissing));
    ++report.rows_missing_file;
    note("missing_file", "segment " + std::to_string(row.id) + " (" + row.tenant + ", partition " +
                             std::to_string(row.partition) + ", " + std::to_string(row.rows) +
                             " rows) has no file at " + stored +
                             " nor anywhere under the data directory; marked missing");
  }
  if (!repairs.empty()) RETURN_IF_ERROR(catalog->Update(repairs));

  // Segments retention deleted (catalog first, then the file).
  std::map<uint64_t, RetiredSegmentRow> retired;
  {
    ASSIGN_OR_RETURN(std::vector<RetiredSegmentRow> list, catalog->ListRetiredSegments());
    for (RetiredSegmentRow& r : list) retired.emplace(r.id, std::move(r));
  }

  // Verified files without a row, in id order, so that compaction inputs are decided before
  // their output.
  std::vector<FoundFile*> orphans;
  for (FoundFile& f : files) {
    if (f.verified && (!f.claimed || restores.count(&f))) orphans.push_back(&f);
  }
  std::sort(orphans.begin(), orphans.end(), [](const FoundFile* a, const FoundFile* b) {
    return std::tie(a->row.id, a->rel) < std::tie(b->row.id, b->rel);
  });
  for (FoundFile* o : orphans) {
    o->claimed = true;
    const SegmentRow& r = o->row;
    auto restore = restores.find(o);
    std::vector<const Live*> overlapping;
    auto& list = live[{r.tenant, r.partition}];
    for (const Live& l : list) {
      if (r.min_seq <= l.max_seq && l.min_seq <= r.max_seq) overlapping.push_back(&l);
    }
    const std::string what = o->full + " (segment " + std::to_string(r.id) + " of " + r.tenant +
                             ", partition " + std::to_string(r.partition) + ", " +
                             std::to_string(r.rows) + " rows)";
    if (auto gone = retired.find(r.id);
        gone != retired.end() && restore == restores.end() && gone->second.tenant == r.tenant &&
        gone->second.partition == r.partition && gone->second.min_seq == r.min_seq &&
        gone->second.max_seq == r.max_seq) {
      // Retention retired it in the catalog; the crash came before its bytes were deleted.
      Status s = o->where->store->Delete(o->rel);
      ++report.retired_deleted;
      note("retired_deleted", what + " was deleted by retention (the catalog says so since " +
                                  "its retirement); the file was left by a crash; deleted" +
                                  (s.ok() ? "" : " (failed: " + s.ToString() + ")"));
      continue;
    }
    std::string why;
    const Overlap overlap = Classify(ops, *o, overlapping, &why);
    if (overlap == Overlap::kSuperseded) {
      Status s = o->where->store->Delete(o->rel);
      ++report.orphans_deleted;
      note("orphan_deleted", what + " has no catalog row and " + why + "; deleted as superseded" +
                                 (s.ok() ? "" : " (failed: " + s.ToString() + ")"));
      continue;
    }
    if (sweep) continue;  // registration and quarantine only at start-up
    if (overlap == Overlap::kAmbiguous) {
      quarantine(*o, "has no catalog row and " + why);
      continue;
    }
    if (o->temporary) {
      quarantine(*o, "is an unfinished write that verifies and holds rows no segment has");
      continue;
    }
    if (restore == restores.end() && taken_ids.count(r.id)) {
      quarantine(*o, "has no catalog row and its id belongs to another segment");
      continue;
    }
    SegmentRow row = restore != restores.end() ? restore->second : r;
    row.path = o->rel;
    row.tier = o->tier;
    row.store = o->where->name;
    row.state = std::string(kStateActive);
    if (row.created_ns == 0) row.created_ns = now_ns;
    if (restore != restores.end()) {
      RETURN_IF_ERROR(catalog->Update({row}));
      ++report.rows_repaired;
      note("row_restored", "segment " + std::to_string(r.id) + " was marked missing and its file " +
                               o->full + " is back; active again");
    } else {
      RETURN_IF_ERROR(catalog->Insert(row));
      taken_ids.insert(row.id);
      ++report.orphans_registered;
      note("orphan_registered", what + " had no catalog row; registered from its own identity");
    }
    list.push_back(Live{row.id, row.min_seq, row.max_seq, row.store, o->rel, true});
  }
  if (sweep) return report;

  for (FoundFile& f : files) {
    if (f.claimed) continue;
    quarantine(f, "has no catalog row and does not verify (" + f.error.ToString() + ")");
  }
  for (const ReconcileStore& where : stores) {
    ASSIGN_OR_RETURN(std::vector<std::string> unfinished,
                     where.store->ListIncomplete(where.tier.empty() ? where.prefix : ""));
    for (const std::string& name : unfinished) {
      Status s = where.store->DeleteIncomplete(name);
      ++report.temporaries_deleted;
      note("temporary_deleted", where.store->Location(name) +
                                    " is an unfinished write; its records are still in the WAL "
                                    "or in the segments it was written from; deleted" +
                                    (s.ok() ? "" : " (failed: " + s.ToString() + ")"));
    }
  }
  if (report.max_file_id > 0) RETURN_IF_ERROR(catalog->ReserveIds(report.max_file_id));
  if (report.messages.empty()) {
    spdlog::info("catalog reconciliation: {} segments, {} files, all consistent", rows.size(),
                 files.size());
  }
  return report;
}

}  // namespace sawmill::catalog
