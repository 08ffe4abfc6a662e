// Encoding::kTimeText (format version 13): text whose rows hold a time written in one of the
// common log forms among their first bytes (syslog's "Mar 27 13:06:56", Apache's
// "17/May/2015:10:05:03", log4j's "2015-10-18 18:01:47,978", ...). Kept as text, such a stamp
// is the dearest part of a short log line: consecutive stamps differ in digits zstd cannot
// predict (on elastic_auth_log, zstd 9 spends 14 KB of 47 on them). As numbers in a delta block
// in row order (rows are sorted by time) they cost a few bits a row. Generalises kIsoPrefix
// (RFC 3339 UTC at the start of the line) to other forms and to a time inside the line. Each
// time is rendered back and compared at encoding, so every value comes back byte for byte
// (docs/format/segment.md "Times in text").
//
//   body   := reference(u8) forms_block(lp) offsets_block(lp) values_block(lp) text_block
//   reference:     0: the values are the times; 1: each is the time less its row's `ts` (in the
//                  form's unit, ts / 10^(9-f) rounded down, modulo 2^64), so that the time a
//                  line's text holds and the time the server parsed from it (the `ts` column)
//                  are not both stored: the differences are one value, repeated (the message
//                  of hot and compacted segments; a reader decodes it with the block's `ts`,
//                  RowTimesScope)
//   forms_block:   an int column block, per row 0 (no time) or 1 + the index of its form in
//                  kForms (the table below is part of the format: never reorder, only append)
//   offsets_block: an int column block, per row with a time, the byte offset where it began
//   values_block:  an int column block, per row with a time, its value: seconds since
//                  1970-01-01 (a form without a year counts in the year 2000) times 10^f plus
//                  the f fraction digits of its form
//   text_block:    a complete kPlain (or kMarkedLines) column block of every row's text with its
//                  time cut out
//
// The text block comes last, so a read of a few rows (SegmentReader::ReadRows) decompresses the
// three small blocks and the text through its last wanted row only, as for kIsoPrefix.

#include "segment/time_text_encoding.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "common/coding.h"
#include "common/time_format.h"
#include "index/tokenizer.h"
#include "segment/column_encoding.h"
#include "segment/segment.h"

namespace sawmill::segment {

namespace {

constexpr std::string_view kWhat = "text with times";

// The rows' times a referenced block is decoded against (RowTimesScope).
thread_local const int64_t* row_times = nullptr;
thread_local size_t row_times_count = 0;
thread_local const void* row_times_owner = nullptr;  // who opened the scope, for which block
thread_local uint32_t row_times_block = 0;

// A form's pattern: 'Y' four-digit year, 'y' two-digit year (2000 + yy), 'M' two-digit month,
// 'b' month name (Jan..Dec), 'D' two-digit day, 'e' day padded with a space (" 7"), 'E' day
// without padding ("7", "17"), 'h' 'm' 's' two-digit hour, minute, second, 'a' weekday name
// (rendered from the date), 'f' one fraction digit; any other byte stands for itself. Forms
// with more fraction digits come before the same form with fewer, since a time is matched by
// the first form in this order that renders back to its bytes.
constexpr std::array<std::string_view, 19> kForms = {
    "b e h:m:s",              // 1 syslog: "Mar  7 13:06:56" (auth.log, Linux, Mac, OpenSSH)
    "b E h:m:s",              // 2 syslog with the day unpadded: "Nov 9 12:01:01"
    "D/b/Y:h:m:s",            // 3 Apache common log: "17/May/2015:10:05:03"
    "Y-M-D h:m:s,fff",        // 4 log4j: "2015-10-18 18:01:47,978"
    "Y-M-D h:m:s.ffffff",     // 5
    "Y-M-D h:m:s.fff",        // 6
    "Y-M-D h:m:s",            // 7
    "Y-M-DTh:m:s.fffffffff",  // 8 ISO 8601 without a zone or not at the start (kIsoPrefix
    "Y-M-DTh:m:s.ffffff",     // 9   takes RFC 3339 UTC times that begin a line)
    "Y-M-DTh:m:s.fff",        // 10
    "Y-M-DTh:m:s",            // 11
    "y/M/D h:m:s",            // 12 Spark: "17/06/09 20:10:40"
    "yMD hms",                // 13 HDFS: "081109 203615"
    "Y-M-D-h.m.s.ffffff",     // 14 BGL: "2005-06-03-15.42.50.675872"
    "M-D h:m:s.fff",          // 15 Android logcat: "03-17 16:13:38.811"
    "a b D h:m:s Y",          // 16 Apache error log, ctime: "Sun Dec 04 04:47:44 2005"
    "YMD-h:m:s:fff",          // 17 HealthApp: "20171223-22:15:29:606"
    "M.D h:m:s",              // 18 Proxifier: "10.30 16:49:06"
    "b D, Y h:m:s",           // 19 "Dec 10, 2020 06:55:46"
};
constexpr size_t kFormCount = kForms.size();

// A time is looked for in the first bytes of a row only: a log line's stamp is at its start or
// after a short prefix (a client address, a file name, an epoch number).
constexpr size_t kMaxTimeOffset = 64;
// EncodeTimeText gives up when fewer than 3 in 8 of this many rows, spread over the block, hold
// a time (it keeps a block only where at least half of its rows do).
constexpr size_t kSampleRows = 64;
// Years a value may stand for (the renderer's four digits; values are never negative).
constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59

constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::string_view kWeekdays[7] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};

constexpr int64_t kPow10[10] = {1,      10,      100,      1000,      10000,
                                100000, 1000000, 10000000, 100000000, 1000000000};

bool Digit(char c) { return c >= '0' && c <= '9'; }

// The fields a form reads.
struct Fields {
  int64_t year = 2000, month = 1, day = 1, hour = 0, minute = 0, second = 0, frac = 0;
};

// Reads "n" digits of "s" at "*at" into "*v".
bool Digits(std::string_view s, size_t* at, int n, int64_t* v) {
  if (*at + static_cast<size_t>(n) > s.size()) return false;
  int64_t x = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[*at + static_cast<size_t>(i)];
    if (!Digit(c)) return false;
    x = x * 10 + (c - '0');
  }
  *at += static_cast<size_t>(n);
  *v = x;
  return true;
}

// Parses form "form" at the start of "s"; returns the bytes it took (0: no match).
size_t Parse(std::string_view form, std::string_view s, Fields* f) {
  size_t at = 0;
  for (char p : form) {
    switch (p) {
      case 'Y':
        if (!Digits(s, &at, 4, &f->year)) return 0;
        break;
      case 'y':
        if (!Digits(s, &at, 2, &f->year)) return 0;
        f->year += 2000;
        break;
      case 'M':
        if (!Digits(s, &at, 2, &f->month)) return 0;
        break;
      case 'D':
        if (!Digits(s, &at, 2, &f->day)) return 0;
        break;
      case 'e':
        if (at + 2 > s.size()) return 0;
        if (s[at] == ' ') {
          ++at;
          if (!Digits(s, &at, 1, &f->day)) return 0;
        } else if (!Digits(s, &at, 2, &f->day)) {
          return 0;
        }
        break;
      case 'E':
        if (!Digits(s, &at, 1, &f->day)) return 0;
        if (at < s.size() && Digit(s[at])) {
          f->day = f->day * 10 + (s[at] - '0');
          ++at;
        }
        break;
      case 'h':
        if (!Digits(s, &at, 2, &f->hour)) return 0;
        break;
      case 'm':
        if (!Digits(s, &at, 2, &f->minute)) return 0;
        break;
      case 's':
        if (!Digits(s, &at, 2, &f->second)) return 0;
        break;
      case 'f': {
        int64_t d;
        if (!Digits(s, &at, 1, &d)) return 0;
        f->frac = f->frac * 10 + d;
        break;
      }
      case 'b': {
        if (at + 3 > s.size()) return 0;
        const std::string_view name = s.substr(at, 3);
        int64_t m = 0;
        while (m < 12 && kMonths[m] != name) ++m;
        if (m == 12) return 0;
        f->month = m + 1;
        at += 3;
        break;
      }
      case 'a': {
        if (at + 3 > s.size()) return 0;
        const std::string_view name = s.substr(at, 3);
        bool found = false;
        for (std::string_view w : kWeekdays) found = found || w == name;
        if (!found) return 0;
        at += 3;
        break;
      }
      default:
        if (at >= s.size() || s[at] != p) return 0;
        ++at;
    }
  }
  return at;
}

bool Valid(const Fields& f) {
  return f.year >= 1970 && f.year <= 9999 && f.month >= 1 && f.month <= 12 && f.day >= 1 &&
         f.day <= 31 && f.hour <= 23 && f.minute <= 59 && f.second <= 59;
}

int64_t ValueOf(const Fields& f, int fraction_digits) {
  const int64_t days = DaysFromCivil(f.year, f.month, f.day);
  const int64_t seconds = days * 86400 + f.hour * 3600 + f.minute * 60 + f.second;
  return seconds * kPow10[fraction_digits] + f.frac;
}

// The fraction digits of each form (kForms), and the most bytes a form renders to.
constexpr std::array<int, kFormCount> kFractionDigits = [] {
  std::array<int, kFormCount> d{};
  for (size_t i = 0; i < kFormCount; ++i) {
    for (char c : kForms[i]) d[i] += c == 'f';
  }
  return d;
}();
constexpr size_t kMaxRendered = 48;

char* Two(int64_t v, char* out) {
  out[0] = static_cast<char>('0' + v / 10 % 10);
  out[1] = static_cast<char>('0' + v % 10);
  return out + 2;
}

// Writes the text of "value" in form "form_index" (an index into kForms) to "out" (at least
// kMaxRendered bytes) and returns its length; 0 when the value is out of range (a corrupt
// block). "date_days"/"date" cache the last day rendered.
size_t RenderTo(size_t form_index, int64_t value, char* out, int64_t* date_days, CivilDate* date) {
  const std::string_view form = kForms[form_index];
  const int digits = kFractionDigits[form_index];
  if (value < 0 || value / kPow10[digits] > kMaxSeconds) return 0;
  const int64_t seconds = value / kPow10[digits];
  const int64_t frac = value % kPow10[digits];
  const int64_t days = seconds / 86400;
  const int64_t tod = seconds % 86400;
  if (days != *date_days) {
    *date = CivilFromDays(days);
    *date_days = days;
  }
  const CivilDate& d = *date;
  char* o = out;
  int frac_left = digits;
  for (char p : form) {
    switch (p) {
      case 'Y':
        *o++ = static_cast<char>('0' + d.year / 1000 % 10);
        *o++ = static_cast<char>('0' + d.year / 100 % 10);
        o = Two(d.year, o);
        break;
      case 'y':
        if (d.year < 2000 || d.year > 2099) return 0;
        o = Two(d.year - 2000, o);
        break;
      case 'M': o = Two(d.month, o); break;
      case 'D': o = Two(d.day, o); break;
      case 'e':
        if (d.day < 10) {
          *o++ = ' ';
          *o++ = static_cast<char>('0' + d.day);
        } else {
          o = Two(d.day, o);
        }
        break;
      case 'E':
        if (d.day >= 10) *o++ = static_cast<char>('0' + d.day / 10);
        *o++ = static_cast<char>('0' + d.day % 10);
        break;
      case 'h': o = Two(tod / 3600, o); break;
      case 'm': o = Two(tod / 60 % 60, o); break;
      case 's': o = Two(tod % 60, o); break;
      case 'f':
        --frac_left;
        *o++ = static_cast<char>('0' + frac / kPow10[frac_left] % 10);
        break;
      case 'b':
        std::memcpy(o, kMonths[d.month - 1].data(), 3);
        o += 3;
        break;
      case 'a':
        std::memcpy(o, kWeekdays[((days % 7) + 7) % 7].data(), 3);
        o += 3;
        break;
      default: *o++ = p;
    }
  }
  return static_cast<size_t>(o - out);
}

// Renders times row after row: a row whose form and value are the previous row's (log lines of
// one second) copies its text, and the date is computed once a day.
class Renderer {
 public:
  // Appends the text of "value" in form "form_index"; false when out of range.
  bool Append(size_t form_index, int64_t value, std::string* out) {
    if (!Render(form_index, value)) return false;
    out->append(text_, len_);
    return true;
  }
  // Writes it to "out" (room for kMaxRendered bytes) and returns the end; nullptr when out of
  // range.
  char* Put(size_t form_index, int64_t value, char* out) {
    if (!Render(form_index, value)) return nullptr;
    std::memcpy(out, text_, len_);
    return out + len_;
  }

 private:
  bool Render(size_t form_index, int64_t value) {
    if (form_index != form_ || value != value_ || len_ == 0) {
      len_ = RenderTo(form_index, value, text_, &date_days_, &date_);
      form_ = form_index;
      value_ = value;
    }
    return len_ != 0;
  }

  size_t form_ = SIZE_MAX;
  int64_t value_ = 0;
  size_t len_ = 0;
  int64_t date_days_ = INT64_MIN;
  CivilDate date_{};
  char text_[kMaxRendered];
};

// Appends the text of "value" in form "form_index" to "out"; false when out of range.
bool Render(size_t form_index, int64_t value, std::string* out) {
  Renderer r;
  return r.Append(form_index, value, out);
}

// Each form's first literal byte and its offset in the text (the fields before it have fixed
// widths), or -1 when a variable-width day comes first: a filter before Parse, since most
// offsets of a line begin no time.
struct Signature {
  int offset = -1;
  char byte = 0;
};
constexpr std::array<Signature, kFormCount> kSignatures = [] {
  std::array<Signature, kFormCount> out{};
  for (size_t i = 0; i < kFormCount; ++i) {
    int at = 0;
    for (char c : kForms[i]) {
      if (c == 'e' || c == 'E') break;
      if (c == 'Y') {
        at += 4;
      } else if (c == 'b' || c == 'a') {
        at += 3;
      } else if (c == 'y' || c == 'M' || c == 'D' || c == 'h' || c == 'm' || c == 's') {
        at += 2;
      } else if (c == 'f') {
        at += 1;
      } else {
        out[i] = Signature{at, c};
        break;
      }
    }
  }
  return out;
}();

// Whether a form may begin with byte "c" (a cheap filter before Parse).
bool MayBegin(size_t form_index, char c) {
  const char p = kForms[form_index][0];
  if (p == 'b')
    return c == 'J' || c == 'F' || c == 'M' || c == 'A' || c == 'S' || c == 'O' || c == 'N' ||
           c == 'D';
  if (p == 'a') return c == 'M' || c == 'T' || c == 'W' || c == 'F' || c == 'S';
  return Digit(c);
}

// The time of form "form_index" at offset "at" of "s", if it renders back to the same bytes and
// stands alone (no digit right before or after it); its length, 0 otherwise.
size_t TimeAt(std::string_view s, size_t at, size_t form_index, int64_t* value,
              std::string* rendered) {
  if (at >= s.size() || !MayBegin(form_index, s[at])) return 0;
  const Signature sig = kSignatures[form_index];
  if (sig.offset >= 0 && (at + static_cast<size_t>(sig.offset) >= s.size() ||
                          s[at + static_cast<size_t>(sig.offset)] != sig.byte)) {
    return 0;
  }
  if (at > 0 && Digit(s[at - 1])) return 0;
  Fields f;
  const size_t n = Parse(kForms[form_index], s.substr(at), &f);
  if (n == 0 || !Valid(f)) return 0;
  const int digits = kFractionDigits[form_index];
  if (f.year > 2261 && digits > 8) return 0;  // seconds * 10^9 past int64
  if (at + n < s.size() && Digit(s[at + n]) && Digit(s[at + n - 1])) return 0;
  *value = ValueOf(f, digits);
  rendered->clear();
  if (!Render(form_index, *value, rendered) || *rendered != s.substr(at, n)) return 0;
  return n;
}

// A time among the first kMaxTimeOffset bytes of "s" (the first, unless the hint holds one):
// its form (1 + index, 0 for none), offset, length and value.
int64_t FindTime(std::string_view s, int64_t hint_form, size_t hint_at, size_t* at, size_t* len,
                 int64_t* value, std::string* rendered) {
  // Rows of a block mostly share their form and offset: the previous row's are tried first.
  // (Any time that renders back will do: the first in the row is not needed.)
  if (hint_form > 0) {
    const size_t n = TimeAt(s, hint_at, static_cast<size_t>(hint_form - 1), value, rendered);
    if (n > 0) {
      *at = hint_at;
      *len = n;
      return hint_form;
    }
  }
  const size_t limit = std::min(s.size(), kMaxTimeOffset);
  for (size_t i = 0; i < limit; ++i) {
    // A time stands alone: never right after a digit.
    if (i > 0 && Digit(s[i - 1])) continue;
    for (size_t k = 0; k < kFormCount; ++k) {
      const size_t n = TimeAt(s, i, k, value, rendered);
      if (n > 0) {
        *at = i;
        *len = n;
        return static_cast<int64_t>(k + 1);
      }
    }
  }
  return 0;
}

struct Parsed {
  bool referenced = false;  // the values are stored less the rows' times
  std::vector<int64_t> forms;
  std::vector<int64_t> offsets;
  std::vector<int64_t> values;
  std::string_view text;  // the text block and what follows it
};

// A time of form "form_index" in the units of its values, from ns since the epoch (rounded down).
int64_t InFormUnits(size_t form_index, int64_t ns) {
  const int64_t unit = kPow10[9 - kFractionDigits[form_index]];
  int64_t q = ns / unit;
  if (ns % unit != 0 && ns < 0) --q;
  return q;
}

// The values of a referenced block (stored less the rows' times) back to times: "times" holds
// the ts of the block's first "times_count" rows; the block has "count" rows, of which "p" holds
// the first forms.size() (all, or those a read through a row needs: ParseBody's "through"),
// whose times must be given.
Status AddRowTimes(const int64_t* times, size_t times_count, size_t count, Parsed* p) {
  const size_t rows = p->forms.size();
  if (times == nullptr || (rows == count ? times_count != count : times_count < rows)) {
    return Status::DataLoss(
        "text with times stored against its rows' times, which were not given for its " +
        std::to_string(rows == count ? count : rows) + (rows == count ? "" : " first") + " rows" +
        (times == nullptr ? std::string() : " (" + std::to_string(times_count) + " given)"));
  }
  size_t k = 0;
  for (size_t i = 0; i < rows; ++i) {
    if (p->forms[i] == 0) continue;
    const int64_t ref = InFormUnits(static_cast<size_t>(p->forms[i] - 1), times[i]);
    p->values[k] =
        static_cast<int64_t>(static_cast<uint64_t>(p->values[k]) + static_cast<uint64_t>(ref));
    ++k;
  }
  return Status::OK();
}

// The blocks of times of "body" for "count" rows; with "through" below "count" (a read of the
// rows before it) only what those rows need: the forms of the first "through" rows, the offsets
// and times of the timed ones among them, nothing of the rest looked at (as an RLE block read
// so far, DecodeIntColumnThrough).
Status ParseBody(std::string_view body, size_t count, size_t through, Parsed* p) {
  std::string_view forms_block, offsets_block, values_block;
  if (body.empty() || static_cast<uint8_t>(body[0]) > 1) {
    return Status::DataLoss(
        "text with times: malformed header (reference " +
        (body.empty() ? std::string("missing") : std::to_string(static_cast<uint8_t>(body[0]))) +
        ")");
  }
  p->referenced = body[0] == 1;
  body.remove_prefix(1);
  if (!GetLengthPrefixed(&body, &forms_block) || !GetLengthPrefixed(&body, &offsets_block) ||
      !GetLengthPrefixed(&body, &values_block)) {
    return Status::DataLoss("text with times: malformed header");
  }
  const bool whole = through >= count;
  p->forms.clear();
  RETURN_IF_ERROR(DecodeIntColumnThrough(forms_block, count, whole ? count : through, &p->forms));
  if (whole ? p->forms.size() != count : p->forms.size() < through || p->forms.size() > count) {
    return Status::DataLoss("text with times: " + std::to_string(p->forms.size()) +
                            " time forms for " + std::to_string(count) + " rows");
  }
  if (!whole) p->forms.resize(through);  // (whole runs may hold more)
  size_t timed = 0;
  for (size_t i = 0; i < p->forms.size(); ++i) {
    const int64_t form = p->forms[i];
    if (form < 0 || form > static_cast<int64_t>(kFormCount)) {
      return Status::DataLoss("text with times: row " + std::to_string(i) + " has time form " +
                              std::to_string(form) + ", not one of 0 to " +
                              std::to_string(kFormCount));
    }
    timed += form != 0;
  }
  p->offsets.clear();
  p->values.clear();
  if (whole) {
    RETURN_IF_ERROR(DecodeIntColumn(offsets_block, timed, &p->offsets));
    RETURN_IF_ERROR(DecodeIntColumn(values_block, timed, &p->values));
  } else {
    // The timed rows among those read come first; the block holds at most one a row.
    RETURN_IF_ERROR(DecodeIntColumnThrough(offsets_block, count, timed, &p->offsets));
    RETURN_IF_ERROR(DecodeIntColumnThrough(values_block, count, timed, &p->values));
    if (p->offsets.size() > timed) p->offsets.resize(timed);
    if (p->values.size() > timed) p->values.resize(timed);
  }
  if (p->offsets.size() != timed || p->values.size() != timed) {
    return Status::DataLoss("text with times: " + std::to_string(p->offsets.size()) +
                            " offsets and " + std::to_string(p->values.size()) + " times for " +
                            std::to_string(timed) + " rows with a time");
  }
  p->text = body;
  if (p->referenced) {
    RETURN_IF_ERROR(AddRowTimes(RowTimesScope::times(), RowTimesScope::count(), count, p));
  }
  return Status::OK();
}

Status BadOffset(size_t row, int64_t at, size_t size) {
  return Status::DataLoss("text with times: row " + std::to_string(row) + " has its time at byte " +
                          std::to_string(at) + " of a " + std::to_string(size) + "-byte text");
}

Status BadValue(size_t row, int64_t value) {
  return Status::DataLoss("text with times: row " + std::to_string(row) + " has time value " +
                          std::to_string(value) + ", out of range");
}

// Puts a block's times back (TimesBack): row "i"'s "rest" with its time at its offset.
class TimeTextBack final : public TimesBack {
 public:
  // The block's times (and, where they are stored against the rows' ts, those of the
  // RowTimesScope) and "*rest", each row's text with its time cut out (into "*scratch").
  Status ParseWithTexts(std::string_view body, size_t count, std::vector<std::string_view>* rest,
                        std::string* scratch) {
    RETURN_IF_ERROR(Parse(body, count));
    return ReadTextAfterTimes(kWhat, p_.text, 0, p_.text.size(), count, nullptr, rest, scratch);
  }
  Status Parse(std::string_view body, size_t count) override {
    return ParseBody(body, count, through_, &p_);
  }
  // Parse only as far as the rows up to through - 1 need (a read of rows no further).
  void ParseThrough(size_t through) { through_ = through; }
  const Parsed& parsed() const { return p_; }
  bool Timed(size_t row) const override { return p_.forms[row] != 0; }
  Status Put(size_t i, size_t k, std::string_view rest, std::string* arena) override {
    const int64_t form = p_.forms[i];
    if (form == 0) {
      arena->append(rest);
      return Status::OK();
    }
    const int64_t at = p_.offsets[k];
    const int64_t value = p_.values[k];
    if (at < 0 || static_cast<uint64_t>(at) > rest.size()) return BadOffset(i, at, rest.size());
    arena->append(rest.substr(0, static_cast<size_t>(at)));
    if (!times_.Append(static_cast<size_t>(form - 1), value, arena)) return BadValue(i, value);
    arena->append(rest.substr(static_cast<size_t>(at)));
    return Status::OK();
  }

 private:
  Parsed p_;
  size_t through_ = SIZE_MAX;
  Renderer times_;
};

Status DecodeTimeText(std::string_view body, size_t count, std::vector<std::string_view>* out,
                      std::string* arena) {
  TimeTextBack back;
  std::vector<std::string_view> rest;
  std::string unused;
  RETURN_IF_ERROR(back.ParseWithTexts(body, count, &rest, &unused));
  const Parsed& p = back.parsed();
  // Every row written once into an arena of room enough (the texts and the longest rendering
  // of each time), then cut to what was written.
  size_t bytes = 0;
  for (std::string_view r : rest) bytes += r.size();
  arena->resize(bytes + p.values.size() * kMaxRendered);
  char* const begin = arena->data();
  char* o = begin;
  std::vector<size_t> ends(count);
  size_t k = 0;
  Renderer times;
  for (size_t i = 0; i < count; ++i) {
    const std::string_view r = rest[i];
    if (p.forms[i] == 0) {
      std::memcpy(o, r.data(), r.size());
      o += r.size();
    } else {
      const int64_t at = p.offsets[k];
      const int64_t value = p.values[k];
      ++k;
      if (at < 0 || static_cast<uint64_t>(at) > r.size()) return BadOffset(i, at, r.size());
      std::memcpy(o, r.data(), static_cast<size_t>(at));
      o += at;
      o = times.Put(static_cast<size_t>(p.forms[i] - 1), value, o);
      if (o == nullptr) return BadValue(i, value);
      std::memcpy(o, r.data() + at, r.size() - static_cast<size_t>(at));
      o += r.size() - static_cast<size_t>(at);
    }
    ends[i] = static_cast<size_t>(o - begin);
  }
  arena->resize(static_cast<size_t>(o - begin));
  AppendArenaViews(*arena, ends, out);
  return Status::OK();
}

// The bytes of the header (encoding, count, the three int blocks) at the front of "block", or 0
// when "block" is too short to hold them.
size_t HeaderBytes(std::string_view block) {
  if (block.empty()) return 0;
  std::string_view in = block.substr(1);
  uint64_t count;
  std::string_view a, b, c;
  if (!GetVarint64(&in, &count) || in.empty()) return 0;
  in.remove_prefix(1);  // reference
  if (!GetLengthPrefixed(&in, &a) || !GetLengthPrefixed(&in, &b) || !GetLengthPrefixed(&in, &c)) {
    return 0;
  }
  return block.size() - in.size();
}

}  // namespace

RowTimesScope::RowTimesScope(const int64_t* times, size_t count, const void* owner, uint32_t block)
    : prev_times_(row_times),
      prev_count_(row_times_count),
      prev_owner_(row_times_owner),
      prev_block_(row_times_block) {
  row_times = times;
  row_times_count = count;
  row_times_owner = owner;
  row_times_block = block;
}

RowTimesScope::~RowTimesScope() {
  row_times = prev_times_;
  row_times_count = prev_count_;
  row_times_owner = prev_owner_;
  row_times_block = prev_block_;
}

const int64_t* RowTimesScope::times() { return row_times; }
size_t RowTimesScope::count() { return row_times_count; }
bool RowTimesScope::HeldFor(const void* owner, uint32_t block, size_t count) {
  return row_times != nullptr && owner != nullptr && row_times_owner == owner &&
         row_times_block == block && row_times_count == count;
}
bool RowTimesScope::HeldThrough(const void* owner, uint32_t block, size_t through) {
  return row_times != nullptr && owner != nullptr && row_times_owner == owner &&
         row_times_block == block && row_times_count >= through;
}

bool TimeTextNeedsRowTimes(std::string_view block) {
  if (block.empty() || static_cast<Encoding>(block[0]) != Encoding::kTimeText) return false;
  std::string_view in = block.substr(1);
  uint64_t count;
  return GetVarint64(&in, &count) && !in.empty() && in[0] == 1;
}

bool EncodeTimeText(const std::string_view* values, size_t count, std::string* out,
                    bool marked_lines, const int64_t* times) {
  if (count < 2) return false;
  std::string rendered;
  // A sample first (rows are grouped by source inside a block, so it is spread over the block):
  // text where few rows hold a time is not scanned whole.
  {
    const size_t sample = std::min<size_t>(count, kSampleRows);
    size_t timed = 0;
    for (size_t i = 0; i < sample; ++i) {
      size_t at, len;
      int64_t value;
      timed += FindTime(values[i * count / sample], 0, 0, &at, &len, &value, &rendered) != 0;
    }
    if (timed * 8 < sample * 3) return false;
  }
  std::vector<uint64_t> forms(count);
  std::vector<int64_t> offsets, times_values;
  std::string cut;               // the rests of the rows with a time, one after another
  std::vector<size_t> cut_ends;  // where each ends in "cut"
  std::vector<std::string_view> rest(count);
  std::vector<size_t> cut_of;
  offsets.reserve(count);
  times_values.reserve(count);
  cut_ends.reserve(count);
  int64_t hint_form = 0;
  size_t hint_at = 0;
  for (size_t row = 0; row < count; ++row) {
    size_t at = 0, len = 0;
    int64_t value = 0;
    const int64_t form = FindTime(values[row], hint_form, hint_at, &at, &len, &value, &rendered);
    forms[row] = static_cast<uint64_t>(form);
    rest[row] = values[row];
    if (form == 0) continue;
    hint_form = form;
    hint_at = at;
    offsets.push_back(static_cast<int64_t>(at));
    times_values.push_back(value);
    cut.append(values[row].substr(0, at));
    cut.append(values[row].substr(at + len));
    cut_of.push_back(row);
    cut_ends.push_back(cut.size());
  }
  // Worth a layout of its own only where most rows hold a time.
  if (times_values.size() * 2 < count) return false;
  // (Views into "cut" once it no longer grows.)
  size_t begin = 0;
  for (size_t i = 0; i < cut_ends.size(); ++i) {
    rest[cut_of[i]] = std::string_view(cut).substr(begin, cut_ends[i] - begin);
    begin = cut_ends[i];
  }
  out->push_back(static_cast<char>(Encoding::kTimeText));
  PutVarint64(out, count);
  out->push_back(times != nullptr ? 1 : 0);
  if (times != nullptr) {
    size_t k = 0;
    for (size_t row = 0; row < count; ++row) {
      if (forms[row] == 0) continue;
      const int64_t ref = InFormUnits(static_cast<size_t>(forms[row] - 1), times[row]);
      times_values[k] =
          static_cast<int64_t>(static_cast<uint64_t>(times_values[k]) - static_cast<uint64_t>(ref));
      ++k;
    }
  }
  std::string block;
  EncodeRle(forms.data(), count, &block);
  PutLengthPrefixed(out, block);
  block.clear();
  std::vector<uint64_t> at(offsets.begin(), offsets.end());
  EncodeRle(at.data(), at.size(), &block);
  PutLengthPrefixed(out, block);
  block.clear();
  EncodeIntsSmallest(times_values.data(), times_values.size(), &block);
  PutLengthPrefixed(out, block);
  EncodeRowTexts(rest.data(), count, marked_lines, out);
  return true;
}

uint64_t TimeTextBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row) {
  if (prefix.empty()) return 0;
  if (static_cast<Encoding>(prefix[0]) != Encoding::kTimeText) return UINT64_MAX;
  return TextBytesThroughAfter(prefix, HeaderBytes(prefix), max_count, last_row);
}

Status DecodeTimeTextRows(std::string_view prefix, uint64_t raw_size, size_t max_count,
                          const std::vector<uint32_t>& rows, std::vector<std::string_view>* views,
                          std::string* arena) {
  TimeTextBack times;
  if (!rows.empty()) times.ParseThrough(rows.back() + size_t{1});
  return DecodeRowsWithTimes(kWhat, prefix, HeaderBytes(prefix), raw_size, max_count, rows, &times,
                             views, arena);
}

Status DecodeRowsWithTimes(std::string_view what, std::string_view prefix, size_t header,
                           uint64_t raw_size, size_t max_count, const std::vector<uint32_t>& rows,
                           TimesBack* times, std::vector<std::string_view>* views,
                           std::string* arena) {
  std::string_view body;
  RETURN_IF_ERROR(CheckTimesHeader(what, prefix, header, raw_size, max_count, &body));
  RETURN_IF_ERROR(times->Parse(body, max_count));
  std::vector<std::string_view> rest;
  std::string unused;
  RETURN_IF_ERROR(
      ReadTextAfterTimes(what, prefix, header, raw_size, max_count, &rows, &rest, &unused));
  arena->clear();
  views->clear();
  return PutTimesBack(max_count, &rows, rest, times, views, arena);
}

Status CheckTimesHeader(std::string_view what, std::string_view prefix, size_t header,
                        uint64_t raw_size, size_t max_count, std::string_view* body) {
  if (header == 0 || header > raw_size) {
    return Status::DataLoss(std::string(what) + ": malformed header");
  }
  std::string_view in = prefix.substr(1);
  uint64_t count;
  if (!GetVarint64(&in, &count) || count != max_count) {
    return Status::DataLoss(std::string(what) + ": bad value count");
  }
  *body = in;
  return Status::OK();
}

Status ReadTextAfterTimes(std::string_view what, std::string_view prefix, size_t header,
                          uint64_t raw_size, size_t count, const std::vector<uint32_t>* rows,
                          std::vector<std::string_view>* rest, std::string* scratch) {
  const std::string_view text = prefix.substr(std::min(header, prefix.size()));
  if (text.empty() || (static_cast<Encoding>(text[0]) != Encoding::kPlain &&
                       static_cast<Encoding>(text[0]) != Encoding::kMarkedLines)) {
    return Status::DataLoss(std::string(what) + ": its text is not a plain or marked lines block");
  }
  rest->clear();
  if (rows == nullptr) {
    RETURN_IF_ERROR(DecodeStringColumn(text, count, rest, scratch));
  } else {
    RETURN_IF_ERROR(DecodeTextRows(text, raw_size - header, count, *rows, rest));
  }
  const size_t want = rows == nullptr ? count : rows->size();
  if (rest->size() != want) {
    return Status::DataLoss(std::string(what) + ": " + std::to_string(rest->size()) +
                            " texts read for " + std::to_string(want) + " rows");
  }
  return Status::OK();
}

Status PutTimesBack(size_t count, const std::vector<uint32_t>* rows,
                    const std::vector<std::string_view>& rest, TimesBack* times,
                    std::vector<std::string_view>* views, std::string* arena) {
  std::vector<size_t> ends;
  ends.reserve(rest.size());
  size_t k = 0, next = 0;  // the row's place among the rows with a time; the next listed row
  for (size_t i = 0; i < count && next < rest.size(); ++i) {
    if (rows != nullptr && (*rows)[next] != i) {
      k += times->Timed(i);
      continue;
    }
    RETURN_IF_ERROR(times->Put(i, k, rest[next++], arena));
    k += times->Timed(i);
    ends.push_back(arena->size());
  }
  AppendArenaViews(*arena, ends, views);
  return Status::OK();
}

bool WordMayBeInTime(std::string_view word, bool prefix) {
  for (char c : word) {
    if (Digit(c)) return true;
  }
  auto names = [&](const std::string_view* list, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const std::string_view name = list[i];
      if (word.size() > name.size() || (!prefix && word.size() != name.size())) continue;
      bool same = true;
      for (size_t j = 0; j < word.size() && same; ++j) {
        const char c = name[j];
        same = word[j] == (c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
      }
      if (same) return true;
    }
    return false;
  };
  return names(kMonths, 12) || names(kWeekdays, 7);
}

Status KeepTimeTextRowsPassing(std::string_view block, size_t count, const TextTest& test,
                               std::vector<uint32_t>* rows, std::vector<std::string>* kept) {
  if (rows->empty()) return Status::OK();
  if (rows->back() >= count) {  // (ascending: the last is the largest)
    return Status::DataLoss(std::string(kWhat) + ": holds no row " + std::to_string(rows->back()));
  }
  std::string_view body;
  RETURN_IF_ERROR(CheckTimesHeader(kWhat, block, HeaderBytes(block), block.size(), count, &body));
  // Only the rows tested are split out of the text, and the times parsed through the last.
  TimeTextBack times;
  times.ParseThrough(rows->back() + size_t{1});
  RETURN_IF_ERROR(times.Parse(body, count));
  const Parsed& p = times.parsed();
  const bool all = rows->size() == count;  // (then row j is rows[j])
  std::vector<std::string_view> rest;      // the text of rows[j] without its time
  std::string unused;
  RETURN_IF_ERROR(ReadTextAfterTimes(kWhat, p.text, 0, p.text.size(), count, all ? nullptr : rows,
                                     &rest, &unused));
  const bool around = test.AvoidsTimes();
  auto word_byte = [](char c) { return index::IsWordByte(static_cast<unsigned char>(c)); };
  std::string line;                           // a row rendered
  size_t kept_rows = 0, k = 0, i = 0, j = 0;  // k: the rows with a time before row i
  for (; j < rows->size(); ++j) {
    const uint32_t row = (*rows)[j];
    for (; i < row; ++i) k += p.forms[i] != 0;
    const std::string_view text = rest[j];
    bool rendered = false;
    bool passes;
    if (p.forms[row] == 0) {
      passes = test.Passes(text);
    } else {
      const int64_t at = p.offsets[k];
      if (at < 0 || static_cast<uint64_t>(at) > text.size()) return BadOffset(row, at, text.size());
      const size_t cut = static_cast<size_t>(at);
      if (around && (cut == 0 || !word_byte(text[cut - 1])) &&
          (cut == text.size() || !word_byte(text[cut]))) {
        passes = test.PassesAround(text.substr(0, cut), text.substr(cut));
      } else {
        line.clear();
        RETURN_IF_ERROR(times.Put(row, k, text, &line));
        rendered = true;
        passes = test.Passes(line);
      }
    }
    if (!passes) continue;
    (*rows)[kept_rows++] = row;
    if (p.forms[row] == 0) {
      kept->emplace_back(text);
    } else if (rendered) {
      kept->push_back(line);
    } else {
      std::string& value = kept->emplace_back();
      RETURN_IF_ERROR(times.Put(row, k, text, &value));
    }
  }
  rows->resize(kept_rows);
  return Status::OK();
}

extern const ColumnEncoding kTimeTextEncoding;  // registered in column_encoding.cc
const ColumnEncoding kTimeTextEncoding{Encoding::kTimeText, "time-text", nullptr, &DecodeTimeText};

}  // namespace sawmill::segment
