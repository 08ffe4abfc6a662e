#include "http/ui_routes.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "http/route_test_util.h"
#include "http/shipper_handlers.h"
#include "http/shipper_routes.h"

namespace sawmill::http {
namespace {

class NullSink : public ingest::IngestSink {
 public:
  Status Ingest(const std::string&, std::string_view, std::vector<Record>*) override {
    return Status::OK();
  }
};

const UiFile kFiles[] = {
    {"index.html", "<!doctype html><title>Sawmill</title>", ""},
    {"assets/index-abc.js", "console.log('ui')", "GZIPPED-JS"},
};

// The server's composition (server_app.cc): UI routes first, then the shipper routes.
class UiRoutes : public ::testing::Test {
 protected:
  void Register(UiSource source) {
    RegisterUiRoutes(&router_, std::move(source), HandleElasticsearchApi);
    RegisterShipperRoutes(&router_, &pipeline_);
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    std::multimap<std::string, std::string> headers = {}) {
    HttpRequest request;
    request.method = method;
    request.target = target;
    request.path = target.substr(0, target.find('?'));
    request.headers = std::move(headers);
    return Answer(router_, request);
  }

  Router router_;
  NullSink sink_;
  ingest::Pipeline pipeline_{&sink_};
};

TEST_F(UiRoutes, BrowserAskingForTheRootIsRedirectedShippersKeepTheHandshake) {
  Register(UiSource{UiFiles{kFiles, 2}, ""});
  auto browser = Call("GET", "/", {{"accept", "text/html,application/xhtml+xml,*/*;q=0.8"}});
  EXPECT_EQ(browser.status, 302);
  EXPECT_EQ(HeaderOf(browser, "Location"), "/ui/");

  // Elasticsearch clients and shippers (no Accept, JSON, the ES vendor type) get the node info.
  for (std::string accept :
       {"", "application/json", "application/vnd.elasticsearch+json; compatible-with=8"}) {
    std::multimap<std::string, std::string> headers;
    if (!accept.empty()) headers.emplace("accept", accept);
    auto info = Call("GET", "/", headers);
    EXPECT_EQ(info.status, 200) << accept;
    EXPECT_NE(info.body.find("\"tagline\""), std::string::npos) << accept << ": " << info.body;
    EXPECT_EQ(HeaderOf(info, "X-Elastic-Product"), "Elasticsearch") << accept;
  }
  auto head = Call("HEAD", "/");
  EXPECT_EQ(head.status, 200);
}

TEST_F(UiRoutes, ServesEmbeddedFilesWithTypesCachingAndGzip) {
  Register(UiSource{UiFiles{kFiles, 2}, ""});
  auto index = Call("GET", "/ui/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>Sawmill</title>");
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(index, "Cache-Control"), "no-cache");
  EXPECT_NE(HeaderOf(index, "Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);

  auto js = Call("GET", "/ui/assets/index-abc.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log('ui')");
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(js, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(HeaderOf(js, "Content-Encoding"), "");

  auto gz = Call("GET", "/ui/assets/index-abc.js", {{"accept-encoding", "gzip, deflate, br"}});
  EXPECT_EQ(gz.body, "GZIPPED-JS");
  EXPECT_EQ(HeaderOf(gz, "Content-Encoding"), "gzip");
  EXPECT_EQ(HeaderOf(gz, "Vary"), "Accept-Encoding");
}

TEST_F(UiRoutes, PagesAreIndexMissingFilesAndEscapesAre404) {
  Register(UiSource{UiFiles{kFiles, 2}, ""});
  // The UI's own pages (and a link with a query) load index.html; the script picks the page.
  for (std::string page : {"/ui/tail", "/ui/admin", "/ui/tail?q=level%3DERROR"}) {
    auto response = Call("GET", page);
    EXPECT_EQ(response.status, 200) << page;
    EXPECT_EQ(response.body, "<!doctype html><title>Sawmill</title>") << page;
  }
  auto redirect = Call("GET", "/ui?q=x&since=1h");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_EQ(HeaderOf(redirect, "Location"), "/ui/?q=x&since=1h");

  for (std::string path : {"/ui/assets/gone.js", "/ui/../etc/passwd", "/ui/assets/../index.html",
                           "/ui//index.html", "/ui/favicon.ico"}) {
    auto response = Call("GET", path);
    EXPECT_EQ(response.status, 404) << path;
  }
  auto missing = Call("GET", "/ui/assets/gone.js");
  EXPECT_NE(missing.body.find("no UI file 'assets/gone.js'"), std::string::npos) << missing.body;
}

TEST_F(UiRoutes, ServesFromADirectoryForDevelopment) {
  auto dir =
      std::filesystem::temp_directory_path() / ("sawmill_ui_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "assets");
  std::ofstream(dir / "index.html") << "<p>from disk</p>";
  std::ofstream(dir / "assets" / "app.css") << "body{}";
  std::ofstream(dir.parent_path() / "secret.txt") << "secret";
  Register(UiSource{UiFiles{kFiles, 2}, dir.string()});

  EXPECT_EQ(Call("GET", "/ui/").body, "<p>from disk</p>");
  auto css = Call("GET", "/ui/assets/app.css");
  EXPECT_EQ(css.body, "body{}");
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  // Edited files are served as they are now, not as they were at start.
  std::ofstream(dir / "index.html") << "<p>edited</p>";
  EXPECT_EQ(Call("GET", "/ui/search").body, "<p>edited</p>");
  EXPECT_EQ(Call("GET", "/ui/../secret.txt").status, 404);
  EXPECT_EQ(Call("GET", "/ui/assets/index-abc.js").status, 404);  // not the embedded files

  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir.parent_path() / "secret.txt");
}

TEST_F(UiRoutes, ABinaryWithoutTheUiSaysSo) {
  Register(UiSource{});
  auto response = Call("GET", "/ui/");
  EXPECT_EQ(response.status, 404);
  EXPECT_NE(response.body.find("built without the web UI"), std::string::npos);
}

}  // namespace
}  // namespace sawmill::http
