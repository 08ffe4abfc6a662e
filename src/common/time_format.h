// Civil dates and RFC 3339 text, written once: the API's JSON answers (http/json_writer), the
// query language's instants and rendered timestamps (query/time_range), the normaliser's
// timestamp recognition (ingest/timestamp) and the ISO-time column encoding (segment/).
// All in UTC on the proleptic Gregorian calendar; leap seconds are not counted (POSIX time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sawmill {

struct CivilDate {
  int64_t year;  // astronomical: year 0 is 1 BC, -1 is 2 BC
  int month;     // 1..12
  int day;       // 1..31
};

// Days since 1970-01-01 (negative before it) of year-month-day, for any int32 year (Howard
// Hinnant's days_from_civil). REQUIRES: 1 <= month <= 12. "day" is not checked against the
// month: day 0 is the last day of the previous month, day 32 of January is February 1st.
int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day);

// The date of a day count (the inverse of DaysFromCivil).
CivilDate CivilFromDays(int64_t days);

// Fraction digits for AppendRfc3339: as few as needed (none for a whole second).
inline constexpr int kShortestFraction = -1;

// Appends "ns" (since the epoch, negative before it) as "YYYY-MM-DDTHH:MM:SS[.f]Z" to "*out"
// with "fraction_digits" digits (0: no fraction, 9: nanoseconds; fewer cut, never round) or
// kShortestFraction. REQUIRES: -1 <= fraction_digits <= 9.
void AppendRfc3339(int64_t ns, int fraction_digits, std::string* out);

// "2026-11-30T10:00:00Z", "2026-11-30T10:00:01.5Z": the shortest exact form.
std::string FormatRfc3339(int64_t ns);

// "2026-11-30T10:00:00.000000000Z": always nine fraction digits (fixed width, sorts as text).
std::string FormatRfc3339Nanos(int64_t ns);

// Parses an RFC 3339 date-time: "YYYY-MM-DD" "T" (or "t" or a space) "HH:MM:SS", an optional
// fraction of 1 or more digits (digits past the ninth are ignored), then "Z", "z" or a +HH:MM /
// -HH:MM offset. Seconds may be 60 (a leap second reads as the next second). Returns ns since the
// epoch, or nullopt for anything else, including instants an int64 of nanoseconds cannot hold
// (before 1677-09-21 or after 2262-04-11).
std::optional<int64_t> ParseRfc3339(std::string_view text);

}  // namespace sawmill
