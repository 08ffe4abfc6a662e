// The value syntax of configuration options, one definition for `sawmill server` (flags and
// --config, http/server_config.h) and the agent (agent/options.h): sizes, durations, counts
// and booleans. The callers put the key, and the file and line where there is one, in front of
// these messages; the messages say what was expected and what was given.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sawmill/status.h"

namespace sawmill {

// A size in bytes: a number, optionally with a fraction, and a unit, case-insensitive, a space
// allowed between them: B; KB, MB, GB, TB (powers of 1000); KiB, MiB, GiB, TiB (powers of
// 1024); no unit: bytes. "64MiB", "1.5GiB", "10 GB", "4096". A lone K, M, G or T is refused as
// ambiguous (the server once read it as 1000, the agent as 1024). Errors: InvalidArgument
// ("expected a size such as 64MiB, ..., got '64X'"; "... is too large").
Result<uint64_t> ParseSize(std::string_view text);

// A duration in nanoseconds: one or more parts of a number (fraction allowed) and a unit, us,
// ms, s, m, h or d (24 h), largest first: "500ms", "10s", "1.5h", "1h30m", "2m 30s", "30d"; a
// plain number is seconds. Errors: InvalidArgument.
Result<int64_t> ParseDuration(std::string_view text);

// A whole number of decimal digits ("1000"); no sign, no fraction, no unit. Errors:
// InvalidArgument.
Result<uint64_t> ParseCount(std::string_view text);

// true, yes, on / false, no, off, case-insensitive. Errors: InvalidArgument.
Result<bool> ParseBool(std::string_view text);

// A duration kept in milliseconds as ParseDuration reads it back, in the largest whole unit:
// "24h", "90m", "20s", "1500ms", "0s".
std::string FormatMillis(uint64_t ms);

// A duration kept in milliseconds, in nanoseconds: capped at half of INT64_MAX nanoseconds
// (about 146 years), so that a sum of two never overflows.
int64_t MillisToNanos(uint64_t ms);

// The flag of an option key: "--node-timeout" for "node_timeout".
std::string FlagForKey(std::string_view key);

}  // namespace sawmill
