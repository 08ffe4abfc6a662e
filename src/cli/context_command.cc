// `sawmill context ID [-B N] [-A N] [-C N] [--output MODE]`: the lines before and after one
// record (an `id` from search) from the same service and host, oldest first, the record itself
// marked with "> " (GET /api/v1/context).
#include <CLI/CLI.hpp>

#include "cli/client_options.h"
#include "cli/command_error.h"
#include "cli/http_client.h"
#include "cli/record_render.h"
#include "cli/terminal.h"

namespace sawmill::cli {

int RunContextCommand(int argc, char** argv) {
  CLI::App app{"Show the lines around one record, from the same service and host.",
               "sawmill context"};
  app.footer(
      "Examples:\n"
      "  sawmill search --output jsonl -n 1 'OutOfMemoryError'   # its \"id\" is the record's id\n"
      "  sawmill context 1042                  # 10 lines before and after record 1042\n"
      "  sawmill context -B 50 -A 5 1042       # more before than after\n"
      "  sawmill context --output raw -C 100 1042 > around.log");
  std::string id, output = "table";
  ClientOptions client_options;
  int before = -1, after = -1, both = 10;
  app.add_option("id", id, "the record's id (the \"id\" of a search hit)")->required();
  AddClientOptions(&app, &client_options);
  app.add_option("-C,--context", both, "lines before and after")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("-B,--before", before, "lines before (default: -C)")->check(CLI::Range(0, 1000));
  app.add_option("-A,--after", after, "lines after (default: -C)")->check(CLI::Range(0, 1000));
  app.add_option("-o,--output", output, "table, json (the server's answer as is), jsonl or raw")
      ->check(CLI::IsMember({"table", "json", "jsonl", "raw"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    PrintError("context",
               "'%s' is not a record id: use the \"id\" of a search hit "
               "(sawmill search --output jsonl ...)\n",
               id.c_str());
    return 2;
  }
  Result<ServerUrl> url = client_options.Url();
  if (!url.ok()) {
    PrintError("context", url.status());
    return 2;
  }
  if (before < 0) before = both;
  if (after < 0) after = both;
  HttpClient client(*url, client_options.timeout_s * 1000);
  Result<HttpResult> result =
      client.Request("GET", "/api/v1/context?id=" + id + "&before=" + std::to_string(before) +
                                "&after=" + std::to_string(after));
  if (!result.ok()) {
    PrintError("context", result.status());
    return 1;
  }
  if (result->status != 200) {
    PrintError("context", "%s\n", ErrorText(*result).c_str());
    return 1;
  }
  const OutputMode mode = *OutputModeFromName(output);
  if (mode == OutputMode::kJson) {
    std::fwrite(result->body.data(), 1, result->body.size(), stdout);
    if (result->body.empty() || result->body.back() != '\n') std::fputc('\n', stdout);
    return 0;
  }
  RenderOptions options;
  options.color = client_options.Color(stdout);
  Result<std::string> text = RenderContext(result->body, mode, options);
  if (!text.ok()) {
    PrintError("context", text.status());
    return 1;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  // A cluster node that did not answer (docs/cluster.md "Context across nodes").
  if (Result<AnswerNotes> notes = NotesOf(result->body); notes.ok()) {
    std::fflush(stdout);
    std::fputs(NotesText(*notes).c_str(), stderr);
  }
  return 0;
}

}  // namespace sawmill::cli
