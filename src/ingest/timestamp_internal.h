// Helpers shared by the normaliser's files (timestamp.cc, plain_line.cc, normalize.cc) and the
// protocol decoders of src/ingest. Not part of the normalize.h contract.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "sawmill/record.h"

namespace sawmill {
class TimeZone;
}  // namespace sawmill

namespace sawmill::ingest {

// How far into a plain text line a timestamp may start (bytes) and how many words are searched
// for a level.
inline constexpr size_t kTimestampWindow = 80;
inline constexpr size_t kLevelWords = 12;

// An integer epoch of unknown unit, by magnitude: < 1e11 seconds, < 1e14 ms, < 1e17 us, else ns.
// Negative values give nullopt.
std::optional<int64_t> EpochIntToNanos(int64_t value);

// The first timestamp that starts at the beginning of a word within the first kTimestampWindow
// bytes of "line". Bare epoch numbers count only with 10/13/16/19 digits and a year in
// 1990..2099, and only where a time is written (the leading word, the value of a time-named key,
// a format's time column: see EpochAllowedAt in timestamp.cc), so that ids, sizes and counters
// are not taken for times.
// A time written without a zone is local to "zone" (null: UTC).
std::optional<int64_t> FindTimestampNearStart(std::string_view line, int64_t now_ns,
                                              const TimeZone* zone = nullptr);

// The first level token among the first kLevelWords words of "line" (see plain_line.cc for
// what counts as a level token in free text).
std::optional<Level> FindLevelNearStart(std::string_view line);

// A level written as a JSON value or label: a name ParseLevel knows, "DEBUG1".."DEBUG5",
// "VERBOSE"/"V", or a number (0..7 syslog severity, 10..60 pino/bunyan).
std::optional<Level> LevelFromText(std::string_view text);
std::optional<Level> LevelFromNumber(int64_t value);

}  // namespace sawmill::ingest
