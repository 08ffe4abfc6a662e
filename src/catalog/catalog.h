// The segment catalog: one row per segment, in SQLite (embedded backend).
//
// Durability: the database runs in WAL journal mode with synchronous=FULL, so a committed
// transaction survives a power loss before the call returns. SQLite does its own I/O (not
// through sawmill::Env); crash tests model a crash before a commit with SetCommitHook.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::catalog {

// Segment states. "active": readable and queried. "corrupt": a block failed its checksum; still
// queried (other blocks are fine) but never compacted. "missing": the file is gone; not queried,
// kept so operators can see what was lost.
inline constexpr std::string_view kStateActive = "active";
inline constexpr std::string_view kStateCorrupt = "corrupt";
inline constexpr std::string_view kStateMissing = "missing";

struct SegmentRow {
  uint64_t id = 0;
  std::string tenant;
  uint32_t partition = 0;
  int64_t min_ts = 0, max_ts = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
  uint64_t min_seq = 0, max_seq = 0;
  uint64_t rows = 0;
  uint64_t bytes = 0;      // file size
  uint64_t raw_bytes = 0;  // message and field bytes held
  std::string tier = "hot";
  // Relative to the data directory ("segments/hot/<tenant>/<partition>/<id>.seg"), so that the
  // directory can be named differently, moved or restored elsewhere. Catalogs written before
  // schema version 2 hold absolute paths; reconciliation rewrites them (docs/storage.md).
  std::string path;
  std::string state = std::string(kStateActive);
  int64_t created_ns = 0;

  friend bool operator==(const SegmentRow&, const SegmentRow&) = default;
};

// Damage found in the write-ahead log (docs/operations.md, "WAL damage"): kept until an
// operator acknowledges it, and after (as history). Separate table "wal_damage".
struct DamageRow {
  uint64_t id = 0;   // assigned by RecordDamage
  std::string file;  // WAL file name, relative to DIR/wal
  uint64_t offset = 0;
  uint64_t bytes = 0;
  std::string kind;  // as wal::WalDamage::kind
  std::string detail;
  bool acknowledged_loss = true;  // false: provably nothing acknowledged was lost
  bool range_known = false;       // false: may concern any time
  int64_t min_ts = 0, max_ts = 0;
  int64_t min_ingest_ts = 0, max_ingest_ts = 0;
  int64_t first_seen_ns = 0;
  int64_t acked_ns = 0;  // 0: not acknowledged
  friend bool operator==(const DamageRow&, const DamageRow&) = default;
};

// A recent Idempotency-Key (table idempotency_keys): written once the batch it came with is in
// segments, before the WAL files that held it are deleted; see docs/api.md.
struct IdempotencyKeyRow {
  std::string tenant;
  std::string key;
  uint64_t body_hash = 0;
  std::string answer;
  uint64_t first_seq = 0;
  uint64_t count = 0;
  int64_t created_ns = 0;

  friend bool operator==(const IdempotencyKeyRow&, const IdempotencyKeyRow&) = default;
};

struct ListFilter {
  std::optional<std::string> tenant;
  std::optional<uint32_t> partition;
  // Only rows in these states; empty means every state.
  std::vector<std::string> states;
};

// Thread-safe: one connection, calls serialised.
class Catalog {
 public:
  // Opens or creates the database at "path" (its directory must exist).
  // Errors: IOError when SQLite cannot open or set up the file, naming it.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& path);
  ~Catalog();

  // Adds a row. Errors: AlreadyExists for a duplicate id; IOError from SQLite.
  Status Insert(const SegmentRow& row);
  // In one transaction: deletes the rows "removed" and inserts "added". Readers see the old set
  // or the new one, never a mix. Errors: NotFound if a removed row does not exist (nothing
  // changes); IOError.
  Status Replace(const std::vector<uint64_t>& removed, const std::vector<SegmentRow>& added);
  // Errors: NotFound for an unknown id.
  Status SetState(uint64_t id, std::string_view state);
  // Rewrites every column of each row (matched by id) in one transaction: reconciliation's
  // repairs from the segment files. Errors: NotFound if a row does not exist (nothing changes).
  Status Update(const std::vector<SegmentRow>& rows);
  // Raises the highest id ever used to at least "id", so that ids seen only in files (for
  // example quarantined ones) are never handed out again.
  Status ReserveIds(uint64_t id);
  Status Delete(uint64_t id);

  // Rows matching "filter", ordered by id, read in one transaction (a consistent snapshot).
  Result<std::vector<SegmentRow>> List(const ListFilter& filter = {}) const;
  Result<std::optional<SegmentRow>> Get(uint64_t id) const;
  // The highest id ever stored in the catalog (ids are never reused), 0 if none.
  Result<uint64_t> MaxId() const;

  // WAL damage (separate table; implemented in damage.cc). RecordDamage stores "row" unless the
  // same damage (file, offset, kind, bytes) is stored already, and returns its id and whether
  // it is new; "acked_ns" non-zero stores it as acknowledged already.
  Result<std::pair<uint64_t, bool>> RecordDamage(const DamageRow& row);
  // Every damage row, oldest first.
  Result<std::vector<DamageRow>> ListDamage() const;
  // Acknowledges damage "id" (0: every unacknowledged one) at "now_ns"; returns how many rows
  // changed. Errors: NotFound for an unknown id.
  Result<uint64_t> AcknowledgeDamage(uint64_t id, int64_t now_ns);

  // In one transaction: stores "rows" (replacing rows of the same tenant and key), then deletes
  // the rows created before "expire_before_ns" and, past "max_rows", the oldest. Returns how
  // many rows were deleted for being past "max_rows" (younger than the window).
  Result<uint64_t> PutIdempotencyKeys(const std::vector<IdempotencyKeyRow>& rows,
                                      int64_t expire_before_ns, uint64_t max_rows);
  // The newest "max_rows" rows created at or after "created_since_ns", oldest first.
  Result<std::vector<IdempotencyKeyRow>> ListIdempotencyKeys(int64_t created_since_ns,
                                                             uint64_t max_rows) const;

  // Test hook, run before every commit: a non-OK status rolls the transaction back and is
  // returned. Crash tests use it to model a process that died before the commit.
  void SetCommitHook(std::function<Status()> hook);

  const std::string& path() const { return path_; }

 private:
  Catalog(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Exec(const char* sql) const;          // REQUIRES: mu_ held
  Status Error(std::string_view what) const;   // REQUIRES: mu_ held
  Status InsertLocked(const SegmentRow& row);  // REQUIRES: mu_ held, in a transaction
  Status CommitLocked();                       // REQUIRES: mu_ held, in a transaction
  Status EnsureDamageTableLocked() const;      // REQUIRES: mu_ held

  mutable std::mutex mu_;
  sqlite3* db_;  // GUARDED_BY(mu_)
  std::string path_;
  std::function<Status()> commit_hook_;  // GUARDED_BY(mu_)
};

}  // namespace sawmill::catalog
