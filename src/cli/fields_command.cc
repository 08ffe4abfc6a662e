// `sawmill fields [QUERY]` and `sawmill values FIELD [QUERY]`: what is in the logs, for writing
// the next query. values counts exactly, on the server (`QUERY | top N FIELD`); fields counts
// the field names of the newest matching lines (a sample, as Kibana's field list does), since no
// index lists every field name.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "cli/client_options.h"
#include "cli/command_error.h"
#include "cli/http_client.h"
#include "cli/record_render.h"

namespace sawmill::cli {

namespace {

struct Common {
  ClientOptions client;
  std::string since = "1h";
  bool all_time = false;
};

void AddCommon(CLI::App* app, Common* c) {
  c->client.timeout_s = 120;
  c->client.has_color = false;  // plain tables
  AddClientOptions(app, &c->client);
  app->add_option("--since", c->since, "relative time range: 15m, 1h, 7d")->capture_default_str();
  app->add_flag("--all-time", c->all_time, "all data, with no time bound");
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// GETs a search and returns its body, or prints the error (as "sawmill NAME: ...") and returns
// nullopt.
std::optional<std::string> Search(const char* name, const Common& c, const std::string& query,
                                  size_t limit) {
  Result<ServerUrl> url = c.client.Url();
  if (!url.ok()) {
    PrintError(name, url.status());
    return std::nullopt;
  }
  std::string target = "/api/v1/search?q=" + UrlEncode(query) + "&limit=" + std::to_string(limit);
  target += c.all_time ? "&all_time=true" : "&since=" + UrlEncode(c.since);
  HttpClient client(*url, c.client.timeout_s * 1000);
  Result<HttpResult> result = client.Request("GET", target);
  if (!result.ok()) {
    PrintError(name, result.status());
    return std::nullopt;
  }
  if (result->status != 200) {
    PrintError(name, "%s\n", ErrorText(*result).c_str());
    return std::nullopt;
  }
  return std::move(result->body);
}

}  // namespace

int RunValuesCommand(int argc, char** argv) {
  CLI::App app{"The most frequent values of a field, with their counts (exact).", "sawmill values"};
  app.footer(
      "Examples:\n"
      "  sawmill values service                       # which services logged in the last hour\n"
      "  sawmill values -n 20 host 'level=ERROR'      # hosts with the most errors\n"
      "  sawmill values --since 24h http.status 'service=checkout'");
  Common c;
  std::string field;
  std::vector<std::string> words;
  int n = 10;
  AddCommon(&app, &c);
  app.add_option("field", field, "a field: service, host, level, trace_id, or any field name")
      ->required();
  app.add_option("query", words, "only lines matching this query (default: every line)");
  app.add_option("-n,--top", n, "how many values")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::string query = Join(words);
  if (field.find_first_of(" |\"'") != std::string::npos) {
    PrintError("values", "'%s' is not a field name\n", field.c_str());
    return 2;
  }
  query += (query.empty() ? "* | top " : " | top ") + std::to_string(n) + " " + field;
  std::optional<std::string> body = Search("values", c, query, 100);
  if (!body) return 1;
  Result<SearchOutput> out = RenderSearch(*body, RenderOptions{});
  if (!out.ok()) {
    PrintError("values", out.status());
    return 1;
  }
  std::fwrite(out->body.data(), 1, out->body.size(), stdout);
  for (const std::string& warning : out->warnings) {
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  return 0;
}

int RunFieldsCommand(int argc, char** argv) {
  CLI::App app{"The field names of the newest matching lines, with how many of them have each.",
               "sawmill fields"};
  app.footer(
      "Examples:\n"
      "  sawmill fields                                # fields of the last hour's newest lines\n"
      "  sawmill fields 'service=checkout level=ERROR'\n"
      "  sawmill fields --sample 10000 --since 24h");
  Common c;
  std::vector<std::string> words;
  size_t sample = 1000;
  AddCommon(&app, &c);
  app.add_option("query", words, "only lines matching this query (default: every line)");
  app.add_option("--sample", sample, "how many of the newest matching lines to look at")
      ->check(CLI::Range(size_t{1}, size_t{10000}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::string query = Join(words);
  if (query.find('|') != std::string::npos) {
    PrintError("fields", "the query must be a filter, without pipes\n");
    return 2;
  }
  std::optional<std::string> body = Search("fields", c, query, sample);
  if (!body) return 1;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*body, ec);
  const boost::json::value* hits =
      !ec && v.is_object() ? v.as_object().if_contains("hits") : nullptr;
  if (hits == nullptr || !hits->is_array()) {
    PrintError("fields", "the server's answer has no hits\n");
    return 1;
  }
  std::map<std::string, size_t> counts;
  size_t lines = 0;
  for (const boost::json::value& hit : hits->as_array()) {
    if (!hit.is_object()) continue;
    ++lines;
    for (const auto& kv : hit.as_object()) {
      const std::string key(kv.key());
      if (key == "fields" && kv.value().is_object()) {
        for (const auto& f : kv.value().as_object()) ++counts[std::string(f.key())];
      } else if (key != "id" && key != "flags") {
        ++counts[key];
      }
    }
  }
  std::vector<std::pair<std::string, size_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<TableRow> rows;
  for (const auto& [name, count] : sorted) {
    rows.push_back({{"field", name, false},
                    {"lines", Thousands(count), true},
                    {"share", std::to_string(lines ? count * 100 / lines : 0) + "%", true}});
  }
  std::fputs(RenderTable(rows).c_str(), stdout);
  std::fprintf(stderr, "in the newest %s matching lines%s\n", Thousands(lines).c_str(),
               lines == sample ? " (a sample: --sample for more)" : "");
  return 0;
}

}  // namespace sawmill::cli
