// `sawmill segment verify PATH...` and `sawmill segment dump PATH`: offline checks of segment
// files. The work is in segment/segment_tools.h; this file only parses and prints.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/command_error.h"
#include "common/env.h"
#include "segment/segment_tools.h"

namespace sawmill::cli {

int RunSegmentCommand(int argc, char** argv) {
  CLI::App app{"Check or describe segment files (docs/format/segment.md).", "sawmill segment"};
  app.footer(
      "Examples:\n"
      "  sawmill segment verify data/segments/hot/default/0/17.seg\n"
      "  sawmill segment dump data/segments/hot/default/0/17.seg");
  std::vector<std::string> verify_paths;
  std::string dump_path;
  size_t rows = 10;
  CLI::App* verify = app.add_subcommand(
      "verify",
      "read every block of each segment, check checksums and decoding; exit 1 if any "
      "is corrupt, naming the column and block");
  verify->add_option("PATH", verify_paths, "segment files")->required();
  CLI::App* dump = app.add_subcommand(
      "dump", "print the footer, columns and sizes, index and bloom summary, and the first rows");
  dump->add_option("PATH", dump_path, "segment file")->required();
  dump->add_option("--rows", rows, "how many rows to print")->capture_default_str();
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  Env* env = Env::Default();
  if (verify->parsed()) {
    int rc = 0;
    for (const std::string& path : verify_paths) {
      segment::VerifyReport report;
      Status s = segment::VerifySegment(env, path, &report);
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), s.ToString().c_str());
        rc = 1;
        continue;
      }
      if (report.ok()) {
        std::printf("%s: OK (%llu blocks verified)\n", path.c_str(),
                    static_cast<unsigned long long>(report.blocks_checked));
      } else {
        rc = 1;
        std::printf("%s: CORRUPT (%zu problems)\n", path.c_str(), report.problems.size());
        for (const std::string& p : report.problems) std::printf("  %s\n", p.c_str());
      }
    }
    return rc;
  }
  std::string out;
  Status s = segment::DumpSegment(env, dump_path, rows, &out);
  std::fputs(out.c_str(), stdout);
  if (!s.ok()) {
    PrintError("segment dump", "%s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sawmill::cli
