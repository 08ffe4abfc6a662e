// Durations and instants as users write them: "15m", "2026-11-30T10:00:00Z", epoch numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/time_format.h"

namespace sawmill::query {

// "30s", "15m", "1h", "7d", "2w", "500ms" (a positive integer and one unit) -> ns.
std::optional<int64_t> ParseDuration(std::string_view text);

// "1m", "5m", "1h", "90s": the shortest exact spelling of "ns".
std::string FormatDuration(int64_t ns);

// RFC 3339 ("2026-11-30T10:00:00Z", "2026-11-30T10:00:00.123+01:00"), or an integer of epoch
// seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude) -> ns.
std::optional<int64_t> ParseInstant(std::string_view text);

// Instants are rendered by FormatRfc3339 (common/time_format.h): "2026-11-30T10:01:00Z" (whole
// seconds) or with ".123456789" when "ns" has a fraction.

}  // namespace sawmill::query
