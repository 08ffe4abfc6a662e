// The engine's record of WAL damage (docs/operations.md, "WAL damage"): what WAL replay found is
// stored in the catalog, and the entries not yet acknowledged are kept in memory so that every
// search can warn without a catalog read.
#pragma once

#include <cstdint>
#include <vector>

#include "catalog/catalog.h"
#include "common/mutex.h"
#include "storage/engine.h"
#include "wal/wal_manager.h"

namespace sawmill::storage {

// CONTRACT
// Threading: thread-safe; its mutex is a leaf, and catalog calls are made without it.
// Errors: Record logs (does not return) a catalog failure: the damage is then only in the log
//   and in sawmill_wal_damage_total. List and Acknowledge return the catalog's errors, and
//   Acknowledge NotFound for an unknown id.
// Durable when a call returns: Record: the entries the catalog accepted; Acknowledge: the
//   acknowledgement (a SQLite transaction).
class WalDamageLog {
 public:
  // Stores "found" (wal::WalManager::damage_found after replay) in "catalog", first seen at
  // "now" (a torn tail that lost nothing acknowledged is stored as acknowledged), then
  // loads the catalog's unacknowledged entries.
  void Record(catalog::Catalog* catalog, const std::vector<wal::WalDamage>& found, int64_t now);
  // Every entry, oldest first, from the catalog; or only the unacknowledged ones, from memory.
  Result<std::vector<WalDamageEntry>> List(catalog::Catalog* catalog,
                                           bool unacknowledged_only) const;
  // Acknowledges entry "id" (0: all) at "now_ns"; returns how many changed.
  Result<uint64_t> Acknowledge(catalog::Catalog* catalog, uint64_t id, int64_t now_ns);

 private:
  mutable Mutex mu_;
  std::vector<WalDamageEntry> unacked_ GUARDED_BY(mu_);
};

}  // namespace sawmill::storage
