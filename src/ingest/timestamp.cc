// Timestamp recognition for ingestion: the formats real logs write (see normalize.h for the list)
// and the search for one "at or near the start" of a plain text line.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "common/time_format.h"
#include "common/timezone.h"
#include "ingest/normalize.h"
#include "ingest/timestamp_internal.h"

namespace sawmill::ingest {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Broken-down time as read from text; fields not present stay at their defaults.
struct Parts {
  int64_t year = -1;  // -1: not in the text, inferred from "now"
  int month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;
  int64_t offset_seconds = 0;  // zone offset east of UTC; the time is local to it
  bool zoned = false;          // the text wrote a zone ("Z", "+0100", "CEST")
};

bool Valid(const Parts& p) {
  return p.month >= 1 && p.month <= 12 && p.day >= 1 && p.day <= 31 && p.hour >= 0 &&
         p.hour <= 24 && p.minute >= 0 && p.minute <= 59 && p.second >= 0 && p.second <= 60 &&
         // Up to 2261: nanoseconds since 1970 in an int64 end in April 2262 (year 2511 text
         // overflowed, undefined behaviour); later "years" are not timestamps.
         (p.year == -1 || (p.year >= 1970 && p.year <= 2261));
}

// A time the text wrote without a zone is local to "zone" (UTC when null); one with a zone keeps
// it.
int64_t ToNanos(const Parts& p, int64_t year, const TimeZone* zone) {
  const int64_t days = DaysFromCivil(year, p.month, p.day);
  const int64_t local =
      days * kSecondsPerDay + int64_t{p.hour} * 3600 + int64_t{p.minute} * 60 + p.second;
  const int64_t secs =
      p.zoned || zone == nullptr ? local - p.offset_seconds : zone->LocalToUtc(local);
  return secs * kNanosPerSecond + p.nanos;
}

// The year of a year-less timestamp: the most recent time not more than a day after "now_ns".
int64_t Resolve(const Parts& p, int64_t now_ns, const TimeZone* zone) {
  if (p.year >= 0) return ToNanos(p, p.year, zone);
  const int64_t now_year = CivilFromDays(FloorDiv(now_ns, kNanosPerSecond * kSecondsPerDay)).year;
  const int64_t limit = now_ns + kSecondsPerDay * kNanosPerSecond;
  int64_t t = ToNanos(p, now_year, zone);
  if (t > limit) t = ToNanos(p, now_year - 1, zone);
  return t;
}

// A left-to-right reader over the text; every method either consumes and returns true or leaves
// the position unchanged and returns false.
class Cursor {
 public:
  explicit Cursor(std::string_view s, size_t pos = 0) : s_(s), pos_(pos) {}
  size_t pos() const { return pos_; }
  void set_pos(size_t pos) { pos_ = pos; }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  // Exactly "n" digits.
  bool Digits(int n, int64_t* out) {
    if (pos_ + n > s_.size()) return false;
    int64_t v = 0;
    for (int i = 0; i < n; ++i) {
      char c = s_[pos_ + i];
      if (!IsDigit(c)) return false;
      v = v * 10 + (c - '0');
    }
    pos_ += n;
    *out = v;
    return true;
  }
  bool Digits(int n, int* out) {
    int64_t v;
    if (!Digits(n, &v)) return false;
    *out = static_cast<int>(v);
    return true;
  }
  // "min".."max" digits (greedy).
  bool DigitRun(int min, int max, int* out, int* count = nullptr) {
    int n = 0;
    int64_t v = 0;
    while (n < max && IsDigit(Peek(n))) v = v * 10 + (Peek(n++) - '0');
    if (n < min) return false;
    pos_ += n;
    *out = static_cast<int>(v);
    if (count != nullptr) *count = n;
    return true;
  }
  bool Char(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++pos_;
    return true;
  }
  bool AnyOf(std::string_view set, char* which) {
    if (AtEnd() || set.find(Peek()) == std::string_view::npos) return false;
    *which = s_[pos_++];
    return true;
  }
  // A three-letter month name, case-insensitive; a longer English name is consumed whole.
  bool Month(int* month) {
    static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                   "jul", "aug", "sep", "oct", "nov", "dec"};
    static constexpr std::string_view kFull[] = {"january",   "february", "march",    "april",
                                                 "may",       "june",     "july",     "august",
                                                 "september", "october",  "november", "december"};
    if (pos_ + 3 > s_.size()) return false;
    char w[3] = {Lower(s_[pos_]), Lower(s_[pos_ + 1]), Lower(s_[pos_ + 2])};
    for (int m = 0; m < 12; ++m) {
      if (std::string_view(w, 3) != kMonths[m]) continue;
      size_t end = pos_ + 3;
      while (end < s_.size() && IsAlpha(s_[end])) ++end;
      size_t len = end - pos_;
      if (len != 3) {
        // Accept the full name ("June") or "Sept"; anything else is another word.
        std::string_view full = kFull[m];
        if (len > full.size()) return false;
        for (size_t i = 0; i < len; ++i) {
          if (Lower(s_[pos_ + i]) != full[i]) return false;
        }
      }
      pos_ = end;
      *month = m + 1;
      return true;
    }
    return false;
  }
  // A three-letter weekday name ("Sun") or full name, followed by "," and/or spaces.
  bool Weekday() {
    static constexpr std::string_view kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    if (pos_ + 3 > s_.size()) return false;
    char w[3] = {Lower(s_[pos_]), Lower(s_[pos_ + 1]), Lower(s_[pos_ + 2])};
    for (std::string_view d : kDays) {
      if (std::string_view(w, 3) != d) continue;
      size_t end = pos_ + 3;
      while (end < s_.size() && IsAlpha(s_[end])) ++end;
      if (end < s_.size() && s_[end] == ',') ++end;
      if (end >= s_.size() || s_[end] != ' ') return false;
      while (end < s_.size() && s_[end] == ' ') ++end;
      pos_ = end;
      return true;
    }
    return false;
  }
  // Spaces: at least "min", at most "max".
  bool Spaces(int min, int max) {
    int n = 0;
    while (n < max && Peek(n) == ' ' && pos_ + n < s_.size()) ++n;
    if (n < min) return false;
    pos_ += n;
    return true;
  }
  // A fraction of a second after a separator in "seps": any number of digits (beyond 9 ignored).
  void Fraction(std::string_view seps, int64_t* nanos) {
    if (AtEnd() || seps.find(Peek()) == std::string_view::npos || !IsDigit(Peek(1))) return;
    ++pos_;
    int64_t v = 0;
    int n = 0;
    while (IsDigit(Peek())) {
      if (n < 9) {
        v = v * 10 + (Peek() - '0');
        ++n;
      }
      ++pos_;
    }
    while (n < 9) {
      v *= 10;
      ++n;
    }
    *nanos = v;
  }
  // hh:mm[:ss[.frac]] with ':' (or "sep") between the parts.
  bool Time(Parts* p, char sep = ':', bool seconds_required = true) {
    size_t start = pos_;
    if (!Digits(2, &p->hour) || !Char(sep) || !Digits(2, &p->minute)) {
      pos_ = start;
      return false;
    }
    size_t before_seconds = pos_;
    if (!(Char(sep) && Digits(2, &p->second))) {
      pos_ = before_seconds;
      if (seconds_required) {
        pos_ = start;
        return false;
      }
      return true;
    }
    Fraction(sep == '.' ? "." : ".,", &p->nanos);
    return true;
  }
  // A zone: "Z", "+hh:mm", "+hhmm", "+hh", optionally after one space, or a space and a common
  // abbreviation ("UTC", "CEST"). Absent: "zoned" stays false and the caller's default zone
  // applies.
  void Zone(Parts* p) {
    size_t start = pos_;
    if (Char('Z') || Char('z')) {
      if (!IsAlnum(Peek())) {
        p->zoned = true;
        return;
      }
      pos_ = start;
      return;
    }
    bool spaced = Char(' ');
    char sign;
    if (AnyOf("+-", &sign)) {
      int hh = 0, mm = 0;
      bool ok = false;
      if (Digits(2, &hh)) {
        size_t after_hh = pos_;
        if (Char(':') && Digits(2, &mm)) {
          ok = true;
        } else {
          pos_ = after_hh;
          if (Digits(2, &mm)) {
            ok = true;
          } else {
            pos_ = after_hh;
            ok = !spaced;  // "+01" only directly after the time
          }
        }
      }
      if (ok && !IsDigit(Peek()) && hh <= 23 && mm <= 59) {
        p->offset_seconds = (sign == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
        p->zoned = true;
        return;
      }
      pos_ = start;
      return;
    }
    if (spaced && IsAlpha(Peek())) {
      size_t end = pos_;
      while (end < s_.size() && IsAlpha(s_[end])) ++end;
      std::optional<int> offset = ZoneAbbreviation(s_.substr(pos_, end - pos_));
      if (offset) {
        pos_ = end;
        p->offset_seconds = *offset;
        p->zoned = true;
        return;
      }
    }
    pos_ = start;
  }

 private:
  static std::optional<int> ZoneAbbreviation(std::string_view name) {
    struct Zone {
      std::string_view name;
      int offset_minutes;
    };
    static constexpr Zone kZones[] = {
        {"UTC", 0},    {"GMT", 0},     {"Z", 0},       {"UT", 0},     {"WET", 0},    {"WEST", 60},
        {"BST", 60},   {"CET", 60},    {"CEST", 120},  {"MET", 60},   {"MEST", 120}, {"EET", 120},
        {"EEST", 180}, {"MSK", 180},   {"IST", 330},   {"HKT", 480},  {"SGT", 480},  {"JST", 540},
        {"KST", 540},  {"AEST", 600},  {"AEDT", 660},  {"NZST", 720}, {"NZDT", 780}, {"EST", -300},
        {"EDT", -240}, {"CST", -360},  {"CDT", -300},  {"MST", -420}, {"MDT", -360}, {"PST", -480},
        {"PDT", -420}, {"AKST", -540}, {"AKDT", -480}, {"HST", -600},
    };
    for (const Zone& z : kZones) {
      if (z.name == name) return z.offset_minutes * 60;
    }
    return std::nullopt;
  }

  std::string_view s_;
  size_t pos_;
};

// Year-first dates: "2024-01-15T10:23:45.123Z", "2024-01-15 10:23:45,123 +0100",
// "2024/01/15 10:23:45", "2005.06.03", "2005-06-03-15.42.50.675872" (BGL),
// "20171223-22:15:29:606" (HealthApp), "20240115T102345Z".
bool YearFirst(Cursor& c, bool allow_date_only, Parts* p) {
  size_t start = c.pos();
  Parts q;
  char sep;
  bool compact = false;
  if (c.Digits(4, &q.year) && c.AnyOf("-/.", &sep) && c.DigitRun(1, 2, &q.month) && c.Char(sep) &&
      c.DigitRun(1, 2, &q.day)) {
  } else {
    c.set_pos(start);
    q = Parts{};
    if (!(c.Digits(4, &q.year) && c.Digits(2, &q.month) && c.Digits(2, &q.day))) {
      c.set_pos(start);
      return false;
    }
    compact = true;
  }
  if (IsDigit(c.Peek())) {
    c.set_pos(start);
    return false;
  }
  size_t date_end = c.pos();
  char dt;
  bool have_time = false;
  if (c.AnyOf("T -", &dt)) {
    if (dt == ' ') c.Spaces(0, 1);
    size_t time_start = c.pos();
    if (c.Time(&q, ':', /*seconds_required=*/false)) {
      have_time = true;
      // HealthApp writes milliseconds after a third ':', not zero-padded ("15:35:11" + ":7").
      if (c.Peek() == ':' && IsDigit(c.Peek(1))) {
        size_t before_ms = c.pos();
        c.set_pos(before_ms + 1);
        int ms = 0, digits = 0;
        if (c.DigitRun(1, 3, &ms, &digits) && !IsDigit(c.Peek())) {
          q.nanos = static_cast<int64_t>(ms) * 1'000'000;
        } else {
          c.set_pos(before_ms);
        }
      }
    } else if (dt == '-' && c.Time(&q, '.')) {
      have_time = true;  // BGL
    } else if (dt == '-' && compact && c.DigitRun(1, 2, &q.hour) && c.Char(':') &&
               c.DigitRun(1, 2, &q.minute) && c.Char(':') && c.DigitRun(1, 2, &q.second)) {
      // HealthApp does not zero-pad: "20171223-23:1:5:778".
      have_time = true;
      size_t before_ms = c.pos();
      int ms = 0;
      if (c.Char(':') && c.DigitRun(1, 3, &ms) && !IsDigit(c.Peek())) {
        q.nanos = static_cast<int64_t>(ms) * 1'000'000;
      } else {
        c.set_pos(before_ms);
      }
    } else if (compact || dt == 'T') {
      c.set_pos(time_start);
      if (c.Digits(2, &q.hour) && c.Digits(2, &q.minute) && c.Digits(2, &q.second) &&
          !IsDigit(c.Peek())) {
        c.Fraction(".,", &q.nanos);
        have_time = true;
      }
    }
    if (!have_time) c.set_pos(date_end);
  }
  if (!have_time) {
    if (!allow_date_only || compact) {
      c.set_pos(start);
      return false;
    }
  } else {
    c.Zone(&q);
  }
  if (!Valid(q)) {
    c.set_pos(start);
    return false;
  }
  *p = q;
  return true;
}

// Month-name dates: syslog "Jun 14 15:16:01" and "Jul  1 09:00:55", ctime
// "Sun Dec 04 04:47:44 2005", RFC 2822 "Sun, 04 Dec 2005 04:47:44 +0000", and
// "Dec 4, 2005 4:47:44" is not recognised.
bool MonthName(Cursor& c, Parts* p) {
  size_t start = c.pos();
  Parts q;
  c.Weekday();
  size_t after_weekday = c.pos();
  // "Mon dd hh:mm:ss[.frac] [yyyy] [zone]"
  if (c.Month(&q.month) && c.Spaces(1, 2) && c.DigitRun(1, 2, &q.day) && c.Spaces(1, 1) &&
      c.Time(&q)) {
    size_t after_time = c.pos();
    int64_t year;
    if (c.Char(' ') && c.Digits(4, &year) && !IsDigit(c.Peek())) {
      q.year = year;
    } else {
      c.set_pos(after_time);
    }
    c.Zone(&q);
    if (Valid(q)) {
      *p = q;
      return true;
    }
  }
  // "dd Mon yyyy hh:mm:ss [zone]"
  c.set_pos(after_weekday);
  q = Parts{};
  if (c.DigitRun(1, 2, &q.day) && c.Spaces(1, 1) && c.Month(&q.month) && c.Spaces(1, 1) &&
      c.Digits(4, &q.year) && c.Spaces(1, 1) && c.Time(&q)) {
    c.Zone(&q);
    if (Valid(q)) {
      *p = q;
      return true;
    }
  }
  c.set_pos(start);
  return false;
}

// Apache/NCSA: "10/Oct/2000:13:55:36 -0700".
bool Apache(Cursor& c, Parts* p) {
  size_t start = c.pos();
  Parts q;
  if (c.DigitRun(1, 2, &q.day) && c.Char('/') && c.Month(&q.month) && c.Char('/') &&
      c.Digits(4, &q.year) && c.Char(':') && c.Time(&q)) {
    c.Zone(&q);
    if (Valid(q)) {
      *p = q;
      return true;
    }
  }
  c.set_pos(start);
  return false;
}

// Two-digit years and year-less numeric dates: HDFS "081109 203615", Spark "17/06/09 20:10:40",
// Android "03-17 16:13:38.811", Proxifier "10.30 16:49:06".
bool ShortNumeric(Cursor& c, Parts* p) {
  size_t start = c.pos();
  Parts q;
  int yy;
  // HDFS: yyMMdd HHmmss
  if (c.Digits(2, &yy) && c.Digits(2, &q.month) && c.Digits(2, &q.day) && c.Char(' ') &&
      c.Digits(2, &q.hour) && c.Digits(2, &q.minute) && c.Digits(2, &q.second) &&
      !IsDigit(c.Peek())) {
    q.year = yy < 70 ? 2000 + yy : 1900 + yy;
    if (Valid(q)) {
      *p = q;
      return true;
    }
  }
  c.set_pos(start);
  q = Parts{};
  // Spark: yy/MM/dd HH:mm:ss
  if (c.Digits(2, &yy) && c.Char('/') && c.Digits(2, &q.month) && c.Char('/') &&
      c.Digits(2, &q.day) && c.Char(' ') && c.Time(&q)) {
    q.year = yy < 70 ? 2000 + yy : 1900 + yy;
    if (Valid(q)) {
      *p = q;
      return true;
    }
  }
  c.set_pos(start);
  q = Parts{};
  // Android / Proxifier: MM-dd HH:mm:ss[.SSS], MM.dd HH:mm:ss (year inferred).
  char sep;
  if (c.Digits(2, &q.month) && c.AnyOf("-.", &sep) && c.Digits(2, &q.day) && c.Char(' ') &&
      c.Time(&q)) {
    if (Valid(q)) {
      *p = q;
      return true;
    }
  }
  c.set_pos(start);
  return false;
}

// A run of digits with an optional fraction: epoch seconds, ms, us or ns by magnitude.
// "sniffing" requires a typical width (10, 13, 16 or 19 digits) and a plausible year.
std::optional<int64_t> EpochDigits(Cursor& c, bool sniffing) {
  size_t start = c.pos();
  int n = 0;
  int64_t v = 0;
  while (IsDigit(c.Peek(n))) {
    const int digit = c.Peek(n) - '0';
    // 19 digits at most, and no more than fits an int64 (9223372036854775808 in a Windows
    // event's Keywords overflowed: undefined behaviour).
    if (n >= 19 || v > (std::numeric_limits<int64_t>::max() - digit) / 10) {
      return std::nullopt;
    }
    v = v * 10 + digit;
    ++n;
  }
  if (n == 0) return std::nullopt;
  c.set_pos(start + n);
  int64_t frac_nanos = 0;
  bool has_fraction = false;
  if (c.Peek() == '.' && IsDigit(c.Peek(1))) {
    c.Fraction(".", &frac_nanos);
    has_fraction = true;
  }
  if (sniffing) {
    if (IsAlpha(c.Peek()) || (n != 10 && n != 13 && n != 16 && n != 19) ||
        (has_fraction && n != 10)) {
      c.set_pos(start);
      return std::nullopt;
    }
  }
  std::optional<int64_t> ns = EpochIntToNanos(v);
  if (!ns) {
    c.set_pos(start);
    return std::nullopt;
  }
  if (has_fraction) {
    // The fraction belongs to the unit the integer part was in.
    int64_t unit = *ns / (v == 0 ? 1 : v);
    *ns += frac_nanos / (kNanosPerSecond / (unit == 0 ? 1 : unit));
  }
  if (sniffing) {
    // 1990-01-01 .. 2100-01-01
    if (*ns < 631'152'000LL * kNanosPerSecond || *ns >= 4'102'444'800LL * kNanosPerSecond) {
      c.set_pos(start);
      return std::nullopt;
    }
  }
  return ns;
}

// Tries every format at the cursor. "whole": the text is only a timestamp (ParseTimestamp), which
// allows a bare date and any width of epoch digits. "epoch" (if given) tells whether the result
// is a bare epoch number.
// "zone": the zone of a time written without one (null: UTC).
std::optional<int64_t> ParseAt(Cursor& c, int64_t now_ns, const TimeZone* zone, bool whole,
                               bool* epoch = nullptr) {
  Parts p;
  char first = c.Peek();
  if (IsDigit(first)) {
    if (YearFirst(c, whole, &p) || Apache(c, &p) || ShortNumeric(c, &p)) {
      return Resolve(p, now_ns, zone);
    }
    if (epoch != nullptr) *epoch = true;
    return EpochDigits(c, !whole);
  }
  if (IsAlpha(first)) {
    if (MonthName(c, &p)) return Resolve(p, now_ns, zone);
  }
  return std::nullopt;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

bool EqualsLower(std::string_view word, std::string_view lower) {
  if (word.size() != lower.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (Lower(word[i]) != lower[i]) return false;
  }
  return true;
}

// The whitespace-separated words of "line" that start before "limit" (at most "max" of them).
size_t WordsBefore(std::string_view line, size_t limit, std::string_view* words, size_t max) {
  size_t count = 0, pos = 0;
  while (count < max && pos < limit) {
    while (pos < line.size() && IsBlank(line[pos])) ++pos;
    if (pos >= limit) break;
    size_t end = pos;
    while (end < line.size() && !IsBlank(line[end])) ++end;
    words[count++] = line.substr(pos, end - pos);
    pos = end;
  }
  return count;
}

// The word of "line" that starts at "pos" (up to the next blank).
// Empty when "pos" is past the end (npos from a find that found nothing: a line ending in blanks).
std::string_view WordAt(std::string_view line, size_t pos) {
  if (pos >= line.size()) return {};
  size_t end = pos;
  while (end < line.size() && !IsBlank(line[end])) ++end;
  return line.substr(pos, end - pos);
}

// Whether a bare epoch number at line[start, end) may be taken for the line's time. Ids, sizes
// and counters are numbers too (-XX:InitialHeapSize=1073741824 is 2004-01-10 as seconds), so it
// counts only where a time is written:
//   - the line's leading word, after opening brackets or quotes ("1331901000.000000\t..." as
//     Zeek's ts column, "[1700000000] ...");
//   - the value of a key named like a time: ts, time, timestamp, @timestamp, date (ts=..., "time":
//     ..., time="...");
//   - a column the format defines as the time: Linux audit's "msg=audit(1604994496.155:92733)",
//     Loghub's BGL/Thunderbird RAS logs (the second word, followed by a yyyy.mm.dd date) and HPC
//     logs (the fifth word after a numeric log id, followed by a 0/1/-1 flag).
bool EpochAllowedAt(std::string_view line, size_t start, size_t end) {
  size_t before = start;
  while (before > 0 && std::string_view("[(\"'").find(line[before - 1]) != std::string_view::npos) {
    --before;
  }
  bool leading = true;
  for (size_t i = 0; i < before; ++i) {
    if (!IsBlank(line[i])) leading = false;
  }
  if (leading) return true;
  // key=value, key: value, "key":"value"
  size_t i = start;
  while (i > 0 && (line[i - 1] == '"' || line[i - 1] == '\'')) --i;
  while (i > 0 && IsBlank(line[i - 1])) --i;
  if (i > 0 && (line[i - 1] == '=' || line[i - 1] == ':')) {
    --i;
    while (i > 0 && IsBlank(line[i - 1])) --i;
    while (i > 0 && (line[i - 1] == '"' || line[i - 1] == '\'')) --i;
    size_t key_end = i;
    while (i > 0 && (IsAlnum(line[i - 1]) || line[i - 1] == '_' || line[i - 1] == '@')) --i;
    std::string_view key = line.substr(i, key_end - i);
    for (std::string_view name : {"ts", "time", "timestamp", "@timestamp", "date"}) {
      if (EqualsLower(key, name)) return true;
    }
  }
  if (start >= 6 && line.substr(start - 6, 6) == "audit(") return true;
  std::string_view words[5];
  size_t n = WordsBefore(line, start, words, 5);
  std::string_view next = end < line.size() && IsBlank(line[end])
                              ? WordAt(line, line.find_first_not_of(" \t", end))
                              : std::string_view();
  if (n == 1 && next.size() == 10 && next[4] == '.' && next[7] == '.') {
    bool date = true;
    for (size_t k = 0; k < next.size(); ++k) {
      if (k != 4 && k != 7 && !IsDigit(next[k])) date = false;
    }
    if (date) return true;  // BGL, Thunderbird
  }
  if (n == 4 && (next == "0" || next == "1" || next == "-1")) {
    bool id = !words[0].empty();
    for (char ch : words[0]) {
      if (!IsDigit(ch)) id = false;
    }
    if (id) return true;  // HPC
  }
  return false;
}

}  // namespace

std::optional<int64_t> EpochIntToNanos(int64_t value) {
  if (value < 0) return std::nullopt;
  int64_t per_unit = 1;             // ns
  if (value < 100'000'000'000LL) {  // s
    per_unit = kNanosPerSecond;
  } else if (value < 100'000'000'000'000LL) {  // ms
    per_unit = 1'000'000;
  } else if (value < 100'000'000'000'000'000LL) {  // us
    per_unit = 1'000;
  }
  // Nanoseconds since 1970 in an int64 end in April 2262: a later epoch is not a timestamp
  // (it overflowed before, undefined behaviour).
  if (value > std::numeric_limits<int64_t>::max() / per_unit) return std::nullopt;
  return value * per_unit;
}

std::optional<int64_t> EpochToNanos(double value) {
  if (!std::isfinite(value) || value < 0 || value >= 9.2e18) return std::nullopt;
  double scale;
  if (value < 1e11) {
    scale = 1e9;
  } else if (value < 1e14) {
    scale = 1e6;
  } else if (value < 1e17) {
    scale = 1e3;
  } else {
    scale = 1;
  }
  // Whole units exactly; the fraction rounded to the microsecond when the unit is seconds,
  // because a double carries ~16 digits and the nanoseconds of "1669575482.0968924" are noise.
  const double whole = std::floor(value);
  const double frac = value - whole;
  if (whole * scale >= 9.2e18) return std::nullopt;
  const auto units = static_cast<int64_t>(whole);
  const auto per_unit = static_cast<int64_t>(scale);
  int64_t frac_ns =
      per_unit == kNanosPerSecond ? std::llround(frac * 1e6) * 1000 : std::llround(frac * scale);
  return units * per_unit + frac_ns;
}

std::optional<int64_t> ParseTimestamp(std::string_view text, int64_t now_ns, const TimeZone* zone) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  Cursor c(text);
  std::optional<int64_t> t = ParseAt(c, now_ns, zone, /*whole=*/true);
  if (!t || !c.AtEnd()) return std::nullopt;
  return t;
}

std::optional<int64_t> FindTimestampNearStart(std::string_view line, int64_t now_ns,
                                              const TimeZone* zone) {
  const size_t window = line.size() < kTimestampWindow ? line.size() : kTimestampWindow;
  for (size_t pos = 0; pos < window; ++pos) {
    char ch = line[pos];
    if (!IsAlnum(ch)) continue;
    if (pos > 0 && IsAlnum(line[pos - 1])) continue;  // only at the start of a word
    Cursor c(line, pos);
    bool epoch = false;
    std::optional<int64_t> t = ParseAt(c, now_ns, zone, /*whole=*/false, &epoch);
    if (!t || IsAlnum(c.Peek())) continue;
    if (epoch) {
      if (!EpochAllowedAt(line, pos, c.pos())) continue;
    }
    return t;
  }
  return std::nullopt;
}

}  // namespace sawmill::ingest
