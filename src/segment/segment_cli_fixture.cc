// Test helper for src/segment/segment_cli_test.sh:
//   segment_cli_fixture PATH                       writes a 3-block segment at PATH
//   segment_cli_fixture --offset-of COLUMN BLOCK PATH  prints the file offset of that block
#include <cstdio>
#include <cstring>
#include <string>

#include "segment/segment.h"
#include "segment/segment_file_reader.h"

int main(int argc, char** argv) {
  using namespace sawmill;
  using namespace sawmill::segment;
  Env* env = Env::Default();
  if (argc == 5 && std::strcmp(argv[1], "--offset-of") == 0) {
    auto reader = SegmentFileReader::OpenFile(env, argv[4]);
    if (!reader.ok()) return 1;
    for (const ColumnMeta& c : (*reader)->footer().columns) {
      if (c.name == argv[2]) {
        std::printf("%llu\n",
                    static_cast<unsigned long long>(c.blocks[std::stoul(argv[3])].offset));
        return 0;
      }
    }
    return 1;
  }
  if (argc != 2) return 2;
  std::vector<Record> records;
  for (uint64_t i = 0; i < 3000; ++i) {
    Record r;
    r.seq = i;
    r.ts = r.ingest_ts = 1'700'000'000'000'000'000 + static_cast<int64_t>(i) * 1'000'000;
    r.service = "checkout";
    r.host = "web-" + std::to_string(i % 3);
    r.level = i % 20 == 0 ? Level::kError : Level::kInfo;
    r.trace_id = "trace-" + std::to_string(i / 4);
    r.message = "order " + std::to_string(i) + " paid in " + std::to_string(i % 300) + " ms";
    r.fields = {{"status", i % 20 == 0 ? "500" : "200"}};
    records.push_back(r);
  }
  WriterOptions options;
  options.block_rows = 1000;
  SegmentInfo info;
  info.tenant = "demo";
  Status s = WriteSegment(env, argv[1], info, records, options, nullptr);
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
