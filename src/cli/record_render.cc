#include "cli/record_render.h"

#include <boost/json.hpp>
#include <cstdio>

namespace sawmill::cli {

namespace json = boost::json;

namespace {

constexpr char kReset[] = "\x1b[0m";
constexpr char kDim[] = "\x1b[2m";

const char* LevelColor(std::string_view level) {
  if (level == "FATAL") return "\x1b[1;31m";
  if (level == "ERROR") return "\x1b[31m";
  if (level == "WARN") return "\x1b[33m";
  if (level == "INFO") return "\x1b[32m";
  if (level == "DEBUG" || level == "TRACE") return "\x1b[2m";
  return "";
}

std::string_view StringOr(const json::object& obj, std::string_view key,
                          std::string_view fallback) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || !v->is_string() || v->as_string().empty()) return fallback;
  return std::string_view(v->as_string().data(), v->as_string().size());
}

// "2026-11-30T10:01:02.123456789Z" -> "2026-11-30T10:01:02.123Z".
std::string ShortTime(std::string_view ts) {
  size_t dot = ts.find('.');
  if (dot == std::string_view::npos || ts.empty() || ts.back() != 'Z') return std::string(ts);
  std::string out(ts.substr(0, dot));
  std::string_view frac = ts.substr(dot + 1, ts.size() - dot - 2);
  out += '.';
  out += std::string(frac.substr(0, 3));
  for (size_t i = frac.size(); i < 3; ++i) out += '0';
  out += 'Z';
  return out;
}

std::string LineOf(const json::object& record, const RenderOptions& options) {
  std::string ts = ShortTime(StringOr(record, "ts", "-"));
  std::string_view service = StringOr(record, "service", "-");
  std::string_view host = StringOr(record, "host", "-");
  std::string_view level = StringOr(record, "level", "-");
  std::string_view message = StringOr(record, "message", "");
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.remove_suffix(1);
  }
  std::string padded(level);
  if (padded.size() < 5) padded.resize(5, ' ');
  std::string out;
  out.reserve(ts.size() + service.size() + host.size() + message.size() + 32);
  if (options.color) out += kDim;
  out += ts;
  if (options.color) out += kReset;
  out += ' ';
  out += service;
  out += ' ';
  out += host;
  out += ' ';
  const char* color = options.color ? LevelColor(level) : "";
  out += color;
  out += padded;
  if (*color != '\0') out += kReset;
  out += ' ';
  out += message;
  return out;
}

uint64_t Uint(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64()) return v->as_int64() < 0 ? 0 : static_cast<uint64_t>(v->as_int64());
  if (v->is_double()) return static_cast<uint64_t>(v->as_double());
  return 0;
}

double Double(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_double()) return v->as_double();
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  return 0;
}

// The head of the stats line: how many hits or rows, and for a full page of hits how many
// matched (rows_matched counts every match in what was read, so it is a lower bound once the
// newest hits were found and older segments skipped) and how to see more.
std::string CountPart(const json::object& stats, size_t count, bool pipe,
                      const RenderOptions& options) {
  if (pipe || options.limit == 0 || count < options.limit) {
    return Thousands(count) +
           (pipe ? (count == 1 ? " row" : " rows") : (count == 1 ? " hit" : " hits"));
  }
  const uint64_t matched = Uint(stats, "rows_matched");
  std::string out = Thousands(count) + " newest";
  out += matched > count ? " of at least " + Thousands(matched) + " matches"
                         : " matches (there may be more)";
  if (count >= options.max_limit) {
    out += "; " + Thousands(options.max_limit) +
           " is the most one search returns: narrow the time range or the query";
  } else if (count < 1000) {
    out += "; -n 1000 or --all for more";
  } else {
    out += "; --all for more";
  }
  out += ", '| count' to count them";
  return out;
}

// "read 1 of 40 segments: the time range ruled out 37, the index 1, the bloom filters 1".
std::string SegmentsPart(const json::object& stats) {
  const uint64_t total = Uint(stats, "segments_total");
  const uint64_t after_time = Uint(stats, "segments_after_time");
  const uint64_t after_index = Uint(stats, "segments_after_index");
  const uint64_t after_bloom = Uint(stats, "segments_after_bloom");
  const uint64_t not_needed = Uint(stats, "segments_not_needed");
  const uint64_t by_time = total > after_time ? total - after_time : 0;
  // Older servers do not send segments_pruned_by_index: then every segment of the time range
  // that was not read counts as ruled out by the index.
  const uint64_t by_index = stats.contains("segments_pruned_by_index")
                                ? Uint(stats, "segments_pruned_by_index")
                                : (after_time > after_index ? after_time - after_index : 0);
  const uint64_t by_bloom = after_index > after_bloom ? after_index - after_bloom : 0;
  std::string out = "read " + Thousands(after_bloom) + " of " + Thousands(total) +
                    (total == 1 ? " segment" : " segments");
  std::vector<std::string> parts;
  if (by_time > 0) parts.push_back("the time range ruled out " + Thousands(by_time));
  if (by_index > 0) {
    parts.push_back((parts.empty() ? "the index ruled out " : "the index ") + Thousands(by_index));
  }
  if (by_bloom > 0) {
    parts.push_back((parts.empty() ? "the bloom filters ruled out " : "the bloom filters ") +
                    Thousands(by_bloom));
  }
  if (not_needed > 0) {
    parts.push_back(Thousands(not_needed) + " older not needed (the newest hits were found)");
  }
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? ": " : ", ") + parts[i];
  return out;
}

std::string StatsLine(const json::object& stats, size_t count, bool pipe,
                      const RenderOptions& options) {
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.1f ms", Double(stats, "elapsed_ms"));
  std::string out = CountPart(stats, count, pipe, options);
  out += (out.find(';') == std::string::npos ? " in " : " · in ");
  out += elapsed;
  const json::value* cache = stats.if_contains("cache_hit");
  if (cache != nullptr && cache->is_bool() && cache->as_bool()) out += " (cached)";
  out += " · " + SegmentsPart(stats);
  out += " · blocks " + Thousands(Uint(stats, "blocks_read")) + "/" +
         Thousands(Uint(stats, "blocks_total")) + " read (" +
         HumanBytes(Uint(stats, "bytes_read_compressed")) + ")";
  // memtable rows are a part of rows_scanned.
  const uint64_t scanned = Uint(stats, "rows_scanned");
  out += " · " + Thousands(scanned) + (scanned == 1 ? " row scanned" : " rows scanned");
  if (uint64_t memtable = Uint(stats, "memtable_rows_scanned"); memtable > 0) {
    out += " (" + Thousands(memtable) + " in memtables)";
  }
  if (uint64_t cold = Uint(stats, "cold_segments"); cold > 0) {
    out += " · cold " + Thousands(Uint(stats, "cold_segments_read")) + "/" + Thousands(cold) +
           " segments, " + HumanBytes(Uint(stats, "cold_bytes_fetched")) + " fetched, " +
           HumanBytes(Uint(stats, "cold_bytes_cached")) + " from the cold cache";
  }
  return out;
}

std::string CellText(const json::value& v, bool* number) {
  *number = v.is_number();
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_null()) return "";
  return json::serialize(v);
}

Result<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status::InvalidArgument("the server's answer is not JSON: " + ec.message());
  return v;
}

// Display width of UTF-8 text: code points, not bytes (close enough for tables).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

Result<std::string> RenderRecord(std::string_view record_json, const RenderOptions& options) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(record_json));
  if (!v.is_object()) return Status::InvalidArgument("expected a JSON object for a record");
  return LineOf(v.as_object(), options);
}

namespace {

AnswerNotes NotesIn(const json::object& top) {
  AnswerNotes notes;
  if (const json::value* p = top.if_contains("partial"); p != nullptr && p->is_bool()) {
    notes.partial = p->as_bool();
  }
  if (const json::value* w = top.if_contains("warnings"); w != nullptr && w->is_array()) {
    for (const json::value& warning : w->as_array()) {
      if (warning.is_string()) notes.warnings.emplace_back(warning.as_string());
    }
  }
  return notes;
}

}  // namespace

Result<SearchOutput> RenderSearch(std::string_view response_json, const RenderOptions& options) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(response_json));
  if (!v.is_object()) return Status::InvalidArgument("expected a JSON object from search");
  const json::object& top = v.as_object();
  SearchOutput out;
  static const json::object kEmpty;
  const json::value* stats_value = top.if_contains("stats");
  const json::object& stats =
      stats_value != nullptr && stats_value->is_object() ? stats_value->as_object() : kEmpty;
  const json::value* hits = top.if_contains("hits");
  const json::value* rows = top.if_contains("rows");
  if (hits != nullptr && hits->is_array()) {
    for (const json::value& hit : hits->as_array()) {
      if (!hit.is_object()) continue;
      out.body += LineOf(hit.as_object(), options);
      out.body += '\n';
      ++out.count;
    }
    out.stats = StatsLine(stats, out.count, /*pipe=*/false, options);
  } else if (rows != nullptr && rows->is_array()) {
    std::vector<TableRow> table;
    for (const json::value& row : rows->as_array()) {
      if (!row.is_object()) continue;
      TableRow cells;
      for (const auto& kv : row.as_object()) {
        TableCell cell;
        cell.column = std::string(kv.key());
        cell.text = CellText(kv.value(), &cell.number);
        cells.push_back(std::move(cell));
      }
      table.push_back(std::move(cells));
    }
    out.count = table.size();
    out.body = RenderTable(table);
    out.stats = StatsLine(stats, out.count, /*pipe=*/true, options);
  } else {
    return Status::InvalidArgument("the search answer has neither \"hits\" nor \"rows\"");
  }
  AnswerNotes notes = NotesIn(top);
  out.partial = notes.partial;
  out.warnings = std::move(notes.warnings);
  return out;
}

Result<AnswerNotes> NotesOf(std::string_view answer_json) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(answer_json));
  if (!v.is_object()) return Status::InvalidArgument("expected a JSON object from the server");
  return NotesIn(v.as_object());
}

std::string NotesText(const AnswerNotes& notes) {
  std::string out;
  for (const std::string& warning : notes.warnings) out += "warning: " + warning + "\n";
  if (notes.partial) out += "partial results: see warnings\n";
  return out;
}

std::string RenderTable(const std::vector<TableRow>& rows) {
  if (rows.empty()) return "";
  std::vector<std::string> columns;
  std::vector<size_t> widths;
  std::vector<bool> numeric;
  auto column_of = [&](const std::string& name) {
    for (size_t col = 0; col < columns.size(); ++col) {
      if (columns[col] == name) return col;
    }
    columns.push_back(name);
    widths.push_back(Width(name));
    numeric.push_back(true);
    return columns.size() - 1;
  };
  for (const TableRow& row : rows) {
    for (const TableCell& cell : row) {
      size_t col = column_of(cell.column);
      widths[col] = std::max(widths[col], Width(cell.text));
      if (!cell.number) numeric[col] = false;
    }
  }
  auto pad = [&](std::string* line, std::string_view text, size_t col, bool last) {
    size_t fill = widths[col] - std::min(widths[col], Width(text));
    if (numeric[col]) line->append(fill, ' ');
    line->append(text);
    if (!numeric[col] && !last) line->append(fill, ' ');
    if (!last) line->append("  ");
  };
  std::string out;
  std::string line;
  for (size_t col = 0; col < columns.size(); ++col) {
    pad(&line, columns[col], col, col + 1 == columns.size());
  }
  out += line + "\n";
  line.clear();
  for (size_t col = 0; col < columns.size(); ++col) {
    line.append(widths[col], '-');
    if (col + 1 != columns.size()) line.append("  ");
  }
  out += line + "\n";
  for (const TableRow& row : rows) {
    line.clear();
    for (size_t col = 0; col < columns.size(); ++col) {
      std::string_view text;
      for (const TableCell& cell : row) {
        if (cell.column == columns[col]) text = cell.text;
      }
      pad(&line, text, col, col + 1 == columns.size());
    }
    out += line + "\n";
  }
  return out;
}

std::optional<uint64_t> DroppedCount(std::string_view message_json) {
  if (message_json.find("\"dropped\"") == std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(message_json, ec);
  if (ec || !v.is_object() || v.as_object().size() != 1) return std::nullopt;
  const json::value* n = v.as_object().if_contains("dropped");
  if (n == nullptr) return std::nullopt;
  if (n->is_uint64()) return n->as_uint64();
  if (n->is_int64() && n->as_int64() >= 0) return static_cast<uint64_t>(n->as_int64());
  return std::nullopt;
}

std::optional<std::string> NoticeText(std::string_view message_json) {
  if (message_json.find("\"notice\"") == std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(message_json, ec);
  if (ec || !v.is_object() || v.as_object().size() != 1) return std::nullopt;
  const json::value* n = v.as_object().if_contains("notice");
  if (n == nullptr || !n->is_string()) return std::nullopt;
  return std::string(n->as_string());
}

std::string DroppedNotice(uint64_t dropped, const RenderOptions& options) {
  std::string text = "... " + Thousands(dropped) + (dropped == 1 ? " line" : " lines") +
                     " dropped (this client read too slowly)";
  if (options.color) return std::string("\x1b[33m") + text + kReset;
  return text;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", value, kUnits[unit]);
  }
  return buf;
}

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::optional<OutputMode> OutputModeFromName(std::string_view name) {
  if (name == "table") return OutputMode::kTable;
  if (name == "json") return OutputMode::kJson;
  if (name == "jsonl") return OutputMode::kJsonl;
  if (name == "raw") return OutputMode::kRaw;
  return std::nullopt;
}

namespace {

std::string CellText(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

// One record or row as a line of "mode" (jsonl or raw), with its newline.
std::string LineIn(const json::value& item, OutputMode mode) {
  if (mode == OutputMode::kJsonl) return json::serialize(item) + "\n";
  if (!item.is_object()) return "\n";
  const json::object& obj = item.as_object();
  if (const json::value* message = obj.if_contains("message")) {
    return CellText(*message) + "\n";
  }
  if (obj.contains("id")) return "\n";  // a record without a message
  std::string line;
  for (const auto& kv : obj) {
    if (!line.empty()) line += '\t';
    line += CellText(kv.value());
  }
  return line + "\n";
}

}  // namespace

Result<std::string> RenderLines(std::string_view response_json, OutputMode mode) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(response_json));
  if (!v.is_object()) return Status::InvalidArgument("expected a JSON object from search");
  const json::value* items = v.as_object().if_contains("hits");
  if (items == nullptr) items = v.as_object().if_contains("rows");
  if (items == nullptr || !items->is_array()) {
    return Status::InvalidArgument("expected \"hits\" or \"rows\" in the search answer");
  }
  std::string out;
  for (const json::value& item : items->as_array()) out += LineIn(item, mode);
  return out;
}

Result<std::vector<std::string>> HitIds(std::string_view response_json) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(response_json));
  std::vector<std::string> ids;
  const json::value* hits = v.is_object() ? v.as_object().if_contains("hits") : nullptr;
  if (hits == nullptr || !hits->is_array()) return ids;  // rows of a pipe: no context
  for (const json::value& hit : hits->as_array()) {
    const json::value* id = hit.is_object() ? hit.as_object().if_contains("id") : nullptr;
    if (id != nullptr && id->is_string()) ids.emplace_back(id->as_string());
  }
  return ids;
}

Result<std::string> RenderContext(std::string_view context_json, OutputMode mode,
                                  const RenderOptions& options) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(context_json));
  const json::object* obj = v.is_object() ? &v.as_object() : nullptr;
  const json::value* hit = obj != nullptr ? obj->if_contains("hit") : nullptr;
  if (hit == nullptr || !hit->is_object()) {
    return Status::InvalidArgument("expected {\"before\",\"hit\",\"after\"} from context");
  }
  std::string out;
  auto add = [&](const json::value& record, bool is_hit) {
    if (mode == OutputMode::kTable) {
      out += is_hit ? "> " : "  ";
      out += record.is_object() ? LineOf(record.as_object(), options) : std::string();
      out += '\n';
    } else {
      out += LineIn(record, mode);
    }
  };
  for (const char* side : {"before", "hit", "after"}) {
    const json::value* part = obj->if_contains(side);
    if (part == nullptr) continue;
    if (part->is_array()) {
      for (const json::value& record : part->as_array()) add(record, false);
    } else {
      add(*part, true);
    }
  }
  return out;
}

}  // namespace sawmill::cli
