#include "ingest/shipper_record.h"

#include <optional>

namespace sawmill::ingest {

namespace {

void Truncate(size_t max_bytes, std::string* text, uint32_t* flags) {
  if (max_bytes == 0 || text->size() <= max_bytes) return;
  size_t cut = max_bytes;
  // Do not leave half a UTF-8 sequence at the cut.
  while (cut > 0 && (static_cast<unsigned char>((*text)[cut]) & 0xC0) == 0x80) --cut;
  text->resize(cut);
  *flags |= kFlagTruncated;
}

void Repair(std::string* text, uint32_t* flags) {
  if (SanitizeUtf8(text)) *flags |= kFlagInvalidUtf8;
}

}  // namespace

void FinishShipperRecord(const ShipperContext& context, Record* record) {
  record->tenant = context.tenant;
  record->ingest_ts = context.now_ns;
  if (record->ts == 0) record->ts = context.now_ns;
  if (record->service.empty()) record->service = context.defaults.service;
  if (record->host.empty()) record->host = context.defaults.host;
  if (record->level == Level::kUnknown) {
    std::optional<int64_t> ts;
    std::optional<Level> level;
    SniffPlainLine(record->message, context.now_ns, &ts, &level, context.defaults.zone);
    if (level.has_value()) {
      record->level = *level;
    } else if (context.defaults.level.has_value()) {
      record->level = *context.defaults.level;
    } else if (!context.unknown_level.empty() && record->FindField("level") == nullptr) {
      record->fields.emplace_back("level", context.unknown_level);
    }
  }
  const size_t max = context.options.max_line_bytes;
  Truncate(max, &record->message, &record->flags);
  for (std::string* text : {&record->message, &record->service, &record->host, &record->trace_id,
                            &record->span_id, &record->user_id}) {
    Repair(text, &record->flags);
  }
  for (auto& [key, value] : record->fields) {
    Truncate(max, &value, &record->flags);
    Repair(&key, &record->flags);
    Repair(&value, &record->flags);
  }
}

std::string HexLower(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    out += kHex[u >> 4];
    out += kHex[u & 15];
  }
  return out;
}

bool NormalizeHexId(std::string_view text, std::string* out) {
  out->clear();
  if (text.empty() || text.size() % 2 != 0 || text.size() > 64) return false;
  bool all_zero = true;
  std::string lower;
  lower.reserve(text.size());
  for (char c : text) {
    char l = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f'))) return false;
    if (l != '0') all_zero = false;
    lower += l;
  }
  if (all_zero) return false;
  *out = std::move(lower);
  return true;
}

namespace {

bool ReadVarint(std::string_view* in, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Adds the fields at path[depth..] inside "message" to *count; false when the wire data is bad.
bool CountFields(std::string_view message, const int* path, size_t depth, size_t path_size,
                 size_t limit, size_t* count) {
  while (!message.empty() && *count <= limit) {
    uint64_t tag = 0;
    if (!ReadVarint(&message, &tag)) return false;
    const uint64_t field = tag >> 3;
    switch (tag & 7) {
      case 0: {
        uint64_t ignored = 0;
        if (!ReadVarint(&message, &ignored)) return false;
        break;
      }
      case 1:
        if (message.size() < 8) return false;
        message.remove_prefix(8);
        break;
      case 5:
        if (message.size() < 4) return false;
        message.remove_prefix(4);
        break;
      case 2: {
        uint64_t length = 0;
        if (!ReadVarint(&message, &length) || length > message.size()) return false;
        std::string_view inner = message.substr(0, static_cast<size_t>(length));
        message.remove_prefix(static_cast<size_t>(length));
        if (field != static_cast<uint64_t>(path[depth])) break;
        if (depth + 1 == path_size) {
          ++*count;
        } else if (!CountFields(inner, path, depth + 1, path_size, limit, count)) {
          return false;
        }
        break;
      }
      default: return false;  // groups are not used by OTLP or Loki
    }
  }
  return true;
}

}  // namespace

size_t CountProtobufFields(std::string_view message, std::initializer_list<int> path,
                           size_t limit) {
  size_t count = 0;
  if (path.size() == 0) return 0;
  if (!CountFields(message, path.begin(), 0, path.size(), limit, &count)) return 0;
  return count;
}

}  // namespace sawmill::ingest
