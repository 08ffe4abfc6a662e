// UTF-8 validation by sequence, the one definition behind the normaliser's repair
// (ingest::SanitizeUtf8) and the JSON writer (json_string.h).
#pragma once

#include <cstddef>

namespace sawmill {

// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr char kUtf8Replacement[] = "\xEF\xBF\xBD";

// The length (1 to 4) of the well-formed UTF-8 sequence that starts at s[i] (REQUIRES: i < n),
// or 0 with "*bad" set to the length of its maximal invalid subpart (at least 1): the bytes that
// one U+FFFD replaces under the Unicode standard's "substitution of maximal subparts" (section
// 3.9), the practice of browsers and ICU. Overlong forms, surrogates and values past U+10FFFF
// are invalid.
size_t Utf8SequenceLength(const unsigned char* s, size_t n, size_t i, size_t* bad);

}  // namespace sawmill
