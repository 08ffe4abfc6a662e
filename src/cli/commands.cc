#include "cli/commands.h"

namespace sawmill::cli {

// One declaration and one table line per subcommand; each lives in its own <name>_command.cc.

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
  };
  return kCommands;
}

}  // namespace sawmill::cli
