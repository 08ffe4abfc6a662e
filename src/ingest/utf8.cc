// UTF-8 validation with replacement: every maximal invalid subpart becomes one U+FFFD, the
// practice of the Unicode standard (section 3.9, "U+FFFD Substitution of Maximal Subparts")
// that browsers and ICU follow.
#include <simdjson.h>

#include <string>

#include "ingest/normalize.h"

namespace sawmill::ingest {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

// The length of the valid sequence starting at s[i], or 0 with "*bad" set to the length of the
// maximal invalid subpart to replace (at least 1).
size_t ValidSequence(const unsigned char* s, size_t n, size_t i, size_t* bad) {
  unsigned char b = s[i];
  if (b < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;  // no surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    *bad = 1;
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= n) {
      *bad = k;
      return 0;
    }
    unsigned char c = s[i + k];
    bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) {
      *bad = k;
      return 0;
    }
  }
  return need + 1;
}

}  // namespace

bool SanitizeUtf8(std::string* text) {
  if (simdjson::validate_utf8(text->data(), text->size())) return false;
  const auto* s = reinterpret_cast<const unsigned char*>(text->data());
  const size_t n = text->size();
  std::string out;
  out.reserve(n + 16);
  size_t i = 0;
  while (i < n) {
    size_t bad = 0;
    size_t len = ValidSequence(s, n, i, &bad);
    if (len > 0) {
      out.append(text->data() + i, len);
      i += len;
    } else {
      out.append(kReplacement, 3);
      i += bad;
    }
  }
  text->swap(out);
  return true;
}

}  // namespace sawmill::ingest
