// `sawmill search [--since 1h] [--from T] [--to T] [--limit N | --all] [--output MODE] [-C N]
// QUERY`: one line per hit (newest first, coloured by level on a terminal), a table for pipes,
// the stats line last (on stderr): how many matched when the page is full, and what was read.
// -C N prints the N lines before and after each hit from the same service and host.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "cli/client_options.h"
#include "cli/command_error.h"
#include "cli/http_client.h"
#include "cli/record_render.h"
#include "cli/terminal.h"

namespace sawmill::cli {

namespace {

// The progress line of a search over cold data, on a terminal: the search is sent with
// ?progress_id=ID and this polls GET /api/v1/search/progress?id=ID every 300 ms on its own
// connection, rewriting one stderr line while segments come from the cold store. Nothing is
// printed for a search that reads no cold data; the line is erased before the answer.
class ColdProgressLine {
 public:
  ColdProgressLine(const ServerUrl& url, std::string id)
      : url_(url), id_(std::move(id)), thread_([this] { Loop(); }) {}
  ~ColdProgressLine() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (shown_) std::fputs("\r\x1b[K", stderr);
  }
  const std::string& id() const { return id_; }

 private:
  void Loop() {
    HttpClient client(url_, 2000);
    std::unique_lock<std::mutex> l(mu_);
    while (!cv_.wait_for(l, std::chrono::milliseconds(300), [this] { return stop_; })) {
      l.unlock();
      Show(client.Request("GET", "/api/v1/search/progress?id=" + id_));
      l.lock();
    }
  }
  void Show(const Result<HttpResult>& answer) {
    if (!answer.ok() || answer->status != 200) return;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(answer->body, ec);
    if (ec || !v.is_object()) return;
    const auto& o = v.as_object();
    auto num = [&](const char* name) -> uint64_t {
      const auto* x = o.if_contains(name);
      return x != nullptr && x->is_int64()    ? static_cast<uint64_t>(x->as_int64())
             : x != nullptr && x->is_uint64() ? x->as_uint64()
                                              : 0;
    };
    if (num("cold_segments") == 0) return;
    std::fprintf(
        stderr, "\r\x1b[Kcold data: %s/%s segments, %s fetched, %s from the cache (of %s)",
        Thousands(num("cold_segments_read")).c_str(), Thousands(num("cold_segments")).c_str(),
        HumanBytes(num("cold_bytes_fetched")).c_str(), HumanBytes(num("cold_bytes_cached")).c_str(),
        HumanBytes(num("cold_bytes")).c_str());
    std::fflush(stderr);
    shown_ = true;
  }

  const ServerUrl url_;
  const std::string id_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool shown_ = false;  // written by the thread, read after join
  std::thread thread_;  // last: starts after the members above exist
};

std::string RandomId() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

uint64_t StatNumber(const boost::json::value& answer, const char* name) {
  const auto* stats = answer.as_object().if_contains("stats");
  if (stats == nullptr || !stats->is_object()) return 0;
  const auto* x = stats->as_object().if_contains(name);
  return x != nullptr && x->is_int64()    ? static_cast<uint64_t>(x->as_int64())
         : x != nullptr && x->is_uint64() ? x->as_uint64()
                                          : 0;
}

// --all: pages of 10000 hits, each after the previous page's next_cursor (the same query, its
// range ending at the cursor), until a page has none. Memory holds one page. On a terminal, a
// progress line on stderr: lines and bytes written, segments done of the total (a segment is
// done once the cursor has passed below its time range: the first page's segments in range
// minus the current page's).
int SearchAllPages(HttpClient* client, const std::string& first_target, OutputMode mode,
                   bool color) {
  const bool progress = IsTerminal(stderr);
  RenderOptions options;
  options.color = color;
  uint64_t lines = 0, bytes = 0, pages = 0, segments = 0, segments_done = 0;
  std::string cursor, stats;
  auto end_progress = [&] {
    if (progress && pages > 0) std::fputs("\r\x1b[K", stderr);
  };
  while (true) {
    std::string target = first_target;
    if (!cursor.empty()) target += "&cursor=" + UrlEncode(cursor);
    Result<HttpResult> result = client->Request("GET", target);
    if (!result.ok() || result->status != 200) {
      end_progress();
      PrintError("search", "%s\n",
                 result.ok() ? ErrorText(*result).c_str() : result.status().message().c_str());
      if (!cursor.empty()) {
        std::fprintf(stderr,
                     "%llu lines were written; the rest (older) is what the same search with "
                     "--to before the last line's time still finds\n",
                     static_cast<unsigned long long>(lines));
      }
      return 1;
    }
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(result->body, ec);
    if (ec || !v.is_object()) {
      end_progress();
      PrintError("search", "the server's answer is not JSON\n");
      return 1;
    }
    ++pages;
    std::string text;
    bool partial = false;
    std::vector<std::string> warnings;
    if (mode == OutputMode::kJson) {
      text = result->body;
      if (text.empty() || text.back() != '\n') text.push_back('\n');
    } else {
      Result<SearchOutput> out = RenderSearch(result->body, options);
      if (!out.ok()) {
        end_progress();
        PrintError("search", out.status());
        return 1;
      }
      if (mode == OutputMode::kTable) {
        text = std::move(out->body);
      } else {
        Result<std::string> rendered = RenderLines(result->body, mode);
        if (!rendered.ok()) {
          end_progress();
          PrintError("search", rendered.status());
          return 1;
        }
        text = std::move(*rendered);
      }
      partial = out->partial;
      warnings = std::move(out->warnings);
      stats = std::move(out->stats);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    if (const auto* hits = v.as_object().if_contains("hits"); hits && hits->is_array()) {
      lines += hits->as_array().size();
    }
    bytes += text.size();
    const uint64_t in_range = StatNumber(v, "segments_after_time");
    if (pages == 1) segments = in_range;
    segments_done = segments > in_range ? segments - in_range : 0;
    if (!warnings.empty() || partial) end_progress();
    for (const std::string& warning : warnings) {
      std::fprintf(stderr, "warning: %s\n", warning.c_str());
    }
    if (partial) {
      PrintError("search",
                 "partial results: a limit stopped the search early after "
                 "%llu lines (narrow the time range or raise the server's limits)\n",
                 static_cast<unsigned long long>(lines));
      return 1;
    }
    const auto* next = v.as_object().if_contains("next_cursor");
    if (next == nullptr || !next->is_string()) break;
    cursor = std::string(next->as_string());
    if (progress) {
      std::fprintf(stderr, "\r\x1b[K%s lines, %s, segments %s/%s done", Thousands(lines).c_str(),
                   HumanBytes(bytes).c_str(), Thousands(segments_done).c_str(),
                   Thousands(segments).c_str());
      std::fflush(stderr);
    }
  }
  end_progress();
  if (pages == 1 && !stats.empty()) {
    std::fprintf(stderr, "%s\n", stats.c_str());  // one page: its stats, as without --all
  } else {
    std::fprintf(stderr, "%s hits in %llu pages, %s, %s segments\n", Thousands(lines).c_str(),
                 static_cast<unsigned long long>(pages), HumanBytes(bytes).c_str(),
                 Thousands(segments).c_str());
  }
  return 0;
}

}  // namespace

int RunSearchCommand(int argc, char** argv) {
  CLI::App app{"Search the logs: newest first, with what the indexes pruned.", "sawmill search"};
  app.footer(
      "Examples:\n"
      "  sawmill search --since 1h 'service=payments level>=ERROR trace_id=abc123'\n"
      "  sawmill search 'level=ERROR | count by service'\n"
      "  sawmill search --from 2026-11-30T10:00:00Z --to 2026-11-30T11:00:00Z timeout\n"
      "  sawmill search --tenant acme --output jsonl 'service=checkout' > checkout.jsonl\n"
      "  sawmill search -C 5 -n 3 'OutOfMemoryError'   # 5 lines around each of 3 hits\n"
      "  sawmill search --all --since 7d -o jsonl 'service=payments' > payments.jsonl");
  std::vector<std::string> words;
  ClientOptions client_options;
  client_options.timeout_s = 120;
  std::string since, from, to, time_field;
  // The server's max_search_limit by default; --all asks for this many.
  constexpr size_t kMaxLimit = 10000;
  size_t limit = 100;
  bool as_json = false, all_time = false, explain = false, all_hits = false;
  app.add_option("query", words, "the query (words are joined with spaces)");
  AddClientOptions(&app, &client_options);
  app.add_option("--since", since, "relative time range: 15m, 1h, 7d (default 1h)");
  app.add_option("--from", from, "start: RFC 3339 or epoch seconds/ms/ns");
  app.add_option("--to", to, "end: RFC 3339 or epoch seconds/ms/ns");
  app.add_flag("--all-time", all_time, "search all data, with no time bound");
  CLI::Option* limit_option =
      app.add_option("-n,--limit", limit, "at most this many hits (the newest)")
          ->check(CLI::Range(size_t{1}, kMaxLimit))  // the server's max_search_limit
          ->capture_default_str();
  app.add_flag("--all", all_hits,
               "every hit, newest first, fetched in pages of 10000 (the server's maximum) with "
               "the answer's cursor; a progress line (lines, bytes, segments done) on stderr "
               "when it is a terminal")
      ->excludes(limit_option);
  app.add_option("--time-field", time_field, "filter the time range on 'ingest_ts' or 'ts'")
      ->check(CLI::IsMember({"ingest_ts", "ts"}));
  std::string output = "table";
  CLI::Option* output_option =
      app.add_option("-o,--output", output,
                     "table (lines, or a table for pipes), json (the server's answer as is), "
                     "jsonl (one JSON object per hit or row), raw (messages only)")
          ->check(CLI::IsMember({"table", "json", "jsonl", "raw"}))
          ->capture_default_str();
  app.add_flag("--json", as_json, "the same as --output json")->excludes(output_option);
  int context_lines = 0;
  app.add_option("-C,--context", context_lines,
                 "also print this many lines before and after each hit, from the same service "
                 "and host (as grep -C; groups separated by --)")
      ->check(CLI::Range(0, 1000));
  app.add_flag("--explain", explain, "also print the query plan");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!since.empty() && (!from.empty() || !to.empty())) {
    PrintError("search", "--since cannot be combined with --from/--to\n");
    return 2;
  }
  Result<ServerUrl> url = client_options.Url();
  if (!url.ok()) {
    PrintError("search", url.status());
    return 2;
  }
  if (all_hits) limit = kMaxLimit;
  std::string query;
  for (const std::string& word : words) {
    if (!query.empty()) query += ' ';
    query += word;
  }
  std::string target = "/api/v1/search?q=" + UrlEncode(query) + "&limit=" + std::to_string(limit);
  if (!since.empty()) target += "&since=" + UrlEncode(since);
  if (!from.empty()) target += "&from=" + UrlEncode(from);
  if (!to.empty()) target += "&to=" + UrlEncode(to);
  if (!time_field.empty()) target += "&time_field=" + time_field;
  if (all_time) target += "&all_time=true";
  if (explain) target += "&explain=true";

  HttpClient client(*url, client_options.timeout_s * 1000);
  // --all pages through every hit (with -C or --explain: one page, as before).
  if (all_hits && !explain && context_lines == 0) {
    return SearchAllPages(&client, target, *OutputModeFromName(as_json ? "json" : output),
                          client_options.Color(stdout));
  }
  Result<HttpResult> result = [&] {
    if (!IsTerminal(stderr) || as_json) return client.Request("GET", target);
    ColdProgressLine progress(*url, RandomId());
    return client.Request("GET", target + "&progress_id=" + progress.id());
  }();
  if (!result.ok()) {
    PrintError("search", result.status());
    return 1;
  }
  if (result->status != 200) {
    PrintError("search", "%s\n", ErrorText(*result).c_str());
    return 1;
  }
  if (as_json) output = "json";
  const OutputMode mode = *OutputModeFromName(output);
  if (context_lines > 0 &&
      (mode == OutputMode::kTable || mode == OutputMode::kRaw || mode == OutputMode::kJsonl)) {
    Result<std::vector<std::string>> ids = HitIds(result->body);
    if (ids.ok() && !ids->empty()) {
      RenderOptions render;
      render.color = client_options.Color(stdout);
      for (size_t i = 0; i < ids->size(); ++i) {
        const std::string n = std::to_string(context_lines);
        Result<HttpResult> context = client.Request(
            "GET", "/api/v1/context?id=" + (*ids)[i] + "&before=" + n + "&after=" + n);
        if (!context.ok() || context->status != 200) {
          PrintError(
              "search", "context of %s: %s\n", (*ids)[i].c_str(),
              context.ok() ? ErrorText(*context).c_str() : context.status().message().c_str());
          return 1;
        }
        Result<std::string> text = RenderContext(context->body, mode, render);
        if (!text.ok()) {
          PrintError("search", text.status());
          return 1;
        }
        if (i > 0 && mode == OutputMode::kTable) std::fputs("--\n", stdout);
        std::fwrite(text->data(), 1, text->size(), stdout);
        // A cluster node that did not answer (docs/cluster.md "Context across nodes").
        if (Result<AnswerNotes> notes = NotesOf(context->body); notes.ok()) {
          std::fflush(stdout);
          std::fputs(NotesText(*notes).c_str(), stderr);
        }
      }
      // The search's own (a partial search), as without -C.
      if (Result<AnswerNotes> notes = NotesOf(result->body); notes.ok()) {
        std::fputs(NotesText(*notes).c_str(), stderr);
      }
      return 0;
    }
  }
  if (mode == OutputMode::kJsonl || mode == OutputMode::kRaw) {
    Result<std::string> lines = RenderLines(result->body, mode);
    if (!lines.ok()) {
      PrintError("search", lines.status());
      return 1;
    }
    std::fwrite(lines->data(), 1, lines->size(), stdout);
    // Warnings (a partial answer) still go to stderr: a script must not miss them.
    if (Result<AnswerNotes> notes = NotesOf(result->body); notes.ok()) {
      std::fputs(NotesText(*notes).c_str(), stderr);
    }
    return 0;
  }
  if (mode == OutputMode::kJson) {
    std::fwrite(result->body.data(), 1, result->body.size(), stdout);
    if (result->body.empty() || result->body.back() != '\n') std::fputc('\n', stdout);
    return 0;
  }
  RenderOptions options;
  options.color = client_options.Color(stdout);
  options.limit = limit;
  options.max_limit = kMaxLimit;
  Result<SearchOutput> out = RenderSearch(result->body, options);
  if (!out.ok()) {
    PrintError("search", out.status());
    return 1;
  }
  if (explain) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(result->body, ec);
    if (!ec && v.is_object()) {
      if (const auto* plan = v.as_object().if_contains("plan"); plan && plan->is_string()) {
        std::printf("%s\n\n", std::string(plan->as_string()).c_str());
      }
    }
  }
  std::fwrite(out->body.data(), 1, out->body.size(), stdout);
  std::fflush(stdout);
  // Stats, warnings and partial go to stderr so that piping the hits stays clean.
  const bool dim = client_options.Color(stderr);
  for (const std::string& warning : out->warnings) {
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  if (out->partial) {
    std::fprintf(stderr, "partial results: a limit stopped the search early (see warnings)\n");
  }
  std::fprintf(stderr, "%s%s%s\n", dim ? "\x1b[2m" : "", out->stats.c_str(), dim ? "\x1b[0m" : "");
  return 0;
}

}  // namespace sawmill::cli
