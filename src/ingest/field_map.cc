#include "ingest/field_map.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
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
constexpr size_t kMaxNameLength = 15;  // the 16th byte of a packed name holds its length
constexpr size_t kSlots = 256;         // open addressing over the table's ~40 names: most keys that
                                       // are not in the table hit an empty slot at once

// A name of at most 15 bytes as two words: its bytes zero-padded, its length in the last byte
// (so "a" and "a\\0" differ). Compared and hashed a word at a time.
struct Packed {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Packed&) const = default;
};

inline uint64_t Load(const char* p, size_t n) {  // n <= 8 bytes, little-endian, zero-padded
  uint64_t v = 0;
  if (n >= 4) {  // two overlapping 4-byte loads instead of a call to memcpy
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    return a | (static_cast<uint64_t>(b) << (8 * (n - 4)));
  }
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

inline Packed Pack(std::string_view name) {
  const size_t n = name.size();  // at most kMaxNameLength (15)
  Packed packed;
  packed.lo = Load(name.data(), n < 8 ? n : 8);
  if (n > 8) packed.hi = Load(name.data() + 8, n - 8);
  packed.hi |= static_cast<uint64_t>(n) << 56;
  return packed;
}

inline size_t SlotOf(const Packed& p) {
  return static_cast<size_t>(((p.lo * 0x9E3779B97F4A7C15ull) ^ (p.hi * 0xC2B2AE3D27D4EB4Full)) >>
                             56) %
         kSlots;
}

// Table position by name (names are unique in the table), or kNone. Every key of every line is
// looked up (most are short and many are in the table): a name is packed into two words, hashed
// and compared a word at a time; probing stops at an empty slot.
size_t RankOf(std::string_view name) {
  struct Slot {
    Packed name;
    uint8_t rank_plus_one = 0;  // 0 = empty
  };
  static const auto* slots = [] {
    auto* table = new std::array<Slot, kSlots>();
    for (size_t rank = 0; rank < std::size(kTable); ++rank) {
      const Packed packed = Pack(kTable[rank].name);
      size_t slot = SlotOf(packed);
      while ((*table)[slot].rank_plus_one != 0) slot = (slot + 1) % kSlots;
      (*table)[slot] = Slot{packed, static_cast<uint8_t>(rank + 1)};
    }
    return table;
  }();
  if (name.empty() || name.size() > kMaxNameLength) return kNone;
  const Packed packed = Pack(name);
  for (size_t slot = SlotOf(packed);; slot = (slot + 1) % kSlots) {
    const Slot& entry = (*slots)[slot];
    if (entry.rank_plus_one == 0) return kNone;
    if (entry.name == packed) return entry.rank_plus_one - 1u;
  }
}

// The table fits the lookup above: every name non-empty and at most kMaxNameLength bytes, and
// few enough names that probing always finds an empty slot.
constexpr bool TableFitsRankOf() {
  for (const Entry& entry : kTable) {
    if (entry.name.empty() || entry.name.size() > kMaxNameLength) return false;
  }
  return std::size(kTable) < kSlots / 2;
}
static_assert(TableFitsRankOf(), "field-mapping table: a name is too long or the table too big");

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
  size_t taken[kColumns];  // the fields that filled a column, at most one per column
  size_t taken_count = 0;
  if (const size_t i = best_field[static_cast<size_t>(Column::kLevel)];
      i != kNone && record->level == Level::kUnknown) {
    if (std::optional<Level> level = LevelFromText(fields[i].second)) {
      record->level = *level;
      taken[taken_count++] = i;
    }
  }
  for (auto [column, target] :
       {std::pair{Column::kService, &record->service}, std::pair{Column::kHost, &record->host},
        std::pair{Column::kTraceId, &record->trace_id},
        std::pair{Column::kSpanId, &record->span_id},
        std::pair{Column::kUserId, &record->user_id}}) {
    const size_t i = best_field[static_cast<size_t>(column)];
    if (i == kNone || !target->empty()) continue;
    // Unless keep_fields, the field is removed below: its value can move.
    *target = options.keep_fields ? fields[i].second : std::move(fields[i].second);
    taken[taken_count++] = i;
  }
  if (options.keep_fields || taken_count == 0) return;
  // One compaction pass; the other fields keep their order.
  for (size_t i = 1; i < taken_count; ++i) {  // at most six: insertion sort
    for (size_t j = i; j > 0 && taken[j - 1] > taken[j]; --j) std::swap(taken[j - 1], taken[j]);
  }
  size_t kept = taken[0];
  for (size_t i = taken[0], t = 0; i < fields.size(); ++i) {
    if (t < taken_count && taken[t] == i) {
      ++t;
      continue;
    }
    fields[kept++] = std::move(fields[i]);
  }
  fields.resize(kept);
}

}  // namespace sawmill::ingest
