#include "ingest/field_map.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <unordered_map>

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

// Table position by name (the first entry of a name: names are unique in the table).
const std::unordered_map<std::string_view, size_t>& RankByName() {
  static const auto* ranks = [] {
    auto* map = new std::unordered_map<std::string_view, size_t>();
    for (size_t rank = 0; rank < std::size(kTable); ++rank) map->emplace(kTable[rank].name, rank);
    return map;
  }();
  return *ranks;
}

constexpr size_t kColumns = static_cast<size_t>(Column::kUserId) + 1;
constexpr size_t kNone = SIZE_MAX;

}  // namespace

std::vector<std::string_view> ColumnNames(Column column, bool labels) {
  std::vector<std::string_view> names;
  for (const Entry& entry : kTable) {
    if (entry.column == column && (labels || !entry.label_only)) names.push_back(entry.name);
  }
  return names;
}

std::optional<Column> ColumnOfName(std::string_view name, bool labels) {
  const auto& ranks = RankByName();
  auto found = ranks.find(name);
  if (found == ranks.end() || (kTable[found->second].label_only && !labels)) return std::nullopt;
  return kTable[found->second].column;
}

void ApplyFieldMap(Record* record, const FieldMapOptions& options) {
  Fields& fields = record->fields;
  if (fields.empty()) return;
  // One pass over the fields: for each column, the field of the best-ranked name.
  size_t best_rank[kColumns];
  size_t best_field[kColumns];
  std::fill(std::begin(best_rank), std::end(best_rank), kNone);
  std::fill(std::begin(best_field), std::end(best_field), kNone);
  const auto& ranks = RankByName();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].second.empty()) continue;
    auto found = ranks.find(fields[i].first);
    if (found == ranks.end()) continue;
    const Entry& entry = kTable[found->second];
    if (entry.label_only && !options.labels) continue;
    const auto column = static_cast<size_t>(entry.column);
    if (found->second < best_rank[column] ||
        (found->second == best_rank[column] && options.prefer_last)) {
      best_rank[column] = found->second;
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
