// `sawmill agent --config agent.yaml` runs the agent; `sawmill agent status` reports on one.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "agent/agent.h"
#include "agent/agent_status.h"
#include "agent/config.h"
#include "cli/command_error.h"
#include "common/clock.h"

namespace sawmill::cli {

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int RunStatus(const std::string& config_path, std::string status_file, bool as_json) {
  if (status_file.empty()) {
    if (config_path.empty()) {
      PrintError("agent status", "give --config FILE or --status-file FILE\n");
      return 2;
    }
    auto config = agent::LoadAgentConfig(config_path);
    if (!config.ok()) {
      PrintError("agent status", config.status());
      return 2;
    }
    status_file = config->status_file;
  }
  std::ifstream in(status_file);
  if (!in) {
    PrintError("agent status", "no status file at %s (is the agent running?)\n",
               status_file.c_str());
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto report = agent::ParseStatusJson(text.str());
  if (!report.ok()) {
    PrintError("agent status", "%s: %s\n", status_file.c_str(), report.status().message().c_str());
    return 1;
  }
  int64_t now = Clock::Real()->NowNanos();
  if (as_json) {
    std::fputs(text.str().c_str(), stdout);
  } else {
    std::fputs(agent::FormatStatusText(*report, now).c_str(), stdout);
  }
  bool stale = now - report->updated_unix_ns > 5 * kNanosPerSecond;
  return stale ? 1 : 0;
}

}  // namespace

int RunAgentCommand(int argc, char** argv) {
  CLI::App app{"Tail, parse, batch, spool and ship logs to a Sawmill server.", "sawmill agent"};
  app.footer(
      "Examples:\n"
      "  sawmill agent --config /etc/sawmill/agent.yaml\n"
      "  sawmill agent --config agent.yaml --check   # effective configuration, matched files\n"
      "  sawmill agent status --config agent.yaml\n"
      "  sawmill agent --list-options");
  std::string config_path;
  bool check = false;
  bool list_options = false;
  app.add_option("-c,--config", config_path, "agent configuration (YAML)");
  app.add_flag("--check", check,
               "validate the configuration, print it with defaults applied and the files each "
               "input matches now, and exit");
  app.add_flag("--list-options", list_options, "print every configuration option and exit");
  auto* status = app.add_subcommand("status", "report on a running agent");
  std::string status_file;
  bool as_json = false;
  status->add_option("-c,--config", config_path,
                     "the agent's configuration (finds its status file)");
  status->add_option("--status-file", status_file, "read this status file");
  status->add_flag("--json", as_json, "print the raw status JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (status->parsed()) return RunStatus(config_path, status_file, as_json);
  if (list_options) {
    std::fputs(agent::DescribeAllOptions().c_str(), stdout);
    return 0;
  }
  if (config_path.empty()) {
    PrintError("agent", "--config FILE is required\n%s", app.help().c_str());
    return 2;
  }
  auto config = agent::LoadAgentConfig(config_path);
  if (!config.ok()) {
    PrintError("agent", config.status());
    return 2;
  }
  if (check) {
    std::fputs(agent::DescribeEffectiveConfig(*config).c_str(), stdout);
    std::printf("%s: OK (%zu inputs)\n", config_path.c_str(), config->inputs.size());
    return 0;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  auto agent = agent::Agent::Create(*config, Env::Default(), 0);
  if (!agent.ok()) {
    PrintError("agent", "%s\n", agent.status().ToString().c_str());
    return agent.status().IsInvalidArgument() ? 2 : 1;
  }
  spdlog::info("agent {} shipping to {}", (*agent)->agent_id(), config->server);
  Status st = (*agent)->Run(&g_stop);
  if (!st.ok()) {
    PrintError("agent", "%s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sawmill::cli
