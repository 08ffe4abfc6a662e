// `sawmill ingest [FILE...]`: sends lines (NDJSON or plain text) to POST /api/v1/ingest in
// zstd-compressed batches of about 1,000 lines or 1 MiB, each with an Idempotency-Key so that a
// retried batch is stored once.
#include <zstd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "cli/client_options.h"
#include "cli/command_error.h"
#include "cli/http_client.h"
#include "cli/ingest_batch.h"
#include "cli/record_render.h"
#include "cli/terminal.h"

namespace sawmill::cli {

namespace {

constexpr size_t kMaxLineBytes = 1 << 20;

struct Totals {
  uint64_t lines = 0, bytes = 0, accepted = 0, skipped = 0, truncated = 0, parse_failed = 0;
  uint64_t clipped = 0;
};

uint64_t Field(const boost::json::object& obj, std::string_view key) {
  const boost::json::value* v = obj.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() > 0) return static_cast<uint64_t>(v->as_int64());
  return 0;
}

class Sender {
 public:
  Sender(HttpClient* client, std::string target, int retries, bool progress)
      : client_(client), target_(std::move(target)), retries_(retries), progress_(progress) {
    std::random_device rd;
    std::mt19937_64 rng(
        (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%016llx%08llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng() & 0xffffffff));
    key_prefix_ = buf;
    start_ = std::chrono::steady_clock::now();
  }

  // Sends one batch; "where" names it for errors ("lines 1001-2000 of app.log").
  Status Send(std::string body, size_t lines, const std::string& where) {
    std::string compressed(ZSTD_compressBound(body.size()), '\0');
    size_t n = ZSTD_compress(compressed.data(), compressed.size(), body.data(), body.size(), 3);
    if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
    compressed.resize(n);
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "text/plain; charset=utf-8"},
        {"Content-Encoding", "zstd"},
        {"Idempotency-Key", key_prefix_ + "-" + std::to_string(batch_++)},
    };
    int delay_ms = 500;
    for (int attempt = 1;; ++attempt) {
      Result<HttpResult> result = client_->Request("POST", target_, compressed, headers);
      std::string problem;
      int retry_after_ms = delay_ms;
      if (!result.ok()) {
        problem = result.status().message();
      } else if (result->status == 200) {
        Account(result->body, lines, body.size());
        return Status::OK();
      } else if (result->status == 503 || result->status == 429) {
        problem = "server busy (" + std::to_string(result->status) + "): " + ErrorText(*result);
        std::string retry_after = result->Header("retry-after");
        if (!retry_after.empty() &&
            retry_after.find_first_not_of("0123456789") == std::string::npos &&
            retry_after.size() < 4) {
          retry_after_ms = std::min(30, std::stoi(retry_after)) * 1000;
        }
      } else {
        return Status::InvalidArgument("the server refused " + where + " (" +
                                       std::to_string(result->status) + "): " + ErrorText(*result));
      }
      if (attempt > retries_) {
        return Status::Unavailable("giving up on " + where + " after " + std::to_string(attempt) +
                                   " attempts: " + problem);
      }
      ClearProgress();
      PrintError("ingest", "%s; retrying %s in %.1f s\n", problem.c_str(), where.c_str(),
                 retry_after_ms / 1000.0);
      std::this_thread::sleep_for(std::chrono::milliseconds(retry_after_ms));
      delay_ms = std::min(delay_ms * 2, 8000);
    }
  }

  void Progress(bool force) {
    if (!progress_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_progress_ < std::chrono::milliseconds(200)) return;
    last_progress_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r\x1b[K%s lines  %s  %s lines/s", Thousands(totals_.lines).c_str(),
                 HumanBytes(totals_.bytes).c_str(),
                 Thousands(secs > 0 ? static_cast<uint64_t>(totals_.lines / secs) : 0).c_str());
    std::fflush(stderr);
    shown_ = true;
  }

  void ClearProgress() {
    if (shown_) std::fprintf(stderr, "\r\x1b[K");
    shown_ = false;
  }

  Totals& totals() { return totals_; }
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  void Account(const std::string& answer, size_t lines, size_t bytes) {
    totals_.lines += lines;
    totals_.bytes += bytes;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(answer, ec);
    if (!ec && v.is_object()) {
      const auto& obj = v.as_object();
      totals_.accepted += Field(obj, "accepted");
      totals_.skipped += Field(obj, "skipped");
      totals_.truncated += Field(obj, "truncated");
      totals_.parse_failed += Field(obj, "parse_failed");
    }
    Progress(false);
  }

  HttpClient* client_;
  std::string target_;
  int retries_;
  bool progress_;
  bool shown_ = false;
  std::string key_prefix_;
  uint64_t batch_ = 0;
  Totals totals_;
  std::chrono::steady_clock::time_point start_, last_progress_;
};

// Streams one input through the batcher. Returns the first error.
Status SendInput(FILE* file, const std::string& name, LineBatcher* batcher, Sender* sender) {
  LineReader reader(file, kMaxLineBytes);
  std::string line;
  bool clipped = false;
  uint64_t line_no = 0, first_in_batch = 1;
  auto flush = [&]() -> Status {
    if (batcher->empty()) return Status::OK();
    size_t lines = batcher->lines();
    std::string where = "lines " + std::to_string(first_in_batch) + "-" +
                        std::to_string(first_in_batch + lines - 1) + " of " + name;
    first_in_batch += lines;
    return sender->Send(batcher->Take(), lines, where);
  };
  while (reader.Next(&line, &clipped)) {
    ++line_no;
    if (clipped) ++sender->totals().clipped;
    if (batcher->WouldOverflow(line)) RETURN_IF_ERROR(flush());
    batcher->Add(line);
  }
  if (reader.error() != 0) {
    return Status::IOError("reading " + name + " failed after line " + std::to_string(line_no) +
                           ": " + std::strerror(reader.error()));
  }
  return flush();
}

}  // namespace

int RunIngestCommand(int argc, char** argv) {
  CLI::App app{"Send log lines (NDJSON or plain text, one record per line) to a Sawmill server.",
               "sawmill ingest"};
  app.footer(
      "Examples:\n"
      "  sawmill ingest --service payments /var/log/payments/*.log\n"
      "  kubectl logs deploy/checkout | sawmill ingest --service checkout\n"
      "  sawmill ingest --server http://logs:9640 --tenant acme events.ndjson");
  std::vector<std::string> files;
  std::string service, host, level, tz;
  size_t batch_lines = 1000, batch_bytes = 1 << 20;
  int retries = 5;
  ClientOptions client_options;
  client_options.timeout_s = 60;
  client_options.timeout_help = "seconds to wait for each answer";
  client_options.has_color = false;
  bool quiet = false;
  app.add_option("files", files, "files to send; none or '-' reads standard input");
  AddClientOptions(&app, &client_options);
  app.add_option("--service", service, "service of lines that do not name one");
  app.add_option("--host", host, "host of lines that do not name one");
  app.add_option("--level", level, "level of lines that have none");
  app.add_option("--tz", tz,
                 "zone of times written without one (Europe/Berlin, +01:00; default: the "
                 "server's)");
  app.add_option("--batch-lines", batch_lines, "lines per request")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--batch-bytes", batch_bytes, "bytes per request (before compression)")
      ->check(CLI::Range(1024, 32 << 20))
      ->capture_default_str();
  app.add_option("--retries", retries,
                 "times to retry a batch the server could not take (unreachable, 503, 429), with "
                 "backoff; the Idempotency-Key makes a retry safe")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "print nothing but errors");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  Result<ServerUrl> url = client_options.Url();
  if (!url.ok()) {
    PrintError("ingest", url.status());
    return 2;
  }
  if (files.empty()) files.push_back("-");
  if (!quiet && IsTerminal(stdin) && std::find(files.begin(), files.end(), "-") != files.end()) {
    std::fprintf(stderr, "reading lines from standard input (Ctrl-D to end)\n");
  }
  // Every file must open before anything is sent, so a typo sends nothing.
  std::vector<FILE*> handles;
  for (const std::string& name : files) {
    FILE* f = name == "-" ? stdin : std::fopen(name.c_str(), "rb");
    if (f == nullptr) {
      PrintError("ingest", "cannot open '%s': %s\n", name.c_str(), std::strerror(errno));
      for (FILE* h : handles) {
        if (h != stdin) std::fclose(h);
      }
      return 1;
    }
    handles.push_back(f);
  }

  std::string target = "/api/v1/ingest";
  std::string sep = "?";
  for (const auto& [name, value] : {std::pair<const char*, std::string*>{"service", &service},
                                    {"host", &host},
                                    {"level", &level},
                                    {"tz", &tz}}) {
    if (value->empty()) continue;
    target += sep + name + "=" + UrlEncode(*value);
    sep = "&";
  }
  HttpClient client(*url, client_options.timeout_s * 1000);
  Sender sender(&client, target, retries, !quiet && IsTerminal(stderr));
  LineBatcher batcher(batch_lines, batch_bytes);
  Status status;
  for (size_t i = 0; i < files.size() && status.ok(); ++i) {
    status =
        SendInput(handles[i], files[i] == "-" ? "standard input" : files[i], &batcher, &sender);
  }
  for (FILE* h : handles) {
    if (h != stdin) std::fclose(h);
  }
  sender.ClearProgress();
  const Totals& t = sender.totals();
  if (!status.ok()) {
    PrintError("ingest", status);
    if (t.lines > 0) {
      PrintError("ingest", "%s lines before that were stored\n", Thousands(t.lines).c_str());
    }
    return 1;
  }
  if (!quiet) {
    std::fprintf(stderr,
                 "sent %s %s (%s) in %.2f s: %s accepted, %s skipped (blank), %s truncated, "
                 "%s not valid JSON (kept raw)\n",
                 Thousands(t.lines).c_str(), t.lines == 1 ? "line" : "lines",
                 HumanBytes(t.bytes).c_str(), sender.Seconds(), Thousands(t.accepted).c_str(),
                 Thousands(t.skipped).c_str(), Thousands(t.truncated).c_str(),
                 Thousands(t.parse_failed).c_str());
    if (t.clipped > 0) {
      std::fprintf(stderr, "note: %s lines over 1 MiB were cut before sending\n",
                   Thousands(t.clipped).c_str());
    }
  }
  return 0;
}

}  // namespace sawmill::cli
