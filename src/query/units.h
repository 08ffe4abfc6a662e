// Values with units in comparisons: durations as Go writes them ("1.5s", "250ms", "1h30m") and
// byte sizes as go-humanize parses them ("1KB" = 1000, "1KiB" = 1024, "3 MB", "512"), the two
// kinds Loki's label filters compare (`| duration > 10s`, `| size > 1KB`). The native query
// language uses them for `field>10s` and `field>=1KiB` (docs/query-language.md), and the LogQL
// translation passes them through.
#pragma once

#include <optional>
#include <string_view>

namespace sawmill::query {

// A Go duration (time.ParseDuration): an optional sign, then one or more <decimal><unit> with
// units ns, us, µs, ms, s, m, h; "0" alone. In seconds. nullopt for anything else (a bare
// number other than 0 has no unit and is not a duration).
std::optional<double> ParseGoDuration(std::string_view text);

// A byte size (go-humanize ParseBytes): a decimal (commas allowed), optional spaces, an optional
// unit, case-insensitive: b; k, kb (1000), ki, kib (1024); m, mb, mi, mib; g..., t..., p..., e...
// In bytes. nullopt for anything else.
std::optional<double> ParseByteSize(std::string_view text);

}  // namespace sawmill::query
