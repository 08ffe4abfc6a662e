#include "agent/inputs/file/container_log.h"

#include <boost/json.hpp>

#include "common/time_format.h"

namespace sawmill::agent {

namespace {

bool Fail(std::string* error, std::string text) {
  *error = std::move(text);
  return false;
}

bool ParseCri(std::string_view line, ContainerLine* out, std::string* error) {
  // <time> <stream> <tag> <text>; the text may be empty ("<time> stdout F ").
  const size_t a = line.find(' ');
  if (a == std::string_view::npos) return Fail(error, "CRI line without a stream after its time");
  std::optional<int64_t> ts = ParseRfc3339(line.substr(0, a));
  if (!ts) return Fail(error, "CRI line does not start with an RFC 3339 time");
  const size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return Fail(error, "CRI line without a P/F tag");
  std::string_view stream = line.substr(a + 1, b - a - 1);
  if (stream != "stdout" && stream != "stderr") {
    return Fail(error, "CRI line with stream '" + std::string(stream) + "' (stdout or stderr)");
  }
  const size_t c = line.find(' ', b + 1);
  std::string_view tag = line.substr(b + 1, c == std::string_view::npos ? line.npos : c - b - 1);
  // The tag may carry more flags after the first, separated by ':' (CRI's "P:..."), for later use.
  const char kind = tag.empty() ? '\0' : tag[0];
  if ((kind != 'P' && kind != 'F') || (tag.size() > 1 && tag[1] != ':')) {
    return Fail(error, "CRI line with tag '" + std::string(tag) + "' (P or F)");
  }
  out->ts = *ts;
  out->stream.assign(stream);
  out->partial = kind == 'P';
  out->text.assign(c == std::string_view::npos ? std::string_view() : line.substr(c + 1));
  return true;
}

bool ParseDocker(std::string_view line, ContainerLine* out, std::string* error) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(line, ec);
  if (ec || !doc.is_object()) return Fail(error, "Docker json-file line is not a JSON object");
  const boost::json::object& obj = doc.get_object();
  const boost::json::value* log = obj.if_contains("log");
  if (log == nullptr || !log->is_string())
    return Fail(error, "Docker line without a \"log\" string");
  std::string_view text = log->get_string();
  out->partial = text.empty() || text.back() != '\n';
  if (!out->partial) text.remove_suffix(1);
  out->text.assign(text);
  out->stream.clear();
  if (const boost::json::value* stream = obj.if_contains("stream"); stream && stream->is_string()) {
    out->stream.assign(stream->get_string());
  }
  out->ts = 0;
  if (const boost::json::value* time = obj.if_contains("time"); time && time->is_string()) {
    if (std::optional<int64_t> ts = ParseRfc3339(time->get_string())) out->ts = *ts;
  }
  return true;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::optional<LineFormat> LineFormatFromName(std::string_view name) {
  if (name == "plain") return LineFormat::kPlain;
  if (name == "cri") return LineFormat::kCri;
  if (name == "docker") return LineFormat::kDocker;
  if (name == "container") return LineFormat::kContainer;
  return std::nullopt;
}

bool ParseContainerLine(std::string_view line, LineFormat format, ContainerLine* out,
                        std::string* error) {
  switch (format) {
    case LineFormat::kCri: return ParseCri(line, out, error);
    case LineFormat::kDocker: return ParseDocker(line, out, error);
    case LineFormat::kContainer:
      return !line.empty() && line[0] == '{' ? ParseDocker(line, out, error)
                                             : ParseCri(line, out, error);
    case LineFormat::kPlain: break;
  }
  return Fail(error, "not a container log format");
}

std::optional<PodFileName> ParsePodFileName(std::string_view path) {
  std::string_view name = path.substr(path.find_last_of('/') + 1);
  if (name.size() < 4 || name.substr(name.size() - 4) != ".log") return std::nullopt;
  name.remove_suffix(4);
  // <pod>_<namespace>_<container>-<id>: pod and namespace names hold no '_' (DNS names), the
  // container name holds no '_' either; the id is 64 hex digits.
  const size_t first = name.find('_');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = name.find('_', first + 1);
  if (second == std::string_view::npos || name.find('_', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = name.substr(second + 1);
  const size_t dash = rest.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  std::string_view id = rest.substr(dash + 1);
  if (id.size() != 64 || !IsHex(id)) return std::nullopt;
  PodFileName pod;
  pod.pod.assign(name.substr(0, first));
  pod.namespace_name.assign(name.substr(first + 1, second - first - 1));
  pod.container.assign(rest.substr(0, dash));
  pod.container_id.assign(id);
  if (pod.pod.empty() || pod.namespace_name.empty()) return std::nullopt;
  return pod;
}

}  // namespace sawmill::agent
