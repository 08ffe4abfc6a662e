// Helpers shared by the fuzz targets (fuzz/*.cc). A target's checks use FUZZ_CHECK, which
// aborts with the failed condition, so that libFuzzer and the regression runner both report
// a broken invariant as a crash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sawmill/record.h"

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace sawmill::fuzz {

// A fixed server clock (2024-05-01T12:00:00Z), so a run is reproducible.
inline constexpr int64_t kNowNs = 1714564800LL * 1000000000LL;

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
inline bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < n + 1) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// Aborts when "s" (the record member "what") is not valid UTF-8, printing it escaped.
inline void CheckUtf8(std::string_view what, std::string_view s) {
  if (IsValidUtf8(s)) return;
  std::fprintf(stderr, "invalid UTF-8 in %.*s: \"", static_cast<int>(what.size()), what.data());
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      std::fputc(c, stderr);
    } else {
      std::fprintf(stderr, "\\x%02x", c);
    }
  }
  std::fprintf(stderr, "\"\n");
  FUZZ_CHECK(IsValidUtf8(s));
}

// Every text of a record is valid UTF-8 (decoders repair what they are sent, flagging it).
inline void CheckRecordUtf8(const Record& r) {
  CheckUtf8("message", r.message);
  CheckUtf8("service", r.service);
  CheckUtf8("host", r.host);
  CheckUtf8("trace_id", r.trace_id);
  CheckUtf8("span_id", r.span_id);
  CheckUtf8("user_id", r.user_id);
  for (const auto& [k, v] : r.fields) {
    CheckUtf8("a field key", k);
    CheckUtf8(k, v);
  }
}

}  // namespace sawmill::fuzz
