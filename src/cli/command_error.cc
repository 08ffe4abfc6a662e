#include "cli/command_error.h"

#include <cstdarg>
#include <cstdio>

namespace sawmill::cli {

void PrintError(std::string_view command, const char* format, ...) {
  std::fprintf(stderr, "sawmill %.*s: ", static_cast<int>(command.size()), command.data());
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
}

void PrintError(std::string_view command, const Status& status) {
  PrintError(command, "%s\n", status.message().c_str());
}

}  // namespace sawmill::cli
