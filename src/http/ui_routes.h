// The web UI's routes (issue 17, docs/ui.md): the built files of web/ under /ui/, either from
// the table embedded in the binary (web/CMakeLists.txt generates it from web/dist) or, for UI
// development, from a directory on disk (`sawmill server --ui-dir DIR`). A browser asking for
// "/" (Accept: text/html) is redirected to /ui/; every other GET / (the Elasticsearch
// handshake of shippers) gets the fallback's answer.
#pragma once

#include <string>
#include <string_view>

#include "http/router.h"
#include "http/ui_files.h"

namespace sawmill::http {

struct UiSource {
  UiFiles embedded;  // used when dir is empty
  std::string dir;   // --ui-dir: files read from here on every request
};

// "text/javascript; charset=utf-8" for "a.js" and so on; "application/octet-stream" otherwise.
std::string_view UiContentType(std::string_view path);

// Registers GET /ui and /ui/* and GET / (HEAD follows GET). Register before the shipper routes:
// the first route that matches "/" wins, and "root_fallback" answers "/" for non-browsers.
void RegisterUiRoutes(Router* router, UiSource source, Handler root_fallback);

}  // namespace sawmill::http
