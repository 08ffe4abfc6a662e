// The one rule for "is this field value a number": the query language's numeric comparisons
// (`status>=500`) and the numeric range index must agree on it, or pruning would drop rows the
// comparison keeps.
#pragma once

#include <optional>
#include <string_view>

namespace sawmill::index {

// The value as a double when it is a decimal number: an optional sign, digits, an optional
// fraction and exponent ("500", "-1.5", "2e3", "+7"); at most 64 bytes. Anything else ("5xx",
// "0x1f", "nan", "", "1,000") is nullopt. Huge exponents give +-infinity, never NaN.
std::optional<double> ParseNumber(std::string_view text);

}  // namespace sawmill::index
