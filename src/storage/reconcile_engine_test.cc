// Reconciliation on real files (PosixEnv, real SQLite catalog): whatever happens to the spelling
// or place of the data directory, to a catalog row or to a segment file, every acknowledged row
// stays readable exactly once, no file that verifies is deleted unless proven superseded, and a
// file that does not verify is logged, counted and marked corrupt (issue 11, defects 1 and 3).
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "catalog/catalog.h"
#include "common/metrics.h"
#include "storage/lines_test_util.h"
#include "storage/storage_engine.h"

namespace sawmill::storage {
namespace {

namespace fs = std::filesystem;

constexpr int kLines = 3000;
constexpr const char* kTenant = "acme";

std::vector<Record> Batch(int first, int count) {
  return NumberedLines(first, count, {.ts_step = 1'000'000}, [](int n, Record* r) {
    r->message += " GET /api/items took=" + std::to_string(n % 97);
  });
}

double MetricValue(const std::string& name) {
  const std::string text = SerializeMetrics();
  size_t at = 0;
  while ((at = text.find(name, at)) != std::string::npos) {
    if ((at == 0 || text[at - 1] == '\n') && text.size() > at + name.size() &&
        text[at + name.size()] == ' ') {
      return std::stod(text.substr(at + name.size() + 1));
    }
    at += name.size();
  }
  return 0;
}

// Flips one bit in the middle of the first large write of every segment file while "flipping"
// (bad RAM or a bad disk controller: the CRC was computed over the right bytes).
class BitFlipEnv final : public EnvWrapper {
 public:
  explicit BitFlipEnv(Env* base) : EnvWrapper(base) {}
  std::atomic<bool> flipping{false};

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    ASSIGN_OR_RETURN(auto file, target()->NewWritableFile(p));
    if (!flipping || p.find("/segments/") == std::string::npos) return file;
    return std::unique_ptr<WritableFile>(new Flipper(std::move(file)));
  }

 private:
  class Flipper final : public WritableFile {
   public:
    explicit Flipper(std::unique_ptr<WritableFile> f) : f_(std::move(f)) {}
    Status Append(std::string_view data) override {
      if (done_ || data.size() < 256) return f_->Append(data);
      std::string copy(data);
      copy[copy.size() / 2] ^= 0x04;
      done_ = true;
      return f_->Append(copy);
    }
    Status Flush() override { return f_->Flush(); }
    Status Sync() override { return f_->Sync(); }
    Status Close() override { return f_->Close(); }
    uint64_t Size() const override { return f_->Size(); }

   private:
    std::unique_ptr<WritableFile> f_;
    bool done_ = false;
  };
};

class ReconcileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("sawmill_reconcile_disk_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    old_cwd_ = fs::current_path();
    fs::current_path(base_);
    log_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
    spdlog::default_logger()->sinks().push_back(log_);
  }
  void TearDown() override {
    engine_.reset();
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), log_), sinks.end());
    fs::current_path(old_cwd_);
    fs::remove_all(base_);
  }

  EngineOptions Options(const std::string& data_dir) {
    EngineOptions o;
    o.data_dir = data_dir;
    o.background_threads = false;
    o.partitions = 3;
    o.compaction_min_inputs = 2;
    o.segment_options.block_rows = 256;
    return o;
  }
  void Open(const std::string& data_dir, EngineOptions options = {}) {
    if (options.data_dir.empty()) options = Options(data_dir);
    auto e = Engine::Open(options);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
  }
  StorageEngine* storage() { return dynamic_cast<StorageEngine*>(engine_.get()); }

  // Writes kLines lines as several segments per partition through "data_dir", closes cleanly and
  // deletes the WAL, so that the segment files alone hold every acknowledged line: a segment
  // that reconciliation loses is lost data, not something replay quietly brings back.
  void Populate(const std::string& data_dir, EngineOptions options = {}) {
    Open(data_dir, options);
    for (int first = 0; first < kLines; first += 500) {
      auto batch = Batch(first, 500);
      ASSERT_TRUE(engine_->Append(kTenant, &batch).ok());
      ASSERT_TRUE(engine_->Flush().ok());
    }
    CloseAndDropWal(data_dir);
  }
  void CloseAndDropWal(const std::string& data_dir) {
    ASSERT_TRUE(engine_->Close().ok());
    engine_.reset();
    for (const auto& entry : fs::directory_iterator(fs::path(data_dir) / "wal")) {
      fs::remove(entry.path());
    }
  }

  // Every line of the tenant, read from the segments and memtables of a snapshot.
  struct Contents {
    std::map<std::string, int> lines;
    int errors = 0;
    std::vector<std::string> problems;
  };
  Contents ReadAll() {
    Contents c;
    auto snap = engine_->GetSnapshot(kTenant);
    for (const SegmentHandle& seg : snap->segments) {
      auto reader = seg.open();
      if (!reader.ok()) {
        ++c.errors;
        c.problems.push_back(reader.status().ToString());
        continue;
      }
      for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
        std::vector<Record> rows;
        Status s = (*reader)->ReadBlock(b, segment::kColAll, &rows, nullptr);
        if (!s.ok()) {
          ++c.errors;
          c.problems.push_back(s.ToString());
        }
        for (const Record& r : rows) ++c.lines[r.message];
      }
    }
    for (const MemtableView& m : snap->memtables) {
      for (const auto& chunk : m.chunks) {
        for (const Record& r : *chunk) ++c.lines[r.message];
      }
    }
    return c;
  }
  // Every acknowledged line is there exactly once.
  void ExpectAllLines() {
    Contents c = ReadAll();
    EXPECT_EQ(c.errors, 0) << (c.problems.empty() ? "" : c.problems[0]);
    EXPECT_EQ(c.lines.size(), static_cast<size_t>(kLines));
    const auto want = Batch(0, kLines);
    int missing = 0, doubled = 0;
    for (const Record& r : want) {
      auto it = c.lines.find(r.message);
      if (it == c.lines.end()) {
        ++missing;
      } else if (it->second != 1) {
        ++doubled;
      }
    }
    EXPECT_EQ(missing, 0);
    EXPECT_EQ(doubled, 0);
  }
  std::vector<catalog::SegmentRow> Rows() {
    auto rows = storage()->catalog_for_testing()->List();
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<catalog::SegmentRow>{};
  }
  std::vector<fs::path> SegmentFiles(const fs::path& data) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(data / "segments")) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  size_t QuarantinedFiles(const fs::path& data) {
    if (!fs::exists(data / "quarantine")) return 0;
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(data / "quarantine")) {
      n += e.is_regular_file();
    }
    return n;
  }
  std::string Log() {
    std::string all;
    for (const auto& line : log_->last_formatted()) all += line;
    return all;
  }
  void ClearLog() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), log_), sinks.end());
    log_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
    sinks.push_back(log_);
  }
  // Runs SQL on the closed catalog of "data"; returns the rows the last statement changed.
  static int Sql(const fs::path& data, const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((data / "catalog.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err != nullptr ? err : "";
    sqlite3_free(err);
    const int changed = sqlite3_changes(db);
    sqlite3_close(db);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << msg;
    return changed;
  }

  fs::path base_;
  fs::path old_cwd_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(ReconcileOnDisk, EverySpellingOfTheDataDirectoryKeepsEveryLine) {
  Populate("./data");
  const fs::path abs = base_ / "data";
  fs::create_directory_symlink(abs, base_ / "link");
  const size_t files = SegmentFiles(abs).size();
  ASSERT_GE(files, 6u);
  const std::vector<std::string> spellings = {"data",
                                              abs.string(),
                                              abs.string() + "/",
                                              "./data/",
                                              "../" + base_.filename().string() + "/data",
                                              (base_ / "link").string(),
                                              "link",
                                              "./data"};
  for (const std::string& spelling : spellings) {
    SCOPED_TRACE(spelling);
    Open(spelling);
    ExpectAllLines();
    for (const auto& row : Rows()) {
      EXPECT_EQ(row.state, catalog::kStateActive) << row.id;
      EXPECT_TRUE(row.path.starts_with("segments/hot/")) << row.path;
    }
    for (const char* finding : {"marked missing", "deleted as superseded", "moved to",
                                "registered from its own identity"}) {
      EXPECT_EQ(Log().find(finding), std::string::npos) << Log();
    }
    ASSERT_TRUE(engine_->Close().ok());
    engine_.reset();
    EXPECT_EQ(SegmentFiles(abs).size(), files);
    EXPECT_EQ(QuarantinedFiles(abs), 0u);
  }
}

TEST_F(ReconcileOnDisk, MovedDirectoryAndRestoredCopyKeepEveryLine) {
  Populate((base_ / "data").string());
  fs::rename(base_ / "data", base_ / "moved");
  Open((base_ / "moved").string());
  ExpectAllLines();
  ASSERT_TRUE(engine_->Close().ok());
  engine_.reset();
  // A restored backup: a copy in another place, opened there; the original still works too.
  ASSERT_EQ(std::system(("cp -a '" + (base_ / "moved").string() + "' '" +
                         (base_ / "restored").string() + "'")
                            .c_str()),
            0);
  Open((base_ / "restored").string());
  ExpectAllLines();
  ASSERT_TRUE(engine_->Close().ok());
  engine_.reset();
  Open((base_ / "moved").string());
  ExpectAllLines();
  EXPECT_EQ(QuarantinedFiles(base_ / "moved") + QuarantinedFiles(base_ / "restored"), 0u);
}

TEST_F(ReconcileOnDisk, AbsolutePathsOfAnOlderCatalogAreMigrated) {
  Populate((base_ / "data").string());
  // Catalogs written before schema version 2 stored absolute paths: of this directory, or of
  // wherever it was before it was moved here.
  Sql(base_ / "data",
      "UPDATE segments SET path = '/var/lib/old-place/' || path WHERE id % 2 = 0;"
      "UPDATE segments SET path = '" +
          (base_ / "data").string() + "/' || path WHERE id % 2 = 1;");
  Open((base_ / "data").string());
  ExpectAllLines();
  for (const auto& row : Rows()) EXPECT_TRUE(row.path.starts_with("segments/")) << row.path;
  EXPECT_NE(Log().find("rewritten from the file"), std::string::npos);
}

// A byte flipped in each column of the segments table of the catalog.
TEST_F(ReconcileOnDisk, FlippedByteInAnyCatalogColumnLosesNothing) {
  const std::vector<std::string> columns = {
      "id",      "tenant",  "partition", "min_ts", "max_ts",    "min_ingest_ts", "max_ingest_ts",
      "min_seq", "max_seq", "rows",      "bytes",  "raw_bytes", "tier",          "path",
      "state",   "created"};
  for (const std::string& column : columns) {
    SCOPED_TRACE(column);
    const fs::path data = base_ / ("data_" + column);
    Populate(data.string());
    const std::string victim = "(SELECT id FROM segments ORDER BY rows DESC, id LIMIT 1)";
    // Integers: one bit of their second byte; text: one bit of a middle byte. (SQLite has no
    // XOR operator: x XOR m = (x | m) - (x & m).)
    const std::string c = column;
    const std::string mid = "substr(" + c + ", length(" + c + ") / 2 + 1, 1)";
    ASSERT_EQ(
        Sql(data, "UPDATE segments SET " + c + " = CASE typeof(" + c + ") WHEN 'integer' THEN (" +
                      c + " | 256) - (" + c + " & 256) WHEN 'text' THEN substr(" + c +
                      ", 1, length(" + c + ") / 2) || char((unicode(" + mid + ") | 1) - (unicode(" +
                      mid + ") & 1)) || substr(" + c + ", length(" + c +
                      ") / 2 + 2) END WHERE id = " + victim),
        1);
    const size_t files = SegmentFiles(data).size();
    ClearLog();
    Open(data.string());
    ExpectAllLines();
    // The file is the truth: every row that has a file agrees with it again.
    EXPECT_EQ(Rows().size(), files);
    for (const auto& row : Rows()) {
      EXPECT_EQ(row.state, catalog::kStateActive) << row.id;
      EXPECT_EQ(row.tenant, kTenant) << row.id;
      EXPECT_EQ(row.tier, "hot") << row.id;
      EXPECT_EQ(row.path.find("segments/hot/acme/" + std::to_string(row.partition) + "/" +
                              std::to_string(row.id) + ".seg"),
                0u)
          << row.path;
    }
    EXPECT_EQ(SegmentFiles(data).size(), files);
    EXPECT_EQ(QuarantinedFiles(data), 0u);
    const std::string findings = Log();
    if (column == "id") {
      // The row no longer names its file; the file says which segment it is, and the row,
      // which describes exactly that segment otherwise, takes the file's id back.
      EXPECT_NE(findings.find("damaged id"), std::string::npos) << findings;
      EXPECT_EQ(findings.find("marked missing"), std::string::npos) << findings;
    } else if (column != "created") {  // nothing in the file to check a creation time against
      EXPECT_NE(findings.find(" in " + column + " '"), std::string::npos) << findings;
    }
    ASSERT_TRUE(engine_->Close().ok());
    engine_.reset();
    // And the repaired catalog opens cleanly the next time.
    Open(data.string());
    ExpectAllLines();
    ASSERT_TRUE(engine_->Close().ok());
    engine_.reset();
  }
}

TEST_F(ReconcileOnDisk, DeletedCatalogRowIsRegisteredAgain) {
  EngineOptions options = Options((base_ / "data").string());
  Populate((base_ / "data").string(), options);
  Open((base_ / "data").string(), options);
  const double registered_before =
      MetricValue("sawmill_catalog_reconcile_total{kind=\"orphan_registered\"}");
  auto rows = Rows();
  ASSERT_GE(rows.size(), 6u);
  engine_.reset();
  Sql(base_ / "data", "DELETE FROM segments WHERE id = " + std::to_string(rows[2].id));
  Open((base_ / "data").string(), options);
  ExpectAllLines();
  EXPECT_EQ(Rows().size(), rows.size());
  EXPECT_EQ(MetricValue("sawmill_catalog_reconcile_total{kind=\"orphan_registered\"}"),
            registered_before + 1);
  EXPECT_NE(Log().find("registered from its own identity"), std::string::npos);
}

TEST_F(ReconcileOnDisk, RowInsideACompactedRangeIsRegisteredNotDeleted) {
  // Partition p gets segments A, B, C; A and C are compacted into M (B is too big to be a
  // candidate), so M's seq range spans B's. B's row is then lost: B must come back, not be
  // "proven" superseded by M's range.
  EngineOptions options = Options((base_ / "data").string());
  options.partitions = 1;
  Open(options.data_dir, options);
  auto a = Batch(0, 100), b = Batch(100, 2800), c = Batch(2900, 100);
  ASSERT_TRUE(engine_->Append(kTenant, &a).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  ASSERT_TRUE(engine_->Append(kTenant, &b).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  ASSERT_TRUE(engine_->Append(kTenant, &c).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 3u);
  const uint64_t b_id = rows[1].id;
  CloseAndDropWal(options.data_dir);
  options.compaction_small_bytes = rows[1].bytes;  // A and C are smaller than B
  Open(options.data_dir, options);
  ASSERT_TRUE(engine_->CompactNow().ok());
  rows = Rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_LE(rows[1].min_seq, rows[0].min_seq);
  EXPECT_GE(rows[1].max_seq, rows[0].max_seq);
  CloseAndDropWal(options.data_dir);
  Sql(base_ / "data", "DELETE FROM segments WHERE id = " + std::to_string(b_id));
  Open(options.data_dir, options);
  ExpectAllLines();
  EXPECT_EQ(Rows().size(), 2u);
  EXPECT_EQ(QuarantinedFiles(base_ / "data"), 0u);
}

TEST_F(ReconcileOnDisk, DuplicatedSegmentFileIsNeitherCountedTwiceNorAllowedToCostData) {
  Populate((base_ / "data").string());
  const auto files = SegmentFiles(base_ / "data");
  // The same file under another name in its directory, and under another id in another
  // partition's directory.
  fs::copy_file(files[0], files[0].parent_path() / "900.seg");
  fs::copy_file(files[1], files.back().parent_path() / "901.seg");
  Open((base_ / "data").string());
  ExpectAllLines();
  EXPECT_EQ(Rows().size(), files.size());
  for (const auto& f : files) EXPECT_TRUE(fs::exists(f)) << f;
  EXPECT_NE(Log().find("deleted as superseded"), std::string::npos) << Log();
  // The copies are gone or quarantined, and ids 900 and 901 are never handed out again.
  EXPECT_GE(*storage()->catalog_for_testing()->MaxId(), 901u);
}

// Defect 3: a segment file with a bad magic, a damaged footer, or cut short.
TEST_F(ReconcileOnDisk, UnreadableSegmentIsLoggedCountedMarkedAndKept) {
  struct Damage {
    const char* name;
    std::function<void(const fs::path&)> apply;
  };
  const std::vector<Damage> damages = {
      {"bad magic",
       [](const fs::path& p) {
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(0);
         f.write("XXXX", 4);
       }},
      {"bad footer",
       [](const fs::path& p) {
         const auto size = fs::file_size(p);
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.seekg(static_cast<std::streamoff>(size - 28 - 10));
         char c;
         f.read(&c, 1);
         c = static_cast<char>(c ^ 0x20);
         f.seekp(static_cast<std::streamoff>(size - 28 - 10));
         f.write(&c, 1);
       }},
      {"truncated", [](const fs::path& p) { fs::resize_file(p, fs::file_size(p) / 2); }},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.name);
    const fs::path data = base_ / (std::string("data_") + damage.name[0] + damage.name[4]);
    Populate(data.string());
    Open(data.string());
    const auto victim = Rows()[1];
    engine_.reset();
    const fs::path file = data / victim.path;
    damage.apply(file);
    const auto damaged_size = fs::file_size(file);
    const double counted = MetricValue("sawmill_segments_corrupt_total");
    Open(data.string());
    // Logged with the file and the reason, counted, marked, still listed (searches warn).
    EXPECT_NE(Log().find(file.string() + " does not verify"), std::string::npos) << Log();
    EXPECT_EQ(MetricValue("sawmill_segments_corrupt_total"), counted + 1);
    EXPECT_EQ(MetricValue("sawmill_segments_corrupt"), 1);
    EXPECT_EQ((*storage()->catalog_for_testing()->Get(victim.id))->state, catalog::kStateCorrupt);
    Contents c = ReadAll();
    EXPECT_EQ(c.errors, 1);
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].find("DataLoss"), std::string::npos) << c.problems[0];
    EXPECT_EQ(c.lines.size(), kLines - victim.rows);
    // The file is kept as it is, not deleted or moved; a second start does not count it again.
    engine_.reset();
    EXPECT_EQ(fs::file_size(file), damaged_size);
    Open(data.string());
    EXPECT_EQ(MetricValue("sawmill_segments_corrupt_total"), counted + 1);
    EXPECT_EQ((*storage()->catalog_for_testing()->Get(victim.id))->state, catalog::kStateCorrupt);
    EXPECT_TRUE(fs::exists(file));
    engine_.reset();
  }
}

TEST_F(ReconcileOnDisk, SegmentFileRestoredFromABackupIsActiveAgain) {
  const fs::path data = base_ / "data";
  Populate(data.string());
  Open(data.string());
  const auto victim = Rows()[2];
  engine_.reset();
  fs::rename(data / victim.path, base_ / "backup.seg");
  Open(data.string());
  EXPECT_EQ((*storage()->catalog_for_testing()->Get(victim.id))->state, catalog::kStateMissing);
  EXPECT_EQ(ReadAll().lines.size(), kLines - victim.rows);  // the WAL is gone: really missing
  engine_.reset();
  fs::rename(base_ / "backup.seg", data / victim.path);
  Open(data.string());
  EXPECT_EQ((*storage()->catalog_for_testing()->Get(victim.id))->state, catalog::kStateActive);
  ExpectAllLines();
  EXPECT_NE(Log().find("is back; active again"), std::string::npos);
}

TEST_F(ReconcileOnDisk, DamagedFileUnderAnotherNameIsFoundByItsHeaderIdentity) {
  const fs::path data = base_ / "data";
  Populate(data.string());
  Open(data.string());
  const auto victim = Rows()[1];
  engine_.reset();
  // Its footer damaged and the file renamed: neither the footer nor the name says which
  // segment it is; the header identity does.
  const fs::path renamed = (data / victim.path).parent_path() / "renamed.seg";
  fs::rename(data / victim.path, renamed);
  {
    std::fstream f(renamed, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(renamed) - 28 - 8));
    f.write("\xff\xff", 2);
  }
  Open(data.string());
  auto row = **storage()->catalog_for_testing()->Get(victim.id);
  EXPECT_EQ(row.state, catalog::kStateCorrupt);
  EXPECT_EQ(data / row.path, renamed);
  EXPECT_TRUE(fs::exists(renamed));
  EXPECT_EQ(QuarantinedFiles(data), 0u);
  EXPECT_EQ(ReadAll().lines.size(), kLines - victim.rows);
}

TEST_F(ReconcileOnDisk, SegmentDamagedWhileRunningIsMarkedOnFirstRead) {
  Populate((base_ / "data").string());
  Open((base_ / "data").string());
  const auto victim = Rows()[0];
  const double counted = MetricValue("sawmill_segments_corrupt_total");
  // Readers open lazily: damage the file before anything read it.
  fs::resize_file(base_ / "data" / victim.path, 100);
  Contents c = ReadAll();
  EXPECT_EQ(c.errors, 1);
  EXPECT_EQ(c.lines.size(), kLines - victim.rows);
  EXPECT_EQ(MetricValue("sawmill_segments_corrupt_total"), counted + 1);
  EXPECT_EQ((*storage()->catalog_for_testing()->Get(victim.id))->state, catalog::kStateCorrupt);
  EXPECT_NE(Log().find("segment " + std::to_string(victim.id) + " ("), std::string::npos);
  EXPECT_NE(Log().find("is corrupt and is now marked so in the catalog"), std::string::npos);
  // Counted once however many searches touch it.
  ReadAll();
  EXPECT_EQ(MetricValue("sawmill_segments_corrupt_total"), counted + 1);
}

// A segment that does not read back as written is never registered (a flush) and never
// replaces its inputs (a compaction): the records stay in the memtable and the WAL, or in the
// inputs.
TEST_F(ReconcileOnDisk, SegmentThatDoesNotReadBackIsNeitherRegisteredNorTrusted) {
  BitFlipEnv env(Env::Default());
  EngineOptions options = Options((base_ / "data").string());
  options.env = &env;
  options.catalog_path = (base_ / "data" / "catalog.db").string();
  fs::create_directories(base_ / "data");
  Open(options.data_dir, options);
  const double errors = MetricValue("sawmill_flush_errors_total");
  auto batch = Batch(0, kLines / 5);
  ASSERT_TRUE(engine_->Append(kTenant, &batch).ok());
  env.flipping = true;
  Status s = engine_->Flush();
  EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
  EXPECT_GT(MetricValue("sawmill_flush_errors_total"), errors);
  EXPECT_TRUE(Rows().empty());
  EXPECT_TRUE(SegmentFiles(base_ / "data").empty());
  EXPECT_EQ(ReadAll().lines.size(), static_cast<size_t>(kLines / 5));  // still in the memtables
  env.flipping = false;
  ASSERT_TRUE(engine_->Flush().ok());
  // Four more small segments per partition, then a compaction whose output is bad.
  for (int i = 1; i < 5; ++i) {
    batch = Batch(i * kLines / 5, kLines / 5);
    ASSERT_TRUE(engine_->Append(kTenant, &batch).ok());
    ASSERT_TRUE(engine_->Flush().ok());
  }
  const auto flushed = Rows();
  ASSERT_GE(flushed.size(), 10u);
  env.flipping = true;
  s = engine_->CompactNow();
  EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
  EXPECT_EQ(Rows(), flushed);  // the inputs are still registered, and their files are there
  for (const auto& row : flushed) EXPECT_TRUE(fs::exists(base_ / "data" / row.path)) << row.path;
  env.flipping = false;
  ASSERT_TRUE(engine_->CompactNow().ok());
  EXPECT_LT(Rows().size(), flushed.size());
  ExpectAllLines();
  CloseAndDropWal(options.data_dir);
  Open(options.data_dir, options);
  ExpectAllLines();
}

TEST_F(ReconcileOnDisk, FormatVersion1SegmentsStillReadAndCompact) {
  EngineOptions v1 = Options((base_ / "data").string());
  v1.segment_options.format_version = 1;
  Populate(v1.data_dir, v1);
  for (const auto& f : SegmentFiles(base_ / "data")) {
    std::ifstream in(f, std::ios::binary);
    char head[12];
    in.read(head, 12);
    EXPECT_EQ(head[8], 1) << f;  // format version 1 on disk
  }
  Open(v1.data_dir);  // a build writing the current version
  ExpectAllLines();
  ASSERT_TRUE(engine_->CompactNow().ok());  // v1 inputs, current-version output
  ExpectAllLines();
  CloseAndDropWal(v1.data_dir);
  Open(v1.data_dir);
  ExpectAllLines();
}

}  // namespace
}  // namespace sawmill::storage
