// The TZif reader and the local-to-UTC rule (contract in timezone.h).
#include "common/timezone.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <utility>

#include "common/mutex.h"
#include "common/time_format.h"

namespace sawmill {

namespace {

constexpr int64_t kSecondsPerDay = 86'400;
// A zone file is a few KiB; anything much bigger is not one (and is not read into memory).
constexpr size_t kMaxZoneFileBytes = 1 << 20;
constexpr size_t kMaxZoneNameBytes = 128;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// "+01:00", "+0100", "+01", "-05:30": seconds east of UTC.
std::optional<int32_t> ParseFixedOffset(std::string_view s) {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  const int sign = s[0] == '-' ? -1 : 1;
  s.remove_prefix(1);
  auto two = [](std::string_view t, size_t at) -> int {
    return (t[at] - '0') * 10 + (t[at + 1] - '0');
  };
  for (char c : s) {
    if (!IsDigit(c) && c != ':') return std::nullopt;
  }
  int hh = 0, mm = 0;
  if (s.size() == 2 && IsDigit(s[0]) && IsDigit(s[1])) {
    hh = two(s, 0);
  } else if (s.size() == 4 && s.find(':') == std::string_view::npos) {
    hh = two(s, 0);
    mm = two(s, 2);
  } else if (s.size() == 5 && s[2] == ':' && s.find(':', 3) == std::string_view::npos) {
    hh = two(s, 0);
    mm = two(s, 3);
  } else {
    return std::nullopt;
  }
  if (hh > 23 || mm > 59) return std::nullopt;
  return sign * (hh * 3600 + mm * 60);
}

// Why "name" cannot be a zone database name, or "" when it can be one.
std::string BadZoneName(std::string_view name) {
  if (name.empty()) return "empty";
  if (name.size() > kMaxZoneNameBytes) return "longer than 128 bytes";
  if (name.front() == '/') return "an absolute path, not a zone name";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty()) return "an empty path component";
    if (part.front() == '.') return "a '.' or '..' path component";
    start = end + 1;
  }
  for (char c : name) {
    if (!(IsAlpha(c) || IsDigit(c) || c == '/' || c == '_' || c == '-' || c == '+')) {
      return "only letters, digits, '/', '_', '-' and '+' may appear in a zone name";
    }
  }
  return "";
}

// A big-endian reader over the TZif bytes.
class Bytes {
 public:
  explicit Bytes(std::string_view data) : data_(data) {}
  bool Has(size_t n) const { return data_.size() - pos_ >= n; }
  size_t pos() const { return pos_; }
  void Skip(size_t n) { pos_ += n; }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_++]);
    return v;
  }
  int64_t I64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_++]);
    return static_cast<int64_t>(v);
  }
  uint8_t U8() { return static_cast<uint8_t>(data_[pos_++]); }
  std::string_view Rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct Header {
  char version = 0;
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

Status ReadHeader(Bytes* in, Header* h) {
  if (!in->Has(44)) return Status::InvalidArgument("shorter than a TZif header");
  if (in->Rest().substr(0, 4) != "TZif") return Status::InvalidArgument("not a TZif file");
  in->Skip(4);
  h->version = static_cast<char>(in->U8());
  in->Skip(15);
  h->isutcnt = in->U32();
  h->isstdcnt = in->U32();
  h->leapcnt = in->U32();
  h->timecnt = in->U32();
  h->typecnt = in->U32();
  h->charcnt = in->U32();
  if (h->typecnt == 0) return Status::InvalidArgument("TZif file without local time types");
  if (h->typecnt > 256 || h->timecnt > 100'000 || h->charcnt > 100'000 || h->leapcnt > 100'000 ||
      (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
      (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)) {
    return Status::InvalidArgument("TZif header counts out of range");
  }
  return Status::OK();
}

size_t DataBytes(const Header& h, size_t time_bytes) {
  return size_t{h.timecnt} * time_bytes + h.timecnt + size_t{h.typecnt} * 6 + h.charcnt +
         h.leapcnt * (time_bytes + 4) + h.isstdcnt + h.isutcnt;
}

// POSIX TZ offset "[+-]hh[:mm[:ss]]" (hours up to 167 for rule times, RFC 8536 section 3.3.1).
bool ParsePosixTime(std::string_view* s, int max_hours, int64_t* seconds) {
  int sign = 1;
  if (!s->empty() && (s->front() == '+' || s->front() == '-')) {
    if (s->front() == '-') sign = -1;
    s->remove_prefix(1);
  }
  int64_t parts[3] = {0, 0, 0};
  for (int part = 0; part < 3; ++part) {
    if (part > 0) {
      if (s->empty() || s->front() != ':') break;
      s->remove_prefix(1);
    }
    size_t n = 0;
    int64_t v = 0;
    while (n < s->size() && n < 3 && IsDigit((*s)[n])) v = v * 10 + ((*s)[n++] - '0');
    if (n == 0) return false;
    s->remove_prefix(n);
    parts[part] = v;
  }
  if (parts[0] > max_hours || parts[1] > 59 || parts[2] > 59) return false;
  *seconds = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

bool ParsePosixName(std::string_view* s) {
  if (!s->empty() && s->front() == '<') {
    size_t close = s->find('>');
    if (close == std::string_view::npos) return false;
    s->remove_prefix(close + 1);
    return true;
  }
  size_t n = 0;
  while (n < s->size() && IsAlpha((*s)[n])) ++n;
  if (n < 3) return false;
  s->remove_prefix(n);
  return true;
}

}  // namespace

struct TimeZone::PosixRule {
  enum class Kind { kJulianNoLeap, kJulian, kMonthWeekDay };
  struct Date {
    Kind kind = Kind::kMonthWeekDay;
    int day = 0;  // Jn: 1..365; n: 0..365; M: weekday 0 (Sunday)..6
    int month = 0, week = 0;
    int64_t time = 7200;  // seconds after local midnight (default 02:00)
  };
  int32_t std_offset = 0;  // seconds east of UTC
  int32_t dst_offset = 0;
  bool has_dst = false;
  Date start, end;

  // Days since 1970 of "date" in "year".
  static int64_t DayOf(const Date& date, int64_t year) {
    const int64_t jan1 = DaysFromCivil(year, 1, 1);
    switch (date.kind) {
      case Kind::kJulianNoLeap:
        return jan1 + date.day - 1 + (IsLeap(year) && date.day >= 60 ? 1 : 0);
      case Kind::kJulian: return jan1 + date.day;
      case Kind::kMonthWeekDay: {
        const int64_t first = DaysFromCivil(year, date.month, 1);
        const int64_t next = date.month == 12 ? DaysFromCivil(year + 1, 1, 1)
                                              : DaysFromCivil(year, date.month + 1, 1);
        const int64_t weekday = ((first + 4) % 7 + 7) % 7;  // 1970-01-01 was a Thursday
        int64_t day = first + (date.day - weekday + 7) % 7 + int64_t{date.week - 1} * 7;
        while (day >= next) day -= 7;
        return day;
      }
    }
    return jan1;
  }

  int32_t OffsetAt(int64_t utc) const {
    if (!has_dst) return std_offset;
    const int64_t year = CivilFromDays(FloorDiv(utc + std_offset, kSecondsPerDay)).year;
    // The start is written in standard time, the end in daylight time.
    const int64_t begin = DayOf(start, year) * kSecondsPerDay + start.time - std_offset;
    const int64_t finish = DayOf(end, year) * kSecondsPerDay + end.time - dst_offset;
    bool dst;
    if (begin < finish) {
      dst = utc >= begin && utc < finish;
    } else {  // southern hemisphere: daylight time spans the new year
      dst = !(utc >= finish && utc < begin);
    }
    return dst ? dst_offset : std_offset;
  }

  static bool ParseDate(std::string_view* s, Date* date) {
    if (s->empty()) return false;
    auto number = [s](int* out) {
      size_t n = 0;
      int v = 0;
      while (n < s->size() && n < 3 && IsDigit((*s)[n])) v = v * 10 + ((*s)[n++] - '0');
      if (n == 0) return false;
      s->remove_prefix(n);
      *out = v;
      return true;
    };
    if (s->front() == 'M') {
      s->remove_prefix(1);
      date->kind = Kind::kMonthWeekDay;
      if (!number(&date->month) || s->empty() || s->front() != '.') return false;
      s->remove_prefix(1);
      if (!number(&date->week) || s->empty() || s->front() != '.') return false;
      s->remove_prefix(1);
      if (!number(&date->day)) return false;
      if (date->month < 1 || date->month > 12 || date->week < 1 || date->week > 5 ||
          date->day > 6) {
        return false;
      }
    } else if (s->front() == 'J') {
      s->remove_prefix(1);
      date->kind = Kind::kJulianNoLeap;
      if (!number(&date->day) || date->day < 1 || date->day > 365) return false;
    } else {
      date->kind = Kind::kJulian;
      if (!number(&date->day) || date->day > 365) return false;
    }
    if (!s->empty() && s->front() == '/') {
      s->remove_prefix(1);
      if (!ParsePosixTime(s, 167, &date->time)) return false;
    }
    return true;
  }

  // "CET-1CEST,M3.5.0,M10.5.0/3". Returns nullopt when it does not parse.
  static std::optional<PosixRule> Parse(std::string_view s) {
    PosixRule rule;
    int64_t offset = 0;
    if (!ParsePosixName(&s) || !ParsePosixTime(&s, 24, &offset)) return std::nullopt;
    rule.std_offset = static_cast<int32_t>(-offset);  // POSIX counts west of UTC
    if (s.empty()) return rule;
    if (!ParsePosixName(&s)) return std::nullopt;
    rule.has_dst = true;
    rule.dst_offset = rule.std_offset + 3600;
    if (!s.empty() && s.front() != ',') {
      if (!ParsePosixTime(&s, 24, &offset)) return std::nullopt;
      rule.dst_offset = static_cast<int32_t>(-offset);
    }
    if (s.empty()) {
      // No rule: POSIX leaves it to the implementation; the US rule is the usual one.
      rule.start = Date{Kind::kMonthWeekDay, 0, 3, 2, 7200};
      rule.end = Date{Kind::kMonthWeekDay, 0, 11, 1, 7200};
      return rule;
    }
    if (s.front() != ',') return std::nullopt;
    s.remove_prefix(1);
    if (!ParseDate(&s, &rule.start) || s.empty() || s.front() != ',') return std::nullopt;
    s.remove_prefix(1);
    if (!ParseDate(&s, &rule.end) || !s.empty()) return std::nullopt;
    return rule;
  }
};

TimeZone::TimeZone() = default;
TimeZone::~TimeZone() = default;

std::unique_ptr<TimeZone> TimeZone::Fixed(std::string name, int32_t offset_seconds) {
  std::unique_ptr<TimeZone> zone(new TimeZone());
  zone->name_ = std::move(name);
  zone->offsets_.push_back(offset_seconds);
  return zone;
}

Result<std::unique_ptr<TimeZone>> TimeZone::FromTzif(std::string name, std::string_view data) {
  Bytes in(data);
  Header h;
  RETURN_IF_ERROR(ReadHeader(&in, &h));
  size_t time_bytes = 4;
  if (h.version >= '2') {
    // Skip the version 1 block; the 64-bit block after it says the same for all times.
    if (!in.Has(DataBytes(h, 4))) return Status::InvalidArgument("TZif file is truncated");
    in.Skip(DataBytes(h, 4));
    RETURN_IF_ERROR(ReadHeader(&in, &h));
    time_bytes = 8;
  }
  if (!in.Has(DataBytes(h, time_bytes))) return Status::InvalidArgument("TZif file is truncated");
  if (h.leapcnt != 0) {
    return Status::InvalidArgument(
        "zone counts leap seconds (the right/ zones), which Sawmill's times do not");
  }
  std::unique_ptr<TimeZone> zone(new TimeZone());
  zone->name_ = std::move(name);
  zone->transitions_.reserve(h.timecnt);
  for (uint32_t i = 0; i < h.timecnt; ++i) {
    int64_t t = time_bytes == 8 ? in.I64() : static_cast<int32_t>(in.U32());
    if (!zone->transitions_.empty() && t <= zone->transitions_.back()) {
      return Status::InvalidArgument("TZif transition times are not ascending");
    }
    zone->transitions_.push_back(t);
  }
  zone->transition_type_.reserve(h.timecnt);
  for (uint32_t i = 0; i < h.timecnt; ++i) {
    uint8_t type = in.U8();
    if (type >= h.typecnt) return Status::InvalidArgument("TZif transition names no type");
    zone->transition_type_.push_back(type);
  }
  for (uint32_t i = 0; i < h.typecnt; ++i) {
    auto offset = static_cast<int32_t>(in.U32());
    in.Skip(2);  // isdst, abbreviation index
    if (offset < -25 * 3600 || offset > 26 * 3600) {
      return Status::InvalidArgument("TZif offset out of range");
    }
    zone->offsets_.push_back(offset);
  }
  in.Skip(h.charcnt + h.isstdcnt + h.isutcnt);
  if (time_bytes == 8) {
    // Footer: "\n" POSIX-TZ-string "\n"; empty when no rule applies after the last transition.
    std::string_view rest = in.Rest();
    if (rest.size() >= 2 && rest.front() == '\n') {
      size_t close = rest.find('\n', 1);
      if (close != std::string_view::npos && close > 1) {
        std::optional<PosixRule> rule = PosixRule::Parse(rest.substr(1, close - 1));
        if (!rule) return Status::InvalidArgument("TZif footer is not a POSIX TZ rule");
        zone->rule_ = std::make_unique<PosixRule>(*rule);
      }
    }
  }
  return zone;
}

int32_t TimeZone::OffsetAt(int64_t utc_seconds) const {
  if (transitions_.empty()) return rule_ ? rule_->OffsetAt(utc_seconds) : offsets_[0];
  if (utc_seconds < transitions_.front()) return offsets_[0];
  if (utc_seconds >= transitions_.back() && rule_) return rule_->OffsetAt(utc_seconds);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc_seconds);
  size_t index = static_cast<size_t>(std::distance(transitions_.begin(), it)) - 1;
  return offsets_[transition_type_[index]];
}

int64_t TimeZone::LocalToUtc(int64_t local_seconds) const {
  // The offsets a day before and a day after: zones change at most once within two days.
  const int32_t before = OffsetAt(local_seconds - kSecondsPerDay);
  const int32_t after = OffsetAt(local_seconds + kSecondsPerDay);
  const int64_t with_before = local_seconds - before;
  if (before == after) return with_before;
  const int64_t with_after = local_seconds - after;
  const bool before_fits = OffsetAt(with_before) == before;
  const bool after_fits = OffsetAt(with_after) == after;
  if (before_fits && after_fits) return std::min(with_before, with_after);  // overlap: earlier
  if (after_fits) return with_after;
  return with_before;  // fits, or a gap: the offset before the change
}

const TimeZone* TimeZone::Utc() {
  static const TimeZone* const kUtc = Fixed("UTC", 0).release();
  return kUtc;
}

std::string ZoneDirectory() {
  const char* dir = std::getenv("TZDIR");
  if (dir != nullptr && *dir != '\0') return dir;
  return "/usr/share/zoneinfo";
}

Result<const TimeZone*> TimeZone::Find(std::string_view name) {
  if (EqualsIgnoreCase(name, "UTC") || EqualsIgnoreCase(name, "Z") ||
      EqualsIgnoreCase(name, "GMT")) {
    return Utc();
  }
  // Loaded zones, by name; only names that loaded are kept, so the map is bounded by the files
  // of the database plus the 2 * 24 * 60 fixed offsets.
  static Mutex mu;
  static auto* zones = new std::map<std::string, std::unique_ptr<TimeZone>, std::less<>>();
  {
    MutexLock lock(&mu);
    auto it = zones->find(name);
    if (it != zones->end()) return it->second.get();
  }
  std::unique_ptr<TimeZone> zone;
  if (!name.empty() && (name.front() == '+' || name.front() == '-')) {
    std::optional<int32_t> offset = ParseFixedOffset(name);
    if (!offset) {
      return Status::InvalidArgument("time zone '" + std::string(name) +
                                     "': expected an offset like +01:00, +0100 or -05:30");
    }
    zone = Fixed(std::string(name), *offset);
  } else {
    std::string why = BadZoneName(name);
    if (!why.empty()) {
      return Status::InvalidArgument("time zone '" + std::string(name) + "': " + why);
    }
    const std::string dir = ZoneDirectory();
    const std::string path = dir + "/" + std::string(name);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::InvalidArgument("time zone '" + std::string(name) + "': no such zone in " +
                                     dir +
                                     " (an IANA name like Europe/Berlin, UTC or an offset "
                                     "like +01:00)");
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxZoneFileBytes) {
      return Status::InvalidArgument("time zone '" + std::string(name) + "': " + path +
                                     " is too big to be a zone file");
    }
    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      return Status::InvalidArgument("time zone '" + std::string(name) + "': cannot read " + path);
    }
    auto parsed = FromTzif(std::string(name), data);
    if (!parsed.ok()) {
      return Status::InvalidArgument("time zone '" + std::string(name) + "': " + path + ": " +
                                     parsed.status().message());
    }
    zone = std::move(parsed).value();
  }
  MutexLock lock(&mu);
  auto [it, inserted] = zones->emplace(std::string(name), std::move(zone));
  return it->second.get();
}

}  // namespace sawmill
