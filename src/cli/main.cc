// The `sawmill` binary: a thin dispatcher to the subcommands of cli/commands.h.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

namespace {

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "Sawmill %s: log aggregation and search.\n\n"
               "Usage: sawmill <command> [options]\n"
               "       sawmill --help | --version\n\n"
               "Commands:\n",
               SAWMILL_VERSION);
  for (const auto& cmd : sawmill::cli::Commands()) {
    std::fprintf(out, "  %-10s %s\n", cmd.name, cmd.summary);
  }
  std::fprintf(out, "\nRun 'sawmill <command> --help' for the options of a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "sawmill: missing command\n\n");
    PrintUsage(stderr);
    return 2;
  }
  std::string arg = argv[1];
  if (arg == "--help" || arg == "-h" || arg == "help") {
    PrintUsage(stdout);
    return 0;
  }
  if (arg == "--version" || arg == "-V" || arg == "version") {
    std::printf("sawmill %s\n", SAWMILL_VERSION);
    return 0;
  }
  for (const auto& cmd : sawmill::cli::Commands()) {
    if (arg == cmd.name) return cmd.run(argc - 1, argv + 1);
  }
  if (!arg.empty() && arg[0] == '-') {
    std::fprintf(stderr, "sawmill: unknown option '%s'\n\n", arg.c_str());
  } else {
    std::fprintf(stderr, "sawmill: unknown command '%s'\n\n", arg.c_str());
  }
  PrintUsage(stderr);
  return 2;
}
