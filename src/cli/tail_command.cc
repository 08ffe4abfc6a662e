// `sawmill tail [--service=X] [--level=ERROR] [--host=H] [QUERY]`: lines as they are ingested,
// over the WebSocket GET /api/v1/tail?q=..., reconnecting with backoff.
#include <CLI/CLI.hpp>
#include <chrono>
#include <thread>

#include "cli/client_options.h"
#include "cli/command_error.h"
#include "cli/http_client.h"
#include "cli/record_render.h"
#include "cli/tail_query.h"
#include "cli/terminal.h"

namespace sawmill::cli {

int RunTailCommand(int argc, char** argv) {
  CLI::App app{"Follow matching lines live, as they are ingested.", "sawmill tail"};
  app.footer(
      "Examples:\n"
      "  sawmill tail --service=checkout --level=ERROR\n"
      "  sawmill tail 'timeout OR \"connection refused\"'");
  std::vector<std::string> words;
  ClientOptions client_options;
  client_options.timeout_s = 10;
  client_options.max_timeout_s = 600;
  client_options.timeout_help = "seconds to wait for each connection (the tail runs until stopped)";
  TailFilter filter;
  bool as_json = false, no_reconnect = false;
  uint64_t max_lines = 0;
  app.add_option("query", words, "a filter (words are joined with spaces); pipes are not allowed");
  AddClientOptions(&app, &client_options);
  app.add_option("--service", filter.service, "only this service");
  app.add_option("--level", filter.level, "only this level and above (ERROR includes FATAL)");
  app.add_option("--host", filter.host, "only this host");
  app.add_flag("--json", as_json, "print each record as the server's JSON");
  app.add_option("--max-lines", max_lines, "exit after this many lines (0: never)");
  app.add_flag("--no-reconnect", no_reconnect, "exit 1 when the connection is lost");
  // The name this option had before --timeout was shared by every client command.
  app.add_option("--connect-timeout", client_options.timeout_s,
                 "the same as --timeout: seconds to wait for each connection")
      ->check(CLI::Range(1, 600))
      ->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const std::string& word : words) {
    if (!filter.query.empty()) filter.query += ' ';
    filter.query += word;
  }
  Result<std::string> query = BuildTailQuery(filter);
  if (!query.ok()) {
    PrintError("tail", query.status());
    return 2;
  }
  Result<ServerUrl> url = client_options.Url();
  if (!url.ok()) {
    PrintError("tail", url.status());
    return 2;
  }
  RenderOptions options;
  options.color = client_options.Color(stdout);
  const bool chatty = IsTerminal(stderr);
  const std::string target = "/api/v1/tail?q=" + UrlEncode(*query);
  WebSocketClient ws;
  uint64_t printed = 0;
  int backoff_ms = 500;
  bool announced = false;
  while (true) {
    Status connected = ws.Connect(*url, target, client_options.timeout_s * 1000);
    std::string problem;
    if (connected.IsInvalidArgument()) {
      PrintError("tail", connected);
      return 1;
    }
    if (connected.ok()) {
      if (chatty && !announced) {
        std::fprintf(stderr, "tailing %s on %s (Ctrl-C to stop)\n",
                     query->empty() ? "everything" : ("'" + *query + "'").c_str(),
                     url->ToString().c_str());
      } else if (chatty) {
        std::fprintf(stderr, "reconnected\n");
      }
      announced = true;
      auto since = std::chrono::steady_clock::now();
      while (true) {
        std::string reason;
        Result<std::optional<std::string>> message = ws.Read(&reason);
        if (!message.ok()) {
          problem = message.status().message();
          break;
        }
        if (!message->has_value()) {
          problem = "the server closed the live tail" + (reason.empty() ? "" : ": " + reason);
          break;
        }
        const std::string& text = **message;
        if (std::optional<uint64_t> dropped = DroppedCount(text)) {
          std::printf("%s\n", DroppedNotice(*dropped, options).c_str());
        } else if (std::optional<std::string> notice = NoticeText(text)) {
          // Not a line: what the server wants the reader to know (docs/cluster.md "Live tail").
          PrintError("tail", "%s\n", notice->c_str());
        } else if (as_json) {
          std::printf("%s\n", text.c_str());
          ++printed;
        } else {
          Result<std::string> line = RenderRecord(text, options);
          std::printf("%s\n", line.ok() ? line->c_str() : text.c_str());
          ++printed;
        }
        std::fflush(stdout);
        if (max_lines > 0 && printed >= max_lines) return 0;
      }
      // A session that worked for a while starts the backoff over.
      if (std::chrono::steady_clock::now() - since > std::chrono::seconds(10)) backoff_ms = 500;
    } else {
      problem = connected.message();
    }
    if (no_reconnect) {
      PrintError("tail", "%s\n", problem.c_str());
      return 1;
    }
    PrintError("tail", "%s; reconnecting in %.1f s\n", problem.c_str(), backoff_ms / 1000.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 10000);
  }
}

}  // namespace sawmill::cli
