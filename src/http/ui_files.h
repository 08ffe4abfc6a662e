// The web UI's built files as compiled into the binary (web/scripts/embed.mjs generates their
// definition, EmbeddedUiFiles, from web/dist). No other includes, so that the generated source
// compiles on its own.
#pragma once

#include <cstddef>
#include <string_view>

namespace sawmill::http {

// One built file: "index.html", "assets/index-3f2a.js". "gzip" is the same bytes gzip-compressed
// (empty when compressing did not make it smaller).
struct UiFile {
  std::string_view path;
  std::string_view data;
  std::string_view gzip;
};

struct UiFiles {
  const UiFile* files = nullptr;
  size_t count = 0;
};

// Defined by the generated ui_assets.cc (library sawmill_ui_assets, linked only into the
// `sawmill` binary, so that unit tests never need Node.js).
UiFiles EmbeddedUiFiles();

}  // namespace sawmill::http
