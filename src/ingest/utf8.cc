// UTF-8 repair of ingested text: every maximal invalid subpart becomes one U+FFFD (the rule is
// in common/utf8.h).
#include "common/utf8.h"

#include <simdjson.h>

#include <string>

#include "ingest/normalize.h"

namespace sawmill::ingest {

bool SanitizeUtf8(std::string* text) {
  if (simdjson::validate_utf8(text->data(), text->size())) return false;
  const auto* s = reinterpret_cast<const unsigned char*>(text->data());
  const size_t n = text->size();
  std::string out;
  out.reserve(n + 16);
  size_t i = 0;
  while (i < n) {
    size_t bad = 0;
    size_t len = Utf8SequenceLength(s, n, i, &bad);
    if (len > 0) {
      out.append(text->data() + i, len);
      i += len;
    } else {
      out.append(kUtf8Replacement, 3);
      i += bad;
    }
  }
  text->swap(out);
  return true;
}

}  // namespace sawmill::ingest
