// Start-up reconciliation of the catalog with the segment files on disk.
//
//  - A row whose file is gone is marked "missing" (no longer queried); its records come back
//    from the WAL if the WAL still holds them.
//  - A file without a row is read: if it is intact and its seq range overlaps no registered
//    segment of its (tenant, partition), it is the output of a flush that crashed before its
//    catalog insert, and is registered. Otherwise (unreadable, a temporary file, or a compaction
//    output or input whose swap did or did not commit) it is deleted: its records are in a
//    registered segment or still in the WAL.
// Every finding is logged (spdlog) and counted in sawmill_catalog_reconcile_total{kind}.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/env.h"
#include "sawmill/status.h"

namespace sawmill::catalog {

struct ReconcileReport {
  uint64_t rows_missing_file = 0;     // rows marked missing
  uint64_t orphans_registered = 0;    // files registered
  uint64_t orphans_deleted = 0;       // files deleted
  uint64_t max_file_id = 0;           // highest segment id seen in a file name
  std::vector<std::string> messages;  // one line per finding
};

// Reads the row a segment file describes (id, tenant, partition, seqs, times, sizes; path and
// tier are filled in by the caller). Errors: whatever opening the segment gives.
using ReadSegmentRowFn = std::function<Result<SegmentRow>(const std::string& path)>;

// "segments_root" is DIR/segments; files are at <root>/<tier>/<tenant>/<partition>/<id>.seg.
// Errors: only when the catalog cannot be read or written.
Result<ReconcileReport> Reconcile(Env* env, const std::string& segments_root, Catalog* catalog,
                                  const ReadSegmentRowFn& read_row, int64_t now_ns);

}  // namespace sawmill::catalog
