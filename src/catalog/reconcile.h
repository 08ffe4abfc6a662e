// Start-up reconciliation of the catalog with the segment files on disk.
//
// The segment files are the truth: each one says who it is (id, tenant, partition, seq range,
// rows; format 2 in its header and its footer, both under a CRC32C). The catalog is an index of
// them, and reconciliation makes it agree:
//  - Every file under DIR/segments is opened and verified. A catalog row is matched to the file
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
//  - An unfinished write (`*.tmp`) that does not verify is deleted: its records are still in
//    the WAL, which is only trimmed after a segment is registered.
// Every finding is logged (spdlog) and counted in sawmill_catalog_reconcile_total{kind}.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/env.h"
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

// How reconciliation reads segment files (the catalog does not depend on the segment format).
struct SegmentFileOps {
  // Opens and verifies the segment at "path" and returns the row its footer describes (id,
  // tenant, partition, seqs, times, rows, bytes = file size, raw_bytes; path, tier, state and
  // created are filled in by the caller). Errors: whatever opening the segment gives.
  std::function<Result<SegmentRow>(const std::string& path)> read_row;
  // Only the identity (id, tenant, partition, seqs, rows), from a part of the file that stays
  // readable when the footer is damaged. Errors: when the file has no readable identity.
  std::function<Result<SegmentRow>(const std::string& path)> read_identity;
  // Every seq the segment holds. Errors: DataLoss when a block does not verify.
  std::function<Result<std::vector<uint64_t>>(const std::string& path)> read_seqs;
};

// "data_dir" is DIR: segment files are at DIR/segments/<tier>/<tenant>/<partition>/<id>.seg,
// quarantined ones go to DIR/quarantine/<tier>/<tenant>/<partition>/. Only rows in the local
// store (kLocalStore, the data directory) are reconciled; rows in other stores are left as they
// are. Files found are registered in the local store.
// Errors: only when the catalog cannot be read or written.
Result<ReconcileReport> Reconcile(Env* env, const std::string& data_dir, Catalog* catalog,
                                  const SegmentFileOps& ops, int64_t now_ns);

// The absolute (or DIR-relative) file name of a row's path: relative paths are joined to
// "data_dir", absolute ones (catalogs written before paths were relative) are returned as they are.
std::string ResolveSegmentPath(const std::string& data_dir, const std::string& path);

}  // namespace sawmill::catalog
