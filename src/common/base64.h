// Base64 as the HTTP Basic scheme and OTLP/JSON's bytes fields carry it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sawmill {

// Decodes "text" in the standard or the URL-safe alphabet ('+' or '-' 62, '/' or '_' 63), with
// or without padding: the first '=' ends it. A final group's leftover bits are dropped.
// nullopt when a byte before that is in neither alphabet.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace sawmill
