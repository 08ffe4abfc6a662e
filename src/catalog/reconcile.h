// Reconciliation of the catalog with the segment objects in the object stores (the data
// directory's local store, and the cold store), at start-up and, in the "sweep" mode, while the
// server runs.
//
// The segment files are the truth: each one says who it is (id, tenant, partition, seq range,
// rows; format 2 in its header and its footer, both under a CRC32C). The catalog is an index of
// them, and reconciliation makes it agree:
//  Everything below goes through the ObjectStore interface (list, ranged reads, delete, copy):
//  "file" means an object, and a file's path its name in its store.
//  - Every object under the store's prefix (local: "segments/") is opened and verified; an
//    object in a store marked trust_named whose name and id are those of a row is taken as it
//    is (a cold store: the transition verified it, and reading every footer of a remote store at
//    each start costs a request per object). A catalog row is matched to the file
//    whose footer carries its id, wherever it lies, so a row with a damaged path (or a data
//    directory that was renamed, moved or restored elsewhere) finds its file. Columns that
//    disagree with the file are rewritten from it and logged; paths are stored relative to DIR.
//  - A row whose file exists but does not verify (bad magic, footer, truncated) is marked
//    "corrupt" and kept; the file is never deleted.
//  - A row with no file at all is marked "missing" (no longer queried); its records come back
//    from the WAL if the WAL still holds them.
//  - A verified file with no row: if none of its seqs is in a registered segment it is
//    registered again (a flush that crashed before its catalog insert, or a lost row). If every
//    one of its seqs is in verified, active registered segments of its (tenant, partition) it
//    is proven superseded (a compaction input or output whose swap did or did not commit, or a
//    copy) and deleted. Anything in between, and any other file that does not verify, is moved
//    to DIR/quarantine/ for an operator.
//  - An unfinished write (ObjectStore::ListIncomplete: a `*.tmp` file of the local store) is
//    deleted without being read: every writer of segments registers (or retires its source) only
//    after its write is committed, so the records of an uncommitted one are still in the WAL
//    (a flush: the WAL is only trimmed after the segment is registered) or in the registered
//    segments it was made from (a compaction, a tier transition).
//  - Sweep mode (ReconcileOptions::sweep, run periodically while the server runs): only the
//    deletions of proven superseded objects, and only of objects "skip" does not protect (writes
//    in flight, replaced segments a query still reads); nothing is registered, repaired,
//    quarantined, and unfinished writes are left alone.
// Every finding is logged (spdlog) and counted in sawmill_catalog_reconcile_total{kind}.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/env.h"
#include "objstore/object_store.h"
#include "sawmill/status.h"

namespace sawmill::catalog {

struct ReconcileReport {
  uint64_t rows_missing_file = 0;    // rows marked missing
  uint64_t rows_repaired = 0;        // rows rewritten from their file (path, identity, sizes)
  uint64_t orphans_registered = 0;   // files registered
  uint64_t orphans_deleted = 0;      // files deleted as proven superseded
  uint64_t quarantined = 0;          // files moved to DIR/quarantine/
  uint64_t temporaries_deleted = 0;  // unfinished *.tmp writes deleted
  uint64_t retired_deleted = 0;      // files of segments retention retired, left by a crash
  uint64_t max_file_id = 0;          // highest segment id seen in a file name or identity
  // Rows newly marked corrupt: (segment id, why).
  std::vector<std::pair<uint64_t, std::string>> corrupt;
  std::vector<std::string> messages;  // one line per finding
};

// How reconciliation reads segment objects (the catalog does not depend on the segment format).
// Each takes the store's name (ReconcileStore::name) and the object's name in it.
struct SegmentFileOps {
  // Opens and verifies the segment and returns the row its footer describes (id, tenant,
  // partition, seqs, times, rows, bytes = object size, raw_bytes; path, tier, store, state and
  // created are filled in by the caller). Errors: whatever opening the segment gives.
  std::function<Result<SegmentRow>(const std::string& store, const std::string& name)> read_row;
  // Only the identity (id, tenant, partition, seqs, rows), from a part of the object that stays
  // readable when the footer is damaged. Errors: when it has no readable identity.
  std::function<Result<SegmentRow>(const std::string& store, const std::string& name)>
      read_identity;
  // Every seq the segment holds. Errors: DataLoss when a block does not verify.
  std::function<Result<std::vector<uint64_t>>(const std::string& store, const std::string& name)>
      read_seqs;
};

// One object store whose segments are reconciled with the rows that name it.
struct ReconcileStore {
  std::string name;  // as in SegmentRow::store ("local", "cold")
  objstore::ObjectStore* store = nullptr;
  // The segments are the objects under this prefix. The local store: "segments/", and names
  // are "segments/<tier>/<tenant>/<partition>/<id>.seg" (the tier is the second component).
  // Otherwise (tier non-empty): every object "<tenant>/<id>.seg" except under ".quarantine/".
  std::string prefix;
  std::string tier;  // "" : from the name (local store); else the tier of every object
  // Objects named by a row (name and id) are not read (see above).
  bool trust_named = false;
};

struct ReconcileOptions {
  // Sweep mode (see above).
  bool sweep = false;
  // Sweep mode: objects not to touch (writes in flight, replaced segments still being read).
  std::function<bool(const std::string& store, const std::string& name)> skip;
};

// Reconciles the rows of the stores in "stores" with their objects. Quarantined objects go to
// "quarantine/<name without the prefix>" of the local store (DIR/quarantine/<tier>/...), and
// ".quarantine/<name>" of a tier store. Rows in a store not listed are left as
// they are. Files found are registered in the store they were found in.
// Errors: only when the catalog cannot be read or written, or a store cannot be listed.
Result<ReconcileReport> Reconcile(const std::vector<ReconcileStore>& stores, Catalog* catalog,
                                  const SegmentFileOps& ops, int64_t now_ns,
                                  const ReconcileOptions& options = {});

// The absolute (or DIR-relative) file name of a row's path: relative paths are joined to
// "data_dir", absolute ones (catalogs written before paths were relative) are returned as they are.
std::string ResolveSegmentPath(const std::string& data_dir, const std::string& path);

}  // namespace sawmill::catalog
