// A prepared SQLite statement, finalised on scope exit: the one wrapper the catalog's tables use
// (sqlite_catalog.cc, sqlite_damage.cc). Internal to src/catalog/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sawmill::catalog {

class StmtCache;

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  Stmt(sqlite3* db, const std::string& sql) : Stmt(db, sql.c_str()) {}
  // A statement of "cache" (prepared on its first use, kept for the next): reset and its
  // bindings cleared on scope exit instead of finalised.
  Stmt(StmtCache* cache, sqlite3* db, const std::string& sql);
  ~Stmt() {
    if (!cached_) {
      sqlite3_finalize(stmt_);
    } else if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  bool cached_ = false;
};

// Statements prepared once per connection and kept: for a path taken by every request (the
// audit log's append, docs/security.md "Audit log"), where SQLite parsing the same SQL again
// each time was a measurable part of a search (docs/performance.md "Id lookups"). Bounded by
// the SQL texts the code passes (constants). Not for a PRAGMA that takes effect when it is
// prepared (synchronous): stepping it again does nothing. Not thread-safe: the owner's lock
// guards it, and a statement is used by one Stmt at a time. Finalize() before closing the
// connection.
class StmtCache {
 public:
  StmtCache() = default;
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;
  ~StmtCache() { Finalize(); }

  // The statement of "sql", prepared now if it is not yet: SQLITE_OK or the prepare's error
  // (nothing kept then).
  int Get(sqlite3* db, const std::string& sql, sqlite3_stmt** out) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) {
      *out = it->second;
      return SQLITE_OK;
    }
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, out, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(*out);
      *out = nullptr;
      return rc;
    }
    stmts_.emplace(sql, *out);
    return rc;
  }
  void Finalize() {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    stmts_.clear();
  }

 private:
  std::map<std::string, sqlite3_stmt*, std::less<>> stmts_;
};

inline Stmt::Stmt(StmtCache* cache, sqlite3* db, const std::string& sql) : cached_(true) {
  rc_ = cache->Get(db, sql, &stmt_);
}

// The one row reader of the SQLite catalog: steps "st" to its end, appending read(st) for each
// row to "out". False when a step fails (the caller reports Error(...)); the rows read before
// stay in "out".
template <class Row, class Read>
bool ReadAll(Stmt& st, std::vector<Row>* out, Read read) {
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out->push_back(read(st));
  return rc == SQLITE_DONE;
}

}  // namespace sawmill::catalog
