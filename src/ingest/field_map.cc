#include "ingest/field_map.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <string>

#include "ingest/timestamp_internal.h"

namespace sawmill::ingest {

namespace {

struct Entry {
  Column column;
  std::string_view name;
  bool label_only = false;
};

// Precedence within a column is the order here: ECS's dotted names first, then the plain and
// camel-case spellings shippers and logging libraries use.
constexpr Entry kTable[] = {
    {Column::kTimestamp, "@timestamp"}, {Column::kTimestamp, "timestamp"},
    {Column::kTimestamp, "time"},       {Column::kTimestamp, "ts"},
    {Column::kMessage, "message"},      {Column::kMessage, "msg"},
    {Column::kMessage, "log"},          {Column::kLevel, "log.level"},
    {Column::kLevel, "level"},          {Column::kLevel, "detected_level"},
    {Column::kLevel, "severity"},       {Column::kLevel, "lvl"},
    {Column::kLevel, "loglevel"},       {Column::kLevel, "log_level"},
    {Column::kService, "service.name"}, {Column::kService, "service_name"},
    {Column::kService, "service"},      {Column::kService, "app"},
    {Column::kService, "application"},  {Column::kService, "job", true},
    {Column::kHost, "host.name"},       {Column::kHost, "host.hostname"},
    {Column::kHost, "hostname"},        {Column::kHost, "host"},
    {Column::kHost, "instance", true},  {Column::kHost, "node", true},
    {Column::kTraceId, "trace.id"},     {Column::kTraceId, "trace_id"},
    {Column::kTraceId, "traceId"},      {Column::kTraceId, "traceID"},
    {Column::kTraceId, "trace-id"},     {Column::kSpanId, "span.id"},
    {Column::kSpanId, "span_id"},       {Column::kSpanId, "spanId"},
    {Column::kSpanId, "spanID"},        {Column::kSpanId, "span-id"},
    {Column::kUserId, "user.id"},       {Column::kUserId, "user_id"},
    {Column::kUserId, "userId"},        {Column::kUserId, "enduser.id"},
};

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kColumns = static_cast<size_t>(Column::kUserId) + 1;
constexpr size_t kNone = SIZE_MAX;
constexpr size_t kMaxNameLength = 16;
constexpr size_t kMaxPerLength = 12;

// Table position by name (names are unique in the table), or kNone. Every key of every line is
// looked up, most of them not in the table: candidates are found by length, and a byte loop
// compares them (cheaper than hashing each key and calling memcmp on a hit).
size_t RankOf(std::string_view name) {
  struct ByLength {
    uint8_t ranks[kMaxPerLength];
    uint8_t count = 0;
  };
  static const auto* by_length = [] {
    auto* table = new std::array<ByLength, kMaxNameLength + 1>();
    for (size_t rank = 0; rank < std::size(kTable); ++rank) {
      ByLength& slot = (*table)[kTable[rank].name.size()];
      slot.ranks[slot.count++] = static_cast<uint8_t>(rank);
    }
    return table;
  }();
  if (name.empty() || name.size() > kMaxNameLength) return kNone;
  const ByLength& slot = (*by_length)[name.size()];
  for (uint8_t i = 0; i < slot.count; ++i) {
    std::string_view candidate = kTable[slot.ranks[i]].name;
    size_t k = 0;
    while (k < name.size() && candidate[k] == name[k]) ++k;
    if (k == name.size()) return slot.ranks[i];
  }
  return kNone;
}

// The table fits the lookup above: every name at most kMaxNameLength bytes, at most kMaxPerLength
// of a length.
constexpr bool TableFitsRankOf() {
  size_t counts[kMaxNameLength + 1] = {};
  for (const Entry& entry : kTable) {
    if (entry.name.empty() || entry.name.size() > kMaxNameLength) return false;
    if (++counts[entry.name.size()] > kMaxPerLength) return false;
  }
  return std::size(kTable) < 256;
}
static_assert(TableFitsRankOf(), "field-mapping table: a name is too long or a length too common");

}  // namespace

std::vector<std::string_view> ColumnNames(Column column, bool labels) {
  std::vector<std::string_view> names;
  for (const Entry& entry : kTable) {
    if (entry.column == column && (labels || !entry.label_only)) names.push_back(entry.name);
  }
  return names;
}

std::optional<Column> ColumnOfName(std::string_view name, bool labels) {
  const size_t rank = RankOf(name);
  if (rank == kNone || (kTable[rank].label_only && !labels)) return std::nullopt;
  return kTable[rank].column;
}

void ApplyFieldMap(Record* record, const FieldMapOptions& options) {
  Fields& fields = record->fields;
  if (fields.empty()) return;
  // One pass over the fields: for each column, the field of the best-ranked name.
  size_t best_rank[kColumns];
  size_t best_field[kColumns];
  std::fill(std::begin(best_rank), std::end(best_rank), kNone);
  std::fill(std::begin(best_field), std::end(best_field), kNone);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].second.empty()) continue;
    const size_t rank = RankOf(fields[i].first);
    if (rank == kNone) continue;
    const Entry& entry = kTable[rank];
    if (entry.label_only && !options.labels) continue;
    const auto column = static_cast<size_t>(entry.column);
    if (rank < best_rank[column] || (rank == best_rank[column] && options.prefer_last)) {
      best_rank[column] = rank;
      best_field[column] = i;
    }
  }
  std::vector<size_t> taken;
  if (const size_t i = best_field[static_cast<size_t>(Column::kLevel)];
      i != kNone && record->level == Level::kUnknown) {
    if (std::optional<Level> level = LevelFromText(fields[i].second)) {
      record->level = *level;
      taken.push_back(i);
    }
  }
  for (auto [column, target] :
       {std::pair{Column::kService, &record->service}, std::pair{Column::kHost, &record->host},
        std::pair{Column::kTraceId, &record->trace_id},
        std::pair{Column::kSpanId, &record->span_id},
        std::pair{Column::kUserId, &record->user_id}}) {
    const size_t i = best_field[static_cast<size_t>(column)];
    if (i == kNone || !target->empty()) continue;
    *target = fields[i].second;
    taken.push_back(i);
  }
  if (options.keep_fields || taken.empty()) return;
  std::sort(taken.begin(), taken.end());
  for (auto it = taken.rbegin(); it != taken.rend(); ++it) {
    fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(*it));
  }
}

}  // namespace sawmill::ingest
