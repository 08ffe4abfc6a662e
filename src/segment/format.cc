#include "segment/format.h"

namespace sawmill::segment {

std::string_view ColumnName(ColumnId id) {
  switch (id) {
    case ColumnId::kTs: return "ts";
    case ColumnId::kIngestTs: return "ingest_ts";
    case ColumnId::kSeq: return "seq";
    case ColumnId::kService: return "service";
    case ColumnId::kHost: return "host";
    case ColumnId::kLevel: return "level";
    case ColumnId::kTraceId: return "trace_id";
    case ColumnId::kSpanId: return "span_id";
    case ColumnId::kUserId: return "user_id";
    case ColumnId::kMessage: return "message";
    case ColumnId::kFlags: return "flags";
    case ColumnId::kFieldLayout: return "_field_layout";
    case ColumnId::kFieldOverflow: return "_field_overflow";
    case ColumnId::kBuiltinCount: break;
    case ColumnId::kDynamic: return "field";
  }
  return "unknown";
}

}  // namespace sawmill::segment
