#include "cli/command_error.h"

#include <cstdarg>
#include <cstdio>
#include <string>

namespace sawmill::cli {

void PrintError(std::string_view command, const char* format, ...) {
  // Formatted whole, then written at once: a log line of another thread cannot land inside it.
  std::string line = "sawmill " + std::string(command) + ": ";
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  if (n > 0) {
    const size_t head = line.size();
    line.resize(head + static_cast<size_t>(n) + 1);
    std::vsnprintf(line.data() + head, static_cast<size_t>(n) + 1, format, again);
    line.resize(head + static_cast<size_t>(n));
  }
  va_end(again);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void PrintError(std::string_view command, const Status& status) {
  PrintError(command, "%s\n", status.message().c_str());
}

}  // namespace sawmill::cli
