// Subcommands of the `sawmill` binary. Each takes the arguments after its name
// (args[0] is "sawmill <name>") and returns the process exit code:
// 0 success, 1 failure, 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace sawmill::cli {

using CommandFn = int (*)(int argc, char** argv);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

// The table of subcommands, in the order `sawmill --help` lists them. Defined in commands.cc.
const std::vector<Command>& Commands();

}  // namespace sawmill::cli
