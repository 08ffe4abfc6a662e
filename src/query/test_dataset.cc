#include "query/test_dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "common/env.h"
#include "common/hash.h"
#include "segment/format.h"
#include "segment/segment.h"

namespace sawmill::query::testing {

namespace {

std::vector<std::string> ParseCsvLine(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(std::move(cur));
  return out;
}

}  // namespace

std::string SharedDir() {
  if (const char* env = std::getenv("SAWMILL_SHARED_DIR"); env != nullptr && *env) return env;
#ifdef SAWMILL_SHARED_DIR
  return SAWMILL_SHARED_DIR;
#else
  return "../shared";
#endif
}

std::vector<Record> LoadDataset() {
  const char* kSystems[] = {"HDFS", "Apache", "OpenSSH", "Zookeeper", "Hadoop"};
  std::vector<std::vector<Record>> per_system;
  for (const char* system : kSystems) {
    std::string path =
        SharedDir() + "/data/real/loghub_2k/" + system + "/" + system + "_2k.log_structured.csv";
    std::ifstream in(path);
    if (!in) return {};
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header = ParseCsvLine(line);
    std::map<std::string, size_t> col;
    for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
    std::vector<Record> recs;
    std::string service = system;
    for (char& c : service) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::vector<std::string> cells = ParseCsvLine(line);
      if (cells.size() != header.size()) continue;
      auto cell = [&](const char* name) -> std::string {
        auto it = col.find(name);
        return it == col.end() ? std::string() : cells[it->second];
      };
      Record r;
      r.tenant = "default";
      r.service = service;
      int line_id = std::atoi(cell("LineId").c_str());
      r.host = service + "-" + std::to_string(line_id % 3 + 1);
      if (std::optional<Level> level = ParseLevel(cell("Level"))) r.level = *level;
      r.message = cell("Content");
      if (line_id % 7 == 0) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%016llx",
                      static_cast<unsigned long long>(Hash64(service + std::to_string(line_id))));
        r.trace_id = buf;
      }
      if (line_id % 11 == 0) r.user_id = "user-" + std::to_string(line_id % 5);
      r.fields.emplace_back("line_id", std::to_string(line_id));
      if (!cell("Component").empty()) r.fields.emplace_back("component", cell("Component"));
      if (!cell("Pid").empty()) r.fields.emplace_back("pid", cell("Pid"));
      r.fields.emplace_back("event_id", cell("EventId"));
      recs.push_back(std::move(r));
    }
    per_system.push_back(std::move(recs));
  }
  std::vector<Record> out;
  size_t longest = 0;
  for (const auto& v : per_system) longest = std::max(longest, v.size());
  for (size_t i = 0; i < longest; ++i) {
    for (size_t s = 0; s < per_system.size(); ++s) {
      if (i >= per_system[s].size()) continue;
      Record r = per_system[s][i];
      r.seq = out.size() + 1;
      r.ingest_ts = kDatasetStart + static_cast<int64_t>(out.size()) * 700 * kNanosPerMilli;
      r.ts = r.ingest_ts - static_cast<int64_t>(s + 1) * kNanosPerSecond;
      out.push_back(std::move(r));
    }
  }
  return out;
}

TempDir::TempDir(const std::string& name) {
  path_ = std::filesystem::temp_directory_path() /
          ("sawmill_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() { std::filesystem::remove_all(path_); }

std::optional<storage::SegmentHandle> OpenedSegment(const std::string& path,
                                                    const segment::SegmentInfo& info,
                                                    std::vector<Record> records,
                                                    const segment::WriterOptions& options) {
  Env* env = Env::Default();
  storage::SegmentHandle h;
  Status written = segment::WriteSegment(env, path, info, std::move(records), options, &h.info);
  EXPECT_TRUE(written.ok()) << path << ": " << written.ToString();
  auto reader = segment::SegmentReader::Open(env, path);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return std::nullopt;
  std::shared_ptr<segment::SegmentReader> shared = *reader;
  h.path = path;
  h.open = [shared]() -> Result<std::shared_ptr<segment::SegmentReader>> { return shared; };
  return h;
}

std::shared_ptr<storage::Snapshot> BuildSnapshot(const std::vector<Record>& records,
                                                 const std::string& dir, size_t per_segment,
                                                 size_t in_memory, uint32_t block_rows,
                                                 uint64_t old_every,
                                                 const index::WordPostingsRule* words,
                                                 const index::ValuePostingsRule* values) {
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  segment::WriterOptions wo;
  wo.block_rows = block_rows;
  if (words != nullptr) wo.word_postings = *words;
  const size_t flushed = records.size() - in_memory;
  uint64_t id = 1;
  for (size_t start = 0; start < flushed; start += per_segment) {
    std::vector<Record> part(
        records.begin() + static_cast<long>(start),
        records.begin() + static_cast<long>(std::min(flushed, start + per_segment)));
    segment::SegmentInfo info;
    info.id = id;
    info.tenant = "default";
    std::string path = dir + "/" + std::to_string(id) + ".seg";
    wo.format_version = old_every != 0 && id % old_every == 0 ? 2 : segment::kFormatVersion;
    // Every other one of the current version with the word postings laid out as builds before
    // the front-coded layout wrote them (word_postings version 1).
    wo.word_postings_version = old_every != 0 && id % (2 * old_every) == 2 ? 1 : 0;
    // Segments with and without the postings of near-unique fields mixed, unless told.
    wo.value_postings = values != nullptr ? *values
                        : id % 2 == 0     ? index::ValuePostingsRule()
                                          : segment::DefaultValuePostingsRule();
    // Every "old_every"-th segment after it in the warm tier's encoding (its text layouts and
    // blooms), with the test's block size, the hot indexes (the tests that count without
    // reading rows need trace_id's), and the default zstd levels (no answer depends on them;
    // the test stays fast).
    segment::WriterOptions warm = segment::WarmWriterOptions();
    warm.block_rows = warm.time_slice_rows = block_rows;
    warm.text_zstd_level = warm.other_zstd_level = warm.metadata_zstd_level = 0;
    warm.indexed_fields = wo.indexed_fields;
    warm.word_postings = wo.word_postings;
    warm.value_postings = wo.value_postings;
    const bool as_warm = old_every != 0 && id % old_every == 1;
    ++id;
    auto h = OpenedSegment(path, info, std::move(part), as_warm ? warm : wo);
    if (h) snap->segments.push_back(std::move(*h));
  }
  if (in_memory > 0) {
    storage::MemtableView view;
    view.chunks.push_back(storage::RecordChunk::FromRecords(
        std::vector<Record>(records.begin() + static_cast<long>(flushed), records.end())));
    snap->memtables.push_back(std::move(view));
  }
  return snap;
}

}  // namespace sawmill::query::testing
