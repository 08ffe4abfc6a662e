#include "index/numeric_value.h"

#include <cstdlib>
#include <cstring>

namespace sawmill::index {

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  char c0 = text[0];
  if (!((c0 >= '0' && c0 <= '9') || c0 == '-' || c0 == '+' || c0 == '.')) return std::nullopt;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return std::nullopt;
    }
  }
  char copy[65];  // strtod needs a terminated string
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  char* end = nullptr;
  double v = std::strtod(copy, &end);
  if (end != copy + text.size()) return std::nullopt;
  return v;
}

}  // namespace sawmill::index
