#include "storage/wal_damage_log.h"

#include <spdlog/spdlog.h>

#include <string>

namespace sawmill::storage {
namespace {

WalDamageEntry EntryFromRow(const catalog::DamageRow& row) {
  WalDamageEntry e;
  e.id = row.id;
  e.file = row.file;
  e.offset = row.offset;
  e.bytes = row.bytes;
  e.kind = row.kind;
  e.detail = row.detail;
  e.acknowledged_loss = row.acknowledged_loss;
  e.range_known = row.range_known;
  e.min_ts = row.min_ts;
  e.max_ts = row.max_ts;
  e.min_ingest_ts = row.min_ingest_ts;
  e.max_ingest_ts = row.max_ingest_ts;
  e.first_seen_ns = row.first_seen_ns;
  e.acked_ns = row.acked_ns;
  return e;
}

}  // namespace

void WalDamageLog::Record(catalog::Catalog* catalog, const std::vector<wal::WalDamage>& found,
                          int64_t now) {
  for (const wal::WalDamage& d : found) {
    catalog::DamageRow row;
    row.file = d.file;
    row.offset = d.offset;
    row.bytes = d.bytes;
    row.kind = d.kind;
    row.detail = d.detail;
    row.acknowledged_loss = d.acknowledged_loss;
    row.range_known = d.range_known;
    row.min_ts = d.min_ts;
    row.max_ts = d.max_ts;
    row.min_ingest_ts = d.min_ingest_ts;
    row.max_ingest_ts = d.max_ingest_ts;
    row.first_seen_ns = now;
    // A torn tail past the synced size lost nothing acknowledged: kept as history only.
    if (!d.acknowledged_loss) row.acked_ns = now;
    auto stored = catalog->RecordDamage(row);
    if (!stored.ok()) {
      spdlog::error("cannot record WAL damage in the catalog ({}): {}", stored.status().ToString(),
                    d.detail);
    } else if (stored->second) {
      spdlog::warn(
          "WAL damage recorded as entry {}; acknowledge it with `sawmill admin damage "
          "ack {}` once handled",
          stored->first, stored->first);
    }
  }
  auto rows = catalog->ListDamage();
  if (!rows.ok()) {
    spdlog::error("cannot list WAL damage: {}", rows.status().ToString());
    return;
  }
  MutexLock l(&mu_);
  unacked_.clear();
  for (const catalog::DamageRow& row : *rows) {
    if (row.acked_ns == 0) unacked_.push_back(EntryFromRow(row));
  }
  if (!unacked_.empty()) {
    spdlog::warn(
        "{} unacknowledged WAL damage entries: searches over their time ranges warn "
        "(sawmill admin damage list)",
        unacked_.size());
  }
}

Result<std::vector<WalDamageEntry>> WalDamageLog::List(catalog::Catalog* catalog,
                                                       bool unacknowledged_only) const {
  if (unacknowledged_only) {
    MutexLock l(&mu_);
    return unacked_;
  }
  ASSIGN_OR_RETURN(std::vector<catalog::DamageRow> rows, catalog->ListDamage());
  std::vector<WalDamageEntry> out;
  out.reserve(rows.size());
  for (const catalog::DamageRow& row : rows) out.push_back(EntryFromRow(row));
  return out;
}

Result<uint64_t> WalDamageLog::Acknowledge(catalog::Catalog* catalog, uint64_t id, int64_t now_ns) {
  ASSIGN_OR_RETURN(uint64_t changed, catalog->AcknowledgeDamage(id, now_ns));
  MutexLock l(&mu_);
  std::erase_if(unacked_, [id](const WalDamageEntry& e) { return id == 0 || e.id == id; });
  if (changed > 0)
    spdlog::info("WAL damage acknowledged: {}", id == 0 ? std::string("all") : std::to_string(id));
  return changed;
}

}  // namespace sawmill::storage
