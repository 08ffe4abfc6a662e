// The catalog (catalog.h) in PostgreSQL: the shared catalog of issue 20 (docs/cluster.md), and a
// choice for a single node whose operators already run PostgreSQL (docs/operations.md,
// "Catalog in PostgreSQL").
//
// Durability: a call that changes something is one PostgreSQL transaction; it returns OK after
// COMMIT succeeded, so the change is as durable as the server's settings make a commit
// (synchronous_commit on, the default). A connection lost before COMMIT's answer leaves the
// outcome unknown: the call returns Unavailable and the caller retries, which every caller of a
// catalog already does for Unavailable (an allocated id that was committed after all is skipped;
// Replace and Update are checked by reconciliation).
//
// Connections: one per catalog object, calls serialised. A broken connection is re-opened on the
// next call; the call that found it broken returns Unavailable.
//
// Sharing: with "exclusive" (the server's setting until cluster mode lands) the catalog holds a
// PostgreSQL advisory lock for the life of its connection, so a second server on the same
// catalog refuses to start, as a second server on the same data directory does. Without it,
// several catalog objects (in this process or others) share the tables: ids are allocated under
// a row lock, and changes to the retention record are serialised by a transaction-level
// advisory lock, so the contract's promises hold across processes.
//
// Text columns are PostgreSQL `text`: strings must be valid in the database's encoding (UTF-8)
// and hold no NUL byte; an invalid one is InvalidArgument and nothing is stored.
#pragma once

#include <memory>
#include <string>

#include "catalog/catalog.h"
#include "sawmill/status.h"

namespace sawmill::catalog {

struct PgCatalogOptions {
  // The PostgreSQL schema that holds the tables (created if missing); "" means the connection's
  // default search_path (normally "public"). Lets several catalogs live in one database (tests).
  std::string schema = std::string();
  // Hold the catalog exclusively (see "Sharing" above).
  bool exclusive = false;
  // Seconds to wait for a connection (libpq's connect_timeout).
  int connect_timeout_s = 10;
  // The connection's application_name, as pg_stat_activity shows it (e.g. a node's name).
  std::string application_name = "sawmill";
};

// True when "location" names a PostgreSQL catalog (postgresql:// or postgres:// URL).
bool IsPostgresUrl(const std::string& location);

// Connects to "url" (a libpq connection URL, e.g. postgresql://user@127.0.0.1:5432/sawmill) and
// creates the tables that are missing.
// Errors: Unavailable when the server cannot be reached (the message names host and port, never
// a password); FailedPrecondition when "exclusive" and another process holds the catalog, or the
// tables were written by a newer build; IOError for other server errors.
Result<std::unique_ptr<Catalog>> OpenPostgresCatalog(const std::string& url,
                                                     const PgCatalogOptions& options = {});

// Whether a server on its own (`sawmill server --catalog postgresql://...` without --store) holds
// the catalog at "url" now: its exclusive lock ("Sharing" above) is taken. Probed on a connection
// of its own, which looks for the lock in pg_locks and never takes it (a server starting at that
// moment is not refused); "options.exclusive" is ignored. Errors: as OpenPostgresCatalog's
// connection.
Result<bool> PostgresCatalogHeldExclusively(const std::string& url,
                                            const PgCatalogOptions& options = {});

// A catalog by location: a PostgreSQL URL opens OpenPostgresCatalog (exclusive), anything else
// is a SQLite file path (OpenSqliteCatalog).
Result<std::unique_ptr<Catalog>> OpenCatalog(const std::string& location);

// The URL with any password replaced by "***", for logs and messages.
std::string RedactPostgresUrl(const std::string& url);

}  // namespace sawmill::catalog
