#include "segment/json_shape.h"

#include <cstdio>
#include <cstring>
#include <span>

#include "common/coding.h"
#include "segment/format.h"
#include "segment/segment.h"

namespace sawmill::segment {

namespace {

// shape := needs(u8) (literal byte other than 0x00 | hole)*
// hole  := 0x00 kind(u8) mode(u8) arg(varint)
constexpr char kHole = '\0';

// An id shorter than this inside an extra stays text (a hole costs about four bytes).
constexpr size_t kMinIdRefBytes = 8;

// A line with more fields keeps its text (bounds the matching work per line).
constexpr size_t kMaxShapedFields = 4096;

enum HoleKind : uint8_t {
  kHoleField = 1,   // arg: the index of the field in Record::fields
  kHoleColumn = 2,  // arg: the ColumnId of a built-in string column (service, host, ids)
  kHoleTs = 3,      // arg: a TsFormat; mode 0
  kHoleExtra = 4,   // the next value of the row's extras; arg 0, mode 0
};

// How a value's text is written in the line (kHoleField, kHoleColumn).
enum Mode : uint8_t {
  kRaw = 0,            // as is: numbers, booleans, arrays (the field holds their JSON text)
  kQuoted = 1 << 0,    // a JSON string: quotes, \" \\ \b \f \n \r \t, other controls as \u00xx
  kSlash = 1 << 1,     // and '/' as \/ (PHP)
  kUpperHex = 1 << 2,  // \u00XX with upper-case hex digits
  kAscii = 1 << 3,     // and every non-ASCII character as \uxxxx (Python's ensure_ascii)
  kHtml = 1 << 4,      // and < > & U+2028 U+2029 as \u003c ... (Go's encoding/json)
  kModeMask = (1 << 5) - 1,
};

// kHoleTs formats: 0..9 "YYYY-MM-DDTHH:MM:SS[.f]Z" (quoted) with that many fraction digits;
// 10..13 the epoch as a bare integer in s, ms, us, ns.
constexpr uint64_t kTsIsoDigitsMax = 9;
constexpr uint64_t kTsEpochSeconds = 10;
constexpr uint64_t kTsEpochNanos = 13;

// Needs bits (the shape's first byte).
enum Need : uint8_t {
  kNeedFields = 1 << 0,
  kNeedService = 1 << 1,
  kNeedHost = 1 << 2,
  kNeedTraceId = 1 << 3,
  kNeedSpanId = 1 << 4,
  kNeedUserId = 1 << 5,
  kNeedTs = 1 << 6,
};

struct StringColumn {
  ColumnId id;
  std::string Record::*text;
  uint8_t need;
  uint32_t column_bit;
};
constexpr StringColumn kStringColumns[] = {
    {ColumnId::kService, &Record::service, kNeedService, kColService},
    {ColumnId::kHost, &Record::host, kNeedHost, kColHost},
    {ColumnId::kTraceId, &Record::trace_id, kNeedTraceId, kColTraceId},
    {ColumnId::kSpanId, &Record::span_id, kNeedSpanId, kColSpanId},
    {ColumnId::kUserId, &Record::user_id, kNeedUserId, kColUserId},
};

const StringColumn* FindStringColumn(uint64_t id) {
  for (const StringColumn& c : kStringColumns) {
    if (static_cast<uint64_t>(c.id) == id) return &c;
  }
  return nullptr;
}

void PutHex4(uint32_t v, bool upper, std::string* out) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char buf[6] = {
      '\\',          'u', digits[(v >> 12) & 15], digits[(v >> 8) & 15], digits[(v >> 4) & 15],
      digits[v & 15]};
  out->append(buf, 6);
}

// The UTF-8 sequence at s[i] (valid, as ingestion made it): its code point and length; a byte
// that starts no valid sequence counts as itself.
uint32_t NextCodePoint(std::string_view s, size_t i, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0xC0) {
    *len = 1;
    return c;
  }
  size_t n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (i + n > s.size()) {
    *len = 1;
    return c;
  }
  uint32_t cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) {
      *len = 1;
      return c;
    }
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  *len = n;
  return cp;
}

// Appends "value" written as "mode" says.
void RenderValue(std::string_view value, uint8_t mode, std::string* out) {
  if ((mode & kQuoted) == 0) {
    out->append(value);
    return;
  }
  const bool upper = mode & kUpperHex;
  out->push_back('"');
  for (size_t i = 0; i < value.size();) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      size_t len = 1;
      uint32_t cp = NextCodePoint(value, i, &len);
      if ((mode & kAscii) && len > 1) {
        if (cp >= 0x10000) {
          cp -= 0x10000;
          PutHex4(0xD800 + (cp >> 10), upper, out);
          PutHex4(0xDC00 + (cp & 0x3FF), upper, out);
        } else {
          PutHex4(cp, upper, out);
        }
      } else if ((mode & kHtml) && (cp == 0x2028 || cp == 0x2029)) {
        PutHex4(cp, upper, out);
      } else {
        out->append(value.substr(i, len));
      }
      i += len;
      continue;
    }
    ++i;
    switch (c) {
      case '"': out->append("\\\""); continue;
      case '\\': out->append("\\\\"); continue;
      case '\b': out->append("\\b"); continue;
      case '\f': out->append("\\f"); continue;
      case '\n': out->append("\\n"); continue;
      case '\r': out->append("\\r"); continue;
      case '\t': out->append("\\t"); continue;
      case '/':
        if (mode & kSlash) {
          out->append("\\/");
          continue;
        }
        break;
      case '<':
      case '>':
      case '&':
        if (mode & kHtml) {
          PutHex4(c, upper, out);
          continue;
        }
        break;
      default: break;
    }
    if (c < 0x20) {
      PutHex4(c, upper, out);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

// Howard Hinnant's civil_from_days.
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

// Appends "ts" in kHoleTs format "format"; false for a format that does not exist or a time
// outside years 0..9999.
bool RenderTs(int64_t ts, uint64_t format, std::string* out) {
  constexpr int64_t kNs = 1'000'000'000;
  if (format >= kTsEpochSeconds && format <= kTsEpochNanos) {
    int64_t div = 1;
    for (uint64_t f = format; f < kTsEpochNanos; ++f) div *= 1000;
    if (ts % div != 0) return false;  // would not render back exactly: never shaped
    out->append(std::to_string(ts / div));
    return true;
  }
  if (format > kTsIsoDigitsMax) return false;
  int64_t days = ts / (86400 * kNs);
  int64_t rem = ts % (86400 * kNs);
  if (rem < 0) {
    rem += 86400 * kNs;
    --days;
  }
  int64_t y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  if (y < 0 || y > 9999) return false;
  const int64_t secs = rem / kNs;
  int64_t frac = rem % kNs;
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "\"%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(y), mo,
                        d, static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                        static_cast<int>(secs % 60));
  out->append(buf, static_cast<size_t>(n));
  if (format > 0) {
    char digits[10];
    std::snprintf(digits, sizeof digits, "%09lld", static_cast<long long>(frac));
    out->push_back('.');
    out->append(digits, format);
  }
  out->append("Z\"");
  return true;
}

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

class Builder {
 public:
  Builder(const Record& r, std::string* shape, std::string* extra, ShapeScratch* scratch)
      : r_(r), msg_(r.message), shape_(shape), extra_(extra), s_(scratch) {}

  bool Build() {
    if (msg_.size() < 2 || msg_.size() > kMaxShapedMessageBytes) return false;
    if (std::memchr(msg_.data(), kHole, msg_.size()) != nullptr) return false;
    if (r_.fields.size() > kMaxShapedFields) return false;
    shape_->clear();
    extra_->clear();
    shape_->push_back('\0');  // needs, set at the end
    s_->used.assign(r_.fields.size(), 0);
    s_->path.clear();
    size_t i = SkipWs(0);
    if (i >= msg_.size() || msg_[i] != '{') return false;
    if (!Object(&i, 0)) return false;
    if (SkipWs(i) != msg_.size()) return false;
    shape_->append(msg_.substr(copied_));
    (*shape_)[0] = static_cast<char>(needs_);
    // Worth it only when the columns give back more than the holes cost.
    if (covered_ < 16 + 4 * holes_) return false;
    // The proof: the shape renders the message exactly.
    s_->rendered.clear();
    if (!RenderJsonShape(*shape_, *extra_, r_, &s_->rendered).ok()) return false;
    return s_->rendered == msg_;
  }

 private:
  size_t SkipWs(size_t i) const {
    while (i < msg_.size() && IsWs(msg_[i])) ++i;
    return i;
  }

  // A string starting at msg_[*i] == '"'; *i ends past its closing quote.
  bool String(size_t* i) const {
    size_t j = *i + 1;
    while (j < msg_.size()) {
      char c = msg_[j];
      if (c == '"') {
        *i = j + 1;
        return true;
      }
      if (c == '\\') ++j;
      ++j;
    }
    return false;
  }

  // Any value starting at *i (not descended into); *i ends past it.
  bool Skip(size_t* i, int depth) const {
    if (depth > 64 || *i >= msg_.size()) return false;
    char c = msg_[*i];
    if (c == '"') return String(i);
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      size_t j = SkipWs(*i + 1);
      if (j < msg_.size() && msg_[j] == close) {
        *i = j + 1;
        return true;
      }
      while (true) {
        if (c == '{') {
          if (j >= msg_.size() || msg_[j] != '"' || !String(&j)) return false;
          j = SkipWs(j);
          if (j >= msg_.size() || msg_[j] != ':') return false;
          j = SkipWs(j + 1);
        }
        if (!Skip(&j, depth + 1)) return false;
        j = SkipWs(j);
        if (j >= msg_.size()) return false;
        if (msg_[j] == close) {
          *i = j + 1;
          return true;
        }
        if (msg_[j] != ',') return false;
        j = SkipWs(j + 1);
      }
    }
    size_t j = *i;
    while (j < msg_.size() && !IsWs(msg_[j]) && msg_[j] != ',' && msg_[j] != '}' &&
           msg_[j] != ']' && msg_[j] != ':' && msg_[j] != '"' && msg_[j] != '{' && msg_[j] != '[') {
      ++j;
    }
    if (j == *i) return false;
    *i = j;
    return true;
  }

  // An object at msg_[*i] == '{' whose keys are under s_->path; its scalar and array values
  // are leaves, its non-empty objects descended into (ingestion flattens them with dots).
  bool Object(size_t* i, int depth) {
    if (depth > 64) return false;
    size_t j = SkipWs(*i + 1);
    if (j < msg_.size() && msg_[j] == '}') {
      *i = j + 1;
      return true;
    }
    const size_t path_len = s_->path.size();
    while (true) {
      if (j >= msg_.size() || msg_[j] != '"') return false;
      const size_t key_start = j + 1;
      if (!String(&j)) return false;
      std::string_view key = msg_.substr(key_start, j - 1 - key_start);
      j = SkipWs(j);
      if (j >= msg_.size() || msg_[j] != ':') return false;
      j = SkipWs(j + 1);
      s_->path.resize(path_len);
      if (path_len > 0) s_->path.push_back('.');
      s_->path.append(key);
      if (j < msg_.size() && msg_[j] == '{') {
        size_t k = SkipWs(j + 1);
        if (k < msg_.size() && msg_[k] == '}') {
          j = k + 1;  // {} is not a field: it stays text of the shape
        } else if (!Object(&j, depth + 1)) {
          return false;
        }
      } else {
        const size_t start = j;
        if (!Skip(&j, depth + 1)) return false;
        Leaf(start, j);
      }
      j = SkipWs(j);
      if (j >= msg_.size()) return false;
      if (msg_[j] == '}') {
        s_->path.resize(path_len);
        *i = j + 1;
        return true;
      }
      if (msg_[j] != ',') return false;
      j = SkipWs(j + 1);
    }
  }

  // Whether "value" written in some mode is "slice"; the mode in *mode.
  bool Matches(std::string_view value, std::string_view slice, uint8_t* mode) {
    if (slice[0] != '"') {
      *mode = kRaw;
      return value == slice;
    }
    // Every quoted rendering of n bytes is between n + 2 and 6n + 2 bytes long (escapes only
    // lengthen, at most to \uXXXX per byte): a value outside that is not rendered at all, which
    // keeps a line of many long fields from re-escaping each one against every other.
    if (slice.size() < value.size() + 2 || slice.size() > 6 * value.size() + 2) return false;
    std::string& out = s_->rendered;
    out.clear();
    RenderValue(value, kQuoted, &out);
    if (out == slice) {
      *mode = kQuoted;
      return true;
    }
    if (slice.find('\\') == std::string_view::npos) return false;
    // Guess the writer's escaping from the slice and try once more.
    uint8_t m = kQuoted;
    if (slice.find("\\/") != std::string_view::npos) m |= kSlash;
    for (size_t p = slice.find("\\u"); p != std::string_view::npos; p = slice.find("\\u", p + 2)) {
      std::string_view hex = slice.substr(p + 2, 4);
      for (char h : hex) {
        if (h >= 'A' && h <= 'F') m |= kUpperHex;
      }
      if (hex == "003c" || hex == "003C" || hex == "003e" || hex == "003E" || hex == "0026") {
        m |= kHtml;
      }
    }
    bool ascii_slice = true;
    for (char c : slice) ascii_slice = ascii_slice && static_cast<unsigned char>(c) < 0x80;
    if (ascii_slice) m |= kAscii;
    if (m == kQuoted) return false;
    out.clear();
    RenderValue(value, m, &out);
    if (out != slice) return false;
    *mode = m;
    return true;
  }

  void Hole(size_t start, size_t end, uint8_t kind, uint8_t mode, uint64_t arg) {
    shape_->append(msg_.substr(copied_, start - copied_));
    shape_->push_back(kHole);
    shape_->push_back(static_cast<char>(kind));
    shape_->push_back(static_cast<char>(mode));
    PutVarint64(shape_, arg);
    copied_ = end;
    ++holes_;
  }

  bool TryField(size_t f, std::string_view slice, size_t start, size_t end) {
    uint8_t mode;
    if (!Matches(r_.fields[f].second, slice, &mode)) return false;
    s_->used[f] = 1;
    needs_ |= kNeedFields;
    covered_ += slice.size();
    Hole(start, end, kHoleField, mode, f);
    return true;
  }

  void Leaf(size_t start, size_t end) {
    std::string_view slice = msg_.substr(start, end - start);
    if (slice == "null") return;  // not a field: text of the shape
    const auto& fields = r_.fields;
    // The field of this key, first unused one (a repeated key has one field per occurrence).
    // Fields come in the line's order, so the search starts after the last one found.
    for (size_t n = 0, f = next_field_; n < fields.size();
         ++n, f = f + 1 == fields.size() ? 0 : f + 1) {
      if (s_->used[f] || fields[f].first != s_->path) continue;
      if (TryField(f, slice, start, end)) {
        next_field_ = f + 1 == fields.size() ? 0 : f + 1;
        return;
      }
      break;
    }
    // A column the key was mapped to.
    for (const StringColumn& c : kStringColumns) {
      const std::string& v = r_.*c.text;
      uint8_t mode;
      if (v.empty() || !Matches(v, slice, &mode)) continue;
      needs_ |= c.need;
      covered_ += slice.size();
      Hole(start, end, kHoleColumn, mode, static_cast<uint64_t>(c.id));
      return;
    }
    // The record's time, in the formats that write it exactly.
    if (MatchTs(slice, start, end)) return;
    // A field of another name with this value (a key with escapes in it).
    if (fields.size() <= 256) {
      for (size_t f = 0; f < fields.size(); ++f) {
        if (!s_->used[f] && TryField(f, slice, start, end)) return;
      }
    }
    // No column holds it: a short word (a level's text, true) stays in the shape, which lines of
    // one shape and level share; anything else is an extra of its row.
    bool digit = false;
    for (char c : slice) digit = digit || (c >= '0' && c <= '9');
    if (slice.size() <= 16 && !digit) return;
    Extra(start, end);
  }

  // msg_[start, end) as extras of its row, split around every verbatim copy of the row's
  // trace, span or user id (at least kMinIdRefBytes long), which become holes of their column:
  // a log line that repeats its ids inside a string value (nezha's "TraceID: ... SpanID: ...")
  // then stores each id once, in its column.
  void Extra(size_t start, size_t end) {
    size_t at = start;
    while (at < end) {
      std::string_view rest = msg_.substr(at, end - at);
      size_t best = std::string_view::npos, best_len = 0;
      const StringColumn* best_column = nullptr;
      for (const StringColumn& c : IdColumns()) {
        const std::string& v = r_.*c.text;
        if (v.size() < kMinIdRefBytes || v.size() > rest.size()) continue;
        const size_t pos = rest.find(v);
        if (pos < best) best = pos, best_len = v.size(), best_column = &c;
      }
      if (best_column == nullptr) break;
      if (best > 0) {
        Hole(at, at + best, kHoleExtra, kRaw, 0);
        PutLengthPrefixed(extra_, rest.substr(0, best));
      }
      needs_ |= best_column->need;
      covered_ += best_len;
      Hole(at + best, at + best + best_len, kHoleColumn, kRaw,
           static_cast<uint64_t>(best_column->id));
      at += best + best_len;
    }
    if (at < end) {
      Hole(at, end, kHoleExtra, kRaw, 0);
      PutLengthPrefixed(extra_, msg_.substr(at, end - at));
    }
  }

  // The id columns searched inside extras (the last three of kStringColumns).
  static std::span<const StringColumn> IdColumns() {
    return std::span<const StringColumn>(kStringColumns).subspan(2);
  }

  bool MatchTs(std::string_view slice, size_t start, size_t end) {
    std::string& out = s_->rendered;
    auto attempt = [&](uint64_t format) {
      out.clear();
      if (!RenderTs(r_.ts, format, &out) || out != slice) return false;
      needs_ |= kNeedTs;
      covered_ += slice.size();
      Hole(start, end, kHoleTs, 0, format);
      return true;
    };
    if (slice.size() >= 22 && slice[0] == '"' && slice[slice.size() - 2] == 'Z') {
      size_t digits = slice.size() == 22 ? 0 : slice.size() - 23;
      return digits <= kTsIsoDigitsMax && attempt(digits);
    }
    if (slice[0] >= '0' && slice[0] <= '9') {
      for (uint64_t f = kTsEpochSeconds; f <= kTsEpochNanos; ++f) {
        if (attempt(f)) return true;
      }
    }
    return false;
  }

  const Record& r_;
  std::string_view msg_;
  std::string* shape_;
  std::string* extra_;
  ShapeScratch* s_;
  size_t copied_ = 0;  // msg_[0, copied_) is in the shape
  size_t next_field_ = 0;
  size_t covered_ = 0;
  size_t holes_ = 0;
  uint8_t needs_ = 0;
};

}  // namespace

bool BuildJsonShape(const Record& r, std::string* shape, std::string* extra,
                    ShapeScratch* scratch) {
  if (r.message.empty() || (r.message[0] != '{' && !IsWs(r.message[0]))) return false;
  return Builder(r, shape, extra, scratch).Build();
}

uint32_t JsonShapeColumns(std::string_view shape) {
  if (shape.empty()) return 0;
  const uint8_t needs = static_cast<uint8_t>(shape[0]);
  uint32_t bits = 0;
  if (needs & kNeedFields) bits |= kColFields;
  if (needs & kNeedTs) bits |= kColTs;
  for (const StringColumn& c : kStringColumns) {
    if (needs & c.need) bits |= c.column_bit;
  }
  return bits;
}

Status RenderJsonShape(std::string_view shape, std::string_view extra, const Record& r,
                       std::string* out) {
  auto bad = [](const std::string& why) { return Status::DataLoss("message shape: " + why); };
  if (shape.empty()) return bad("empty");
  // The reader decodes only the columns the needs byte lists: a hole of another column would
  // render that column's empty value, a wrong line.
  const uint8_t needs = static_cast<uint8_t>(shape[0]);
  auto unlisted = [&](const char* what) { return bad(std::string(what) + " is not in its needs"); };
  // The writer shapes only lines up to kMaxShapedMessageBytes: a longer rendering is damage.
  const size_t start = out->size();
  std::string_view rest = shape.substr(1);
  while (!rest.empty()) {
    if (out->size() - start > kMaxShapedMessageBytes) {
      return bad("renders more than " + std::to_string(kMaxShapedMessageBytes) + " bytes");
    }
    size_t hole = rest.find(kHole);
    out->append(rest.substr(0, hole));
    if (hole == std::string_view::npos) break;
    rest.remove_prefix(hole + 1);
    if (rest.size() < 2) return bad("a hole is cut short");
    const uint8_t kind = static_cast<uint8_t>(rest[0]);
    const uint8_t mode = static_cast<uint8_t>(rest[1]);
    rest.remove_prefix(2);
    uint64_t arg;
    if (!GetVarint64(&rest, &arg)) return bad("a hole is cut short");
    if (mode & ~kModeMask) return bad("unknown mode " + std::to_string(mode));
    switch (kind) {
      case kHoleField:
        if ((needs & kNeedFields) == 0) return unlisted("a field");
        if (arg >= r.fields.size()) {
          return bad("field " + std::to_string(arg) + " of a row with " +
                     std::to_string(r.fields.size()));
        }
        RenderValue(r.fields[arg].second, mode, out);
        break;
      case kHoleColumn: {
        const StringColumn* c = FindStringColumn(arg);
        if (c == nullptr) return bad("column " + std::to_string(arg) + " is not a text column");
        if ((needs & c->need) == 0) return unlisted("a column");
        RenderValue(r.*c->text, mode, out);
        break;
      }
      case kHoleTs:
        if ((needs & kNeedTs) == 0) return unlisted("the time");
        if (!RenderTs(r.ts, arg, out)) return bad("time format " + std::to_string(arg));
        break;
      case kHoleExtra: {
        std::string_view value;
        if (!GetLengthPrefixed(&extra, &value)) return bad("fewer extras than holes");
        out->append(value);
        break;
      }
      default: return bad("unknown hole kind " + std::to_string(kind));
    }
  }
  if (!extra.empty()) return bad("more extras than holes");
  if (out->size() - start > kMaxShapedMessageBytes) {
    return bad("renders more than " + std::to_string(kMaxShapedMessageBytes) + " bytes");
  }
  return Status::OK();
}

}  // namespace sawmill::segment
