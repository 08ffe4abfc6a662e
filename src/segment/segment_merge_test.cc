// MergeSegments (the compactor's and the warm re-encoder's writer): the same bytes as writing
// the inputs' records concatenated, and memory that does not grow with the inputs' sizes.
#include "segment/segment_merge.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/fault_env.h"
#include "objstore/local_directory_store.h"
#include "segment/segment.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

SegmentInfo InfoWithId(uint64_t id) {
  SegmentInfo info;
  info.id = id;
  info.tenant = "acme";
  info.partition = 1;
  return info;
}

std::vector<Record> ReadAll(const SegmentReader& reader) {
  std::vector<Record> out;
  for (uint32_t b = 0; b < reader.blocks().size(); ++b) {
    Status s = reader.ReadBlock(b, kColAll, &out, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

// Writes each batch as an input segment of "store" (ids 1..n) with "input_options" and merges
// them with "options" twice: MergeSegments, and WriteSegment of the inputs' records read back
// and concatenated (what the compactor did before). Expects the same bytes and info.
void ExpectSameBytes(Env* env, const std::string& dir,
                     const std::vector<std::vector<Record>>& batches,
                     const WriterOptions& input_options, const WriterOptions& options,
                     const std::string& what, MergeStats* stats_out = nullptr) {
  objstore::LocalDirectoryStore store(env, dir);
  std::vector<std::shared_ptr<SegmentReader>> inputs;
  std::vector<Record> concatenated;
  uint64_t id = 1;
  for (const std::vector<Record>& batch : batches) {
    const std::string name = "in" + std::to_string(id) + ".seg";
    Status s = WriteSegment(&store, name, InfoWithId(id), batch, input_options, nullptr);
    ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
    auto reader = SegmentReader::Open(env, dir + "/" + name);
    ASSERT_TRUE(reader.ok()) << what << ": " << reader.status().ToString();
    std::vector<Record> rows = ReadAll(**reader);
    concatenated.insert(concatenated.end(), rows.begin(), rows.end());
    inputs.push_back(*reader);
    ++id;
  }
  SegmentInfo want, got;
  Status s = WriteSegment(&store, "vector.seg", InfoWithId(100), concatenated, options, &want);
  ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
  MergeStats stats;
  s = MergeSegments(&store, "merged.seg", InfoWithId(100), inputs, options, &got, &stats);
  ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
  std::string a, b;
  ASSERT_TRUE(ReadFileToString(env, dir + "/vector.seg", &a).ok());
  ASSERT_TRUE(ReadFileToString(env, dir + "/merged.seg", &b).ok());
  EXPECT_EQ(a.size(), b.size()) << what;
  EXPECT_TRUE(a == b) << what << ": the merged segment differs from the vector path's";
  EXPECT_EQ(want.rows, got.rows) << what;
  EXPECT_EQ(want.min_ts, got.min_ts) << what;
  EXPECT_EQ(want.max_ts, got.max_ts) << what;
  EXPECT_EQ(want.min_ingest_ts, got.min_ingest_ts) << what;
  EXPECT_EQ(want.max_ingest_ts, got.max_ingest_ts) << what;
  EXPECT_EQ(want.min_seq, got.min_seq) << what;
  EXPECT_EQ(want.max_seq, got.max_seq) << what;
  EXPECT_EQ(want.raw_bytes, got.raw_bytes) << what;
  EXPECT_EQ(want.file_bytes, got.file_bytes) << what;
  EXPECT_EQ(stats.rows, concatenated.size()) << what;
  // Both writers count the ranges with one helper: check them against the records themselves.
  auto [min_ts, max_ts] =
      std::minmax_element(concatenated.begin(), concatenated.end(),
                          [](const Record& a, const Record& b) { return a.ts < b.ts; });
  auto [min_ingest, max_ingest] = std::minmax_element(
      concatenated.begin(), concatenated.end(),
      [](const Record& a, const Record& b) { return a.ingest_ts < b.ingest_ts; });
  auto [min_seq, max_seq] =
      std::minmax_element(concatenated.begin(), concatenated.end(),
                          [](const Record& a, const Record& b) { return a.seq < b.seq; });
  uint64_t raw_bytes = 0;
  for (const Record& r : concatenated) {
    raw_bytes += r.message.size();
    for (const auto& [key, value] : r.fields) raw_bytes += key.size() + value.size();
  }
  EXPECT_EQ(got.rows, concatenated.size()) << what;
  EXPECT_EQ(got.min_ts, min_ts->ts) << what;
  EXPECT_EQ(got.max_ts, max_ts->ts) << what;
  EXPECT_EQ(got.min_ingest_ts, min_ingest->ingest_ts) << what;
  EXPECT_EQ(got.max_ingest_ts, max_ingest->ingest_ts) << what;
  EXPECT_EQ(got.min_seq, min_seq->seq) << what;
  EXPECT_EQ(got.max_seq, max_seq->seq) << what;
  EXPECT_EQ(got.raw_bytes, raw_bytes) << what;
  if (stats_out != nullptr) *stats_out = stats;
}

// Random records: "overlap" gives every input timestamps over the same stretch (and many equal
// timestamps); otherwise each input follows the previous one in time, as flushes do.
std::vector<std::vector<Record>> RandomBatches(std::mt19937_64& rng, size_t inputs, size_t max_rows,
                                               bool overlap) {
  std::vector<std::vector<Record>> batches(inputs);
  uint64_t seq = 1 + rng() % 1000;
  int64_t ts = 1'700'000'000'000'000'000;
  const char* services[] = {"api", "db", "web", "auth", "a"};
  const char* hosts[] = {"h1", "h2", "h10", ""};
  for (size_t i = 0; i < inputs; ++i) {
    const size_t n = 1 + rng() % max_rows;
    const int64_t base = overlap ? 1'700'000'000'000'000'000 : ts;
    for (size_t k = 0; k < n; ++k) {
      Record r;
      r.seq = seq++;
      r.ts = base + static_cast<int64_t>(overlap ? rng() % 500 : k * 7 + rng() % 20) * 1000;
      r.ingest_ts = r.ts + static_cast<int64_t>(rng() % 100);
      ts = std::max(ts, r.ts);
      r.service = services[rng() % 5];
      r.host = hosts[rng() % 4];
      r.level = static_cast<Level>(rng() % kLevelCount);
      if (rng() % 3 == 0) r.trace_id = "trace" + std::to_string(rng() % 50);
      if (rng() % 4 == 0) r.user_id = "u" + std::to_string(rng() % 9);
      const uint64_t shape = rng() % 4;
      if (shape == 0) {
        r.message = "GET /api/v" + std::to_string(rng() % 3) + " took " +
                    std::to_string(rng() % 900) + "ms";
      } else if (shape == 1) {
        const std::string status = std::to_string(200 + rng() % 4);
        r.message = R"({"status":)" + status + R"(,"path":"/x"})";
        r.fields = {{"status", status}, {"path", "/x"}};
      } else if (shape == 2) {
        r.message = "word" + std::to_string(rng() % 30) + " other words here";
        r.fields = {{"k" + std::to_string(rng() % 5), "v"}, {"dup", "1"}, {"dup", "2"}};
      }
      batches[i].push_back(std::move(r));
    }
  }
  return batches;
}

TEST(MergeSegments, SameBytesAsTheRecordsConcatenatedOverRandomInputsAndOptions) {
  FaultInjectionEnv env;
  std::mt19937_64 rng(19);
  for (int round = 0; round < 40; ++round) {
    const std::string dir = "/m" + std::to_string(round);
    ASSERT_TRUE(env.CreateDirs(dir).ok());
    WriterOptions input_options, options;
    input_options.block_rows = 16 + static_cast<uint32_t>(rng() % 300);
    input_options.time_slice_rows = rng() % 5 == 0 ? 0 : input_options.block_rows;
    switch (round % 8) {
      case 0: break;  // the defaults: one slice per block
      case 1:
        options.block_rows = 64;
        options.time_slice_rows = 64;
        break;
      case 2:
        options.block_rows = 100;
        options.time_slice_rows = 37;
        break;
      case 3:
        options.block_rows = 37;
        options.time_slice_rows = 100;
        break;
      case 4:
        options.block_rows = 50;
        options.time_slice_rows = 0;  // the whole segment sorted as one
        break;
      case 5:
        options.block_rows = 70;
        options.sort_rows = false;
        break;
      case 6:
        options = WarmWriterOptions();
        options.block_rows = 128;
        options.time_slice_rows = 128;
        break;
      case 7:
        options.block_rows = 90;
        options.time_slice_rows = 90;
        options.format_version = 3;
        input_options.format_version = 3;
        break;
    }
    const bool overlap = round % 3 == 0;
    const size_t inputs = 1 + rng() % 6;
    const auto batches = RandomBatches(rng, inputs, round % 2 ? 900 : 60, overlap);
    ExpectSameBytes(&env, dir, batches, input_options, options,
                    "round " + std::to_string(round) + " (" + std::to_string(inputs) +
                        " inputs, overlap " + std::to_string(overlap) + ")");
    if (HasFatalFailure()) return;
  }
}

// Real lines (JSON shapes, dynamic fields, CRLF, timestamps going backwards) cut into several
// inputs, merged with the hot and the warm options.
TEST(MergeSegments, SameBytesAsTheRecordsConcatenatedOnRealDatasets) {
  FaultInjectionEnv env;
  int n = 0;
  for (const std::string& rel : testdata::RealFiles()) {
    std::vector<Record> records =
        testdata::LoadRecords(testdata::SharedDir() + "/data/real/" + rel, 3000);
    ASSERT_FALSE(records.empty()) << rel;
    std::vector<std::vector<Record>> batches(4);
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].seq = i + 1;
      batches[i * batches.size() / records.size()].push_back(records[i]);
    }
    WriterOptions input_options;
    input_options.block_rows = input_options.time_slice_rows = 500;
    WriterOptions hot;
    hot.block_rows = hot.time_slice_rows = 1000;
    WriterOptions warm = WarmWriterOptions();
    warm.block_rows = warm.time_slice_rows = 2048;
    for (const WriterOptions* options : {&hot, &warm}) {
      const std::string dir = "/real" + std::to_string(n++);
      ASSERT_TRUE(env.CreateDirs(dir).ok());
      ExpectSameBytes(&env, dir, batches, input_options, *options,
                      rel + (options == &warm ? " (warm)" : " (hot)"));
      if (HasFatalFailure()) return;
    }
  }
}

// Inputs that follow one another in time (as flushes do): the merge holds about one input
// block per input plus one output slice, whether the inputs are small or four times larger.
TEST(MergeSegments, HoldsAboutABlockPerInputWhateverTheInputsSizes) {
  FaultInjectionEnv env;
  std::mt19937_64 rng(7);
  WriterOptions options;
  options.block_rows = options.time_slice_rows = 256;
  uint64_t held[2] = {0, 0};
  for (int size = 0; size < 2; ++size) {
    const size_t rows = size == 0 ? 1000 : 4000;
    std::vector<std::vector<Record>> batches(8);
    uint64_t seq = 1;
    for (size_t i = 0; i < batches.size(); ++i) {
      for (size_t k = 0; k < rows; ++k) {
        Record r;
        r.seq = seq++;
        // Flushes overlap a little at their edges (a late line).
        r.ts = static_cast<int64_t>((i * rows + k) * 1000 + rng() % 3000);
        r.ingest_ts = r.ts;
        r.service = "s" + std::to_string(rng() % 7);
        r.host = "h" + std::to_string(rng() % 3);
        r.message = "line " + std::to_string(r.seq);
        batches[i].push_back(std::move(r));
      }
    }
    const std::string dir = "/held" + std::to_string(size);
    ASSERT_TRUE(env.CreateDirs(dir).ok());
    MergeStats stats;
    ExpectSameBytes(&env, dir, batches, options, options, "held " + std::to_string(rows), &stats);
    if (HasFatalFailure()) return;
    EXPECT_LE(stats.max_open_blocks, 3u) << rows << " rows per input";
    EXPECT_LE(stats.max_held_rows, 4u * 256) << rows << " rows per input";
    held[size] = stats.max_held_rows;
  }
  EXPECT_LE(held[1], held[0] + 256) << "the rows held grew with the inputs' size";
}

// The peak resident memory of a child process (its VmHWM less its VmRSS when it started).
uint64_t RssKiB(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) == 0) return std::strtoull(line.c_str() + std::strlen(key), nullptr, 10);
  }
  return 0;
}

// Runs "work" in a child process and returns how far its resident memory rose (KiB), or
// UINT64_MAX when the child failed.
template <typename Fn>
uint64_t PeakRiseKiB(Fn work) {
  int fds[2];
  if (pipe(fds) != 0) return UINT64_MAX;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    // Give the heap's free pages back (the parent's freed records would otherwise be reused
    // unseen), then reset the high-water mark to what the child holds now ("5" to clear_refs).
    malloc_trim(0);
    {
      std::ofstream clear("/proc/self/clear_refs");
      clear << "5";
    }
    const uint64_t start = RssKiB("VmRSS:");
    const bool ok = work();
    const uint64_t peak = RssKiB("VmHWM:");
    uint64_t rise = ok && peak >= start ? peak - start : UINT64_MAX;
    if (write(fds[1], &rise, sizeof(rise)) != sizeof(rise)) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  uint64_t rise = UINT64_MAX;
  if (read(fds[0], &rise, sizeof(rise)) != sizeof(rise)) rise = UINT64_MAX;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return rise;
}

// The peak memory of a child process that merges N inputs of a real disk (RSS, not a counter):
// eight 12,000-row inputs cost about what two do, and far less than holding their records
// (the path the compactor took before). What still grows with the rows is the index builders'
// state (an entry per distinct value, a bit per row), as in a flush.
TEST(MergeSegments, PeakMemoryOfAChildMergingLargeInputsStaysBounded) {
  Env* env = Env::Default();
  char tmpl[] = "/tmp/sawmill_merge_rss_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  objstore::LocalDirectoryStore store(env, dir);
  std::mt19937_64 rng(3);
  const size_t kRows = 12000;
  std::vector<std::shared_ptr<SegmentReader>> inputs;
  uint64_t seq = 1;
  for (int i = 0; i < 8; ++i) {
    std::vector<Record> batch;
    for (size_t k = 0; k < kRows; ++k) {
      Record r;
      r.seq = seq++;
      r.ts = static_cast<int64_t>(seq * 1000 + rng() % 5000);
      r.ingest_ts = r.ts;
      r.service = "svc" + std::to_string(rng() % 20);
      r.host = "host" + std::to_string(rng() % 50);
      // Values from bounded vocabularies: the index builders keep one entry per distinct value
      // (a trace id unique to each row costs its postings in any writer; the flush's too).
      r.trace_id = std::to_string(rng() % 5000);
      r.message = "request " + std::to_string(rng() % 5000) + " from " +
                  std::to_string(rng() % 1000) + " handled in " + std::to_string(rng() % 5000) +
                  "ms " + std::string(150 + rng() % 100, static_cast<char>('a' + rng() % 26));
      r.fields = {{"status", std::to_string(200 + rng() % 5)},
                  {"path", "/p/" + std::to_string(rng() % 100)}};
      batch.push_back(std::move(r));
    }
    const std::string name = "in" + std::to_string(i) + ".seg";
    ASSERT_TRUE(
        WriteSegment(&store, name, InfoWithId(i + 1), std::move(batch), WriterOptions(), nullptr)
            .ok());
    auto reader = SegmentReader::Open(env, dir + "/" + name);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    inputs.push_back(*reader);
  }
  auto merge = [&](size_t n, const std::string& name) {
    return PeakRiseKiB([&] {
      std::vector<std::shared_ptr<SegmentReader>> some(inputs.begin(), inputs.begin() + n);
      return MergeSegments(&store, name, InfoWithId(50), some, WriterOptions(), nullptr).ok();
    });
  };
  auto hold_all = [&](size_t n, const std::string& name) {
    return PeakRiseKiB([&] {
      std::vector<Record> rows;
      for (size_t i = 0; i < n; ++i) {
        for (uint32_t b = 0; b < inputs[i]->blocks().size(); ++b) {
          if (!inputs[i]->ReadBlock(b, kColAll, &rows, nullptr).ok()) return false;
        }
      }
      return WriteSegment(&store, name, InfoWithId(50), std::move(rows), WriterOptions(), nullptr)
          .ok();
    });
  };
  const uint64_t two = merge(2, "two.seg");
  const uint64_t eight = merge(8, "eight.seg");
  const uint64_t eight_held = hold_all(8, "held.seg");
  std::printf("peak RSS rise (KiB): merge 2 inputs %llu, merge 8 inputs %llu, 8 inputs held %llu\n",
              static_cast<unsigned long long>(two), static_cast<unsigned long long>(eight),
              static_cast<unsigned long long>(eight_held));
  ASSERT_NE(two, UINT64_MAX);
  ASSERT_NE(eight, UINT64_MAX);
  ASSERT_NE(eight_held, UINT64_MAX);
  // Both include the writer's fixed cost (zstd contexts, the write buffer: tens of MiB). Four
  // times the rows: the index builders grow a little with them, the records held do not.
  EXPECT_LT(eight, two + 16 * 1024) << "merging 8 inputs rose far more than merging 2";
  // Holding the 8 inputs' records (96,000 Records) costs far more than the merge grows by.
  EXPECT_LT((eight - std::min(eight, two)) * 8, eight_held - std::min(eight_held, two))
      << "the merge held about as much as holding every record";
  EXPECT_LT(eight, eight_held);
  for (const char* name : {"two.seg", "eight.seg", "held.seg"}) {
    env->RemoveFile(dir + "/" + name).IgnoreError();
  }
  for (int i = 0; i < 8; ++i)
    env->RemoveFile(dir + "/in" + std::to_string(i) + ".seg").IgnoreError();
  env->RemoveDir(dir).IgnoreError();
}

}  // namespace
}  // namespace sawmill::segment
