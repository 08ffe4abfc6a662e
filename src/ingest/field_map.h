// The one table of names that fill a record's built-in columns, whatever the front door: native
// JSON keys, Elasticsearch document keys, Loki labels and structured metadata, OTLP attributes
// and syslog structured-data parameters (docs/ingest.md "Field names"). A door reads its
// protocol's own slots first (OTLP's trace id and severity, a Loki entry's timestamp, syslog's
// PRI) and then applies the table to what is left as fields.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "sawmill/record.h"

namespace sawmill::ingest {

enum class Column : uint8_t {
  kTimestamp,  // JSON-document doors only (native, Elasticsearch): others carry a protocol time
  kMessage,    // JSON-document doors only, likewise
  kLevel,
  kService,
  kHost,
  kTraceId,
  kSpanId,
  kUserId,
};

// The names of "column", in precedence order (the first one present wins). "labels" adds the
// Prometheus-convention label names Loki streams use (`job` for the service, `instance` and
// `node` for the host): as keys of a JSON document they mean other things.
std::vector<std::string_view> ColumnNames(Column column, bool labels = false);

// The column "name" fills, if any.
std::optional<Column> ColumnOfName(std::string_view name, bool labels = false);

struct FieldMapOptions {
  bool labels = false;       // see ColumnNames
  bool keep_fields = false;  // the field that filled a column stays a field too (Loki)
  bool prefer_last = false;  // of two fields with one name the later wins (Loki: metadata
                             // comes after the stream's labels and overrides them)
};

// Fills each empty column among service, host, trace_id, span_id and user_id, and an unknown
// level, from the fields: for each column the first name of ColumnNames present with a
// non-empty value. A level value that is not a level (LevelFromText) leaves the level unknown
// and the field in place. The field that filled a column is removed unless keep_fields.
// Does not touch ts and message.
void ApplyFieldMap(Record* record, const FieldMapOptions& options = {});

}  // namespace sawmill::ingest
