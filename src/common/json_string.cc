#include "common/json_string.h"

#include "common/utf8.h"

namespace sawmill {

void AppendJsonString(std::string_view text, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  out->reserve(out->size() + n + 2);
  out->push_back('"');
  size_t run_start = 0;  // the bytes since run_start are copied as they are
  size_t i = 0;
  while (i < n) {
    unsigned char c = bytes[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t bad = 0;
      size_t len = Utf8SequenceLength(bytes, n, i, &bad);
      if (len > 0) {
        i += len;
        continue;
      }
      out->append(text.data() + run_start, i - run_start);
      out->append(kUtf8Replacement, 3);
      i += bad;
      run_start = i;
      continue;
    }
    out->append(text.data() + run_start, i - run_start);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
    ++i;
    run_start = i;
  }
  out->append(text.data() + run_start, n - run_start);
  out->push_back('"');
}

std::string JsonString(std::string_view text) {
  std::string out;
  AppendJsonString(text, &out);
  return out;
}

}  // namespace sawmill
