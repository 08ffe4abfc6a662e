// bench_gen_corpus --lines N --out FILE [--manifest FILE] [--data DIR] [--max-line-bytes N]
// Writes the benchmark corpus (see corpus_generator.h) to FILE through a temporary name, and
// its manifest (line count, hash, query words) as JSON to --manifest or FILE.manifest.json.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "corpus_generator.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "bench_gen_corpus: %s\n"
               "usage: bench_gen_corpus --lines N --out FILE [--manifest FILE] [--data DIR]\n"
               "                        [--max-line-bytes N]\n"
               "  --data defaults to $SAWMILL_SHARED_DIR/data/real, else ../shared/data/real\n"
               "  beside the source tree.\n",
               why);
  return 2;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long long lines = 0;
  unsigned long long max_line_bytes = 0;
  std::string out, manifest, data;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(("missing a value after " + arg).c_str());
    std::string value = argv[++i];
    if (arg == "--lines") {
      char* end = nullptr;
      lines = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || lines == 0) {
        return Usage(("--lines wants a positive integer, got '" + value + "'").c_str());
      }
    } else if (arg == "--out") {
      out = value;
    } else if (arg == "--manifest") {
      manifest = value;
    } else if (arg == "--data") {
      data = value;
    } else if (arg == "--max-line-bytes") {
      char* end = nullptr;
      max_line_bytes = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || max_line_bytes < 200) {
        return Usage(
            ("--max-line-bytes wants an integer of at least 200, got '" + value + "'").c_str());
      }
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }
  if (lines == 0 || out.empty()) return Usage("--lines and --out are required");
  if (manifest.empty()) manifest = out + ".manifest.json";
  if (data.empty()) {
    const char* shared = std::getenv("SAWMILL_SHARED_DIR");
    data = shared && *shared ? std::string(shared) + "/data/real"
                             : std::string(SAWMILL_SOURCE_DIR) + "/../shared/data/real";
  }

  auto pool = sawmill::bench::LoadMessagePool(data);
  if (!pool.ok()) {
    std::fprintf(stderr, "bench_gen_corpus: %s\n", pool.status().ToString().c_str());
    return 1;
  }
  std::string tmp = out + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    std::fprintf(stderr, "bench_gen_corpus: cannot create %s: %s\n", tmp.c_str(),
                 std::strerror(errno));
    return 1;
  }
  auto facts = sawmill::bench::GenerateCorpus(*pool, lines, f, max_line_bytes);
  bool closed = std::fclose(f) == 0;
  if (!facts.ok() || !closed) {
    std::fprintf(stderr, "bench_gen_corpus: %s\n",
                 facts.ok() ? "closing the output failed" : facts.status().ToString().c_str());
    std::remove(tmp.c_str());
    return 1;
  }
  // The manifest goes last: a corpus with a manifest is complete.
  std::remove(manifest.c_str());
  if (std::rename(tmp.c_str(), out.c_str()) != 0 ||
      !WriteFile(manifest, sawmill::bench::FactsToJson(*facts, *pool))) {
    std::fprintf(stderr, "bench_gen_corpus: cannot write %s or %s: %s\n", out.c_str(),
                 manifest.c_str(), std::strerror(errno));
    return 1;
  }
  std::fprintf(
      stderr, "bench_gen_corpus: %llu lines, %llu bytes, from %zu real lines in %zu files\n", lines,
      static_cast<unsigned long long>(facts->bytes), pool->lines.size(), pool->files.size());
  return 0;
}
