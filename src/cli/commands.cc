#include "cli/commands.h"

namespace sawmill::cli {

// One declaration and one table line per subcommand; each lives in its own <name>_command.cc.
int RunServerCommand(int argc, char** argv);
int RunAgentCommand(int argc, char** argv);
int RunIngestCommand(int argc, char** argv);
int RunSearchCommand(int argc, char** argv);
int RunContextCommand(int argc, char** argv);
int RunFieldsCommand(int argc, char** argv);
int RunValuesCommand(int argc, char** argv);
int RunTailCommand(int argc, char** argv);
int RunAdminCommand(int argc, char** argv);
int RunSegmentCommand(int argc, char** argv);
int RunCompletionCommand(int argc, char** argv);
int RunAlertsCommand(int argc, char** argv);

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"server", "run the server: HTTP API, ingestion, search, live tail", RunServerCommand},
      {"agent", "tail files, stdin or syslog and ship them to a server", RunAgentCommand},
      {"ingest", "send log lines from files or stdin to a server", RunIngestCommand},
      {"search", "search the logs, newest first", RunSearchCommand},
      {"context", "the lines around one record, from the same service and host", RunContextCommand},
      {"fields", "the field names of the newest matching lines, with counts", RunFieldsCommand},
      {"values", "the most frequent values of a field, with counts", RunValuesCommand},
      {"tail", "follow matching lines live", RunTailCommand},
      {"admin",
       "operator actions: flush, compact, segments, damage list|ack, tiers, nodes, token, "
       "audit, tenants, quotas, retention, hold, deletions, settings",
       RunAdminCommand},
      {"segment", "verify or dump segment files", RunSegmentCommand},
      {"alerts", "alerting rules: list, get, test (backtest), silence", RunAlertsCommand},
      {"completion", "print a bash or zsh completion script", RunCompletionCommand},
  };
  return kCommands;
}

}  // namespace sawmill::cli
