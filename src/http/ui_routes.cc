#include "http/ui_routes.h"

#include <fstream>
#include <memory>
#include <optional>
#include <utility>

#include "common/json_string.h"

namespace sawmill::http {

namespace {

constexpr std::string_view kPrefix = "/ui/";
// A file read from --ui-dir larger than this is refused (a development directory holds a few
// hundred KiB; the bound keeps a mistaken --ui-dir from loading a disk image into memory).
constexpr std::streamoff kMaxDiskFile = 64 << 20;

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A relative path inside the UI: no empty, "." or ".." segments, no backslash or NUL.
bool SafeRelativePath(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return path.find('\\') == std::string_view::npos && path.find('\0') == std::string_view::npos;
}

struct Found {
  std::string data;  // from disk
  std::string_view view;
  std::string_view gzip;
};

std::optional<Found> Lookup(const UiSource& source, const std::string& path) {
  if (!source.dir.empty()) {
    std::ifstream in(source.dir + "/" + path, std::ios::binary);
    if (!in) return std::nullopt;
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    if (size < 0 || size > kMaxDiskFile) return std::nullopt;
    in.seekg(0);
    Found found;
    found.data.resize(static_cast<size_t>(size));
    if (!in.read(found.data.data(), size)) return std::nullopt;
    found.view = found.data;
    return found;
  }
  for (size_t i = 0; i < source.embedded.count; ++i) {
    const UiFile& file = source.embedded.files[i];
    if (file.path == path) return Found{{}, file.data, file.gzip};
  }
  return std::nullopt;
}

HttpResponse Redirect(int status, std::string location) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/html; charset=utf-8";
  response.body = "<a href=\"" + location + "\">Sawmill</a>\n";
  response.headers.emplace_back("Location", std::move(location));
  return response;
}

std::string QueryString(const HttpRequest& request) {
  size_t question = request.target.find('?');
  return question == std::string::npos ? std::string() : request.target.substr(question);
}

HttpResponse NotFound(std::string message) {
  return HttpResponse::Json(404, "{\"error\":" + JsonString(message) + "}");
}

HttpResponse ServeUi(const UiSource& source, const HttpRequest& request) {
  if (request.path == "/ui") return Redirect(301, "/ui/" + QueryString(request));
  std::string path(std::string_view(request.path).substr(kPrefix.size()));
  if (path.empty()) path = "index.html";
  if (source.dir.empty() && source.embedded.count == 0) {
    return NotFound("this sawmill binary was built without the web UI");
  }
  if (!SafeRelativePath(path)) return NotFound("no UI file '" + path + "'");
  std::optional<Found> found = Lookup(source, path);
  // A page of the UI (/ui/tail, /ui/admin) is index.html; the script picks the page.
  const bool page =
      path.rfind('/') == std::string::npos ? path.find('.') == std::string::npos : false;
  if (!found && page) {
    path = "index.html";
    found = Lookup(source, path);
  }
  if (!found) {
    if (path == "index.html") {
      return NotFound("the UI directory '" + source.dir +
                      "' has no index.html: build it (cd web && npm run build) or drop --ui-dir");
    }
    return NotFound("no UI file '" + path + "'");
  }
  HttpResponse response;
  response.status = 200;
  response.content_type = std::string(UiContentType(path));
  // Vite names assets after their content, so they never change; index.html names the current
  // ones and is revalidated every time.
  response.headers.emplace_back("Cache-Control", path.rfind("assets/", 0) == 0
                                                     ? "public, max-age=31536000, immutable"
                                                     : "no-cache");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (EndsWith(path, ".html")) {
    // The UI talks only to this server; CodeMirror and uPlot set inline styles.
    response.headers.emplace_back(
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'");
    response.headers.emplace_back("Referrer-Policy", "same-origin");
  }
  const bool gzip =
      !found->gzip.empty() && request.Header("accept-encoding").find("gzip") != std::string::npos;
  if (!found->gzip.empty()) response.headers.emplace_back("Vary", "Accept-Encoding");
  if (gzip) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.body = std::string(found->gzip);
  } else if (!found->data.empty()) {
    response.body = std::move(found->data);
  } else {
    response.body = std::string(found->view);
  }
  return response;
}

}  // namespace

std::string_view UiContentType(std::string_view path) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [suffix, type] : kTypes) {
    if (EndsWith(path, suffix)) return type;
  }
  return "application/octet-stream";
}

void RegisterUiRoutes(Router* router, UiSource source, Handler root_fallback) {
  auto shared = std::make_shared<const UiSource>(std::move(source));
  auto serve = [shared](const HttpRequest& request) { return ServeUi(*shared, request); };
  router->Add("GET", "/ui", serve);
  router->Add("GET", "/ui/*", serve);
  router->Add("GET", "/", [fallback = std::move(root_fallback)](const HttpRequest& request) {
    // Browsers ask for text/html first; Elasticsearch clients and shippers ask for JSON (or
    // nothing) and keep their handshake answer.
    if (request.Header("accept").find("text/html") != std::string::npos) {
      return Redirect(302, "/ui/");
    }
    return fallback(request);
  });
}

}  // namespace sawmill::http
