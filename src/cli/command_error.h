// How the commands print their errors: "sawmill COMMAND: " and the error on stderr.
#pragma once

#include <string_view>

#include "sawmill/status.h"

namespace sawmill::cli {

// "sawmill COMMAND: " (COMMAND as the user typed it: "search", "admin nodes") and then "format"
// as printf prints it (with its own newline) on stderr.
[[gnu::format(printf, 2, 3)]] void PrintError(std::string_view command, const char* format, ...);
// PrintError of the message of "status" (not its code) and a newline.
void PrintError(std::string_view command, const Status& status);

}  // namespace sawmill::cli
