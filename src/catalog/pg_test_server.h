// For tests run against the ctest fixture "pg_server" (a private PostgreSQL on loopback started
// by scripts/pg-test-server.sh; see src/catalog/CMakeLists.txt): they are compiled with
// SAWMILL_PG_TEST_DIR, the fixture's directory, and read its URL from there.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <fstream>
#include <string>

namespace sawmill::catalog {

// The fixture's connection URL (empty, and a test failure saying why, outside ctest).
inline std::string PgTestUrl() {
  std::ifstream in(std::string(SAWMILL_PG_TEST_DIR) + "/url");
  std::string url;
  std::getline(in, url);
  EXPECT_FALSE(url.empty()) << "no PostgreSQL URL in " << SAWMILL_PG_TEST_DIR
                            << "/url: run through ctest (fixture pg_server)";
  return url;
}

// Runs one statement that returns no rows on the fixture's server, on a connection of its own.
inline void PgTestSql(const std::string& sql) {
  PGconn* conn = PQconnectdb(PgTestUrl().c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << sql << ": " << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
}

// Drops and creates "schema" on the fixture's server and returns a URL whose connections use it
// (search_path), so that each test has a catalog of its own on the one server.
inline std::string PgTestSchemaUrl(const std::string& schema) {
  PgTestSql("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  PgTestSql("CREATE SCHEMA " + schema);
  const std::string url = PgTestUrl();
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

}  // namespace sawmill::catalog
