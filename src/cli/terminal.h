// Small terminal helpers shared by the client commands (ingest, search, tail, admin).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace sawmill::cli {

inline bool IsTerminal(FILE* file) { return isatty(fileno(file)) == 1; }

// --color=auto|always|never; auto: a terminal, and NO_COLOR (no-color.org) unset.
inline bool UseColor(std::string_view mode, FILE* file) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  return IsTerminal(file) && (no_color == nullptr || *no_color == '\0');
}

}  // namespace sawmill::cli
