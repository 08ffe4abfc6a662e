// A prepared SQLite statement, finalised on scope exit: the one wrapper the catalog's tables use
// (sqlite_catalog.cc, sqlite_damage.cc). Internal to src/catalog/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sawmill::catalog {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  Stmt(sqlite3* db, const std::string& sql) : Stmt(db, sql.c_str()) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
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
};

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
