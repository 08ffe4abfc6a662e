// The normaliser over every real dataset in shared/data/real: CRLF files, files without a final
// newline, 25 KB lines, NDJSON with deep nesting, sixteen Loghub formats.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/normalize.h"

namespace sawmill::ingest {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1796040000LL * 1'000'000'000;  // 2026-11-30T12:00:00Z

fs::path RealDir() {
  const char* env = std::getenv("SAWMILL_SHARED_DIR");
  return fs::path(env != nullptr ? env : SAWMILL_SHARED_DIR) / "data" / "real";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Independent of the normaliser: lines by std::getline, blank = only spaces, tabs, CR.
std::vector<std::string> NonBlankLines(const std::string& data) {
  std::vector<std::string> lines;
  std::istringstream in(data);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r\v\f") != std::string::npos) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
  }
  return lines;
}

std::vector<fs::path> DataFiles() {
  std::vector<fs::path> files;
  if (!fs::exists(RealDir())) return files;
  for (const auto& entry : fs::recursive_directory_iterator(RealDir())) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name == "LICENSE" || name == "SOURCES.md") continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(RealData, EveryNonEmptyLineOfEveryFileIsOneRecord) {
  std::vector<fs::path> files = DataFiles();
  ASSERT_FALSE(files.empty()) << "no datasets at " << RealDir() << " (set SAWMILL_SHARED_DIR)";
  size_t total = 0;
  for (const fs::path& path : files) {
    std::string data = ReadFile(path);
    std::vector<std::string> expected = NonBlankLines(data);
    std::vector<Record> records;
    IngestCounts counts;
    NormalizeBody(data, Defaults{"svc", "host", std::nullopt}, NormalizeOptions{}, kNow, &records,
                  &counts);
    ASSERT_EQ(records.size(), expected.size()) << path;
    EXPECT_EQ(counts.accepted, expected.size()) << path;
    EXPECT_EQ(counts.truncated, 0u) << path;  // no line in the datasets reaches 256 KiB
    size_t json = 0, parse_failed = 0, with_ts = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      const Record& r = records[i];
      const bool is_json = !expected[i].empty() && expected[i][0] == '{';
      json += is_json;
      parse_failed += (r.flags & kFlagParseFailed) != 0;
      with_ts += r.ts != 0;
      EXPECT_EQ(r.flags & kFlagInvalidUtf8, 0u) << path << ":" << i + 1;
      if (!is_json) {
        // A plain line is stored whole, byte for byte.
        ASSERT_EQ(r.message, expected[i]) << path << ":" << i + 1;
      }
      EXPECT_FALSE(r.message.empty()) << path << ":" << i + 1;
      EXPECT_EQ(r.service.empty(), false);
    }
    // Every JSON line of the datasets is valid JSON.
    EXPECT_EQ(parse_failed, 0u) << path;
    std::printf("%-90s %7zu lines %7zu json %7zu with ts\n", fs::relative(path, RealDir()).c_str(),
                records.size(), json, with_ts);
    total += records.size();
  }
  EXPECT_GT(total, 400000u);
}

struct LoghubCase {
  const char* system;
  int level_column;  // -1: no level in the format
  bool every_line_has_ts;
  int64_t first_ts_seconds;  // hand-derived from the first line, date -u -d ... +%s
};

// One CSV row (RFC 4180 quoting; no field of these files spans lines).
std::vector<std::string> SplitCsv(const std::string& row) {
  std::vector<std::string> cols(1);
  bool quoted = false;
  for (size_t i = 0; i < row.size(); ++i) {
    char ch = row[i];
    if (quoted) {
      if (ch == '"' && i + 1 < row.size() && row[i + 1] == '"') {
        cols.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        cols.back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      cols.emplace_back();
    } else if (ch != '\r') {
      cols.back() += ch;
    }
  }
  return cols;
}

Level ExpectedLevel(const std::string& text) {
  // Loghub's ground-truth spellings, mapped by hand.
  static const std::map<std::string, Level> kMap = {
      {"INFO", Level::kInfo}, {"Info", Level::kInfo},    {"notice", Level::kInfo},
      {"I", Level::kInfo},    {"WARN", Level::kWarn},    {"WARNING", Level::kWarn},
      {"W", Level::kWarn},    {"ERROR", Level::kError},  {"error", Level::kError},
      {"E", Level::kError},   {"SEVERE", Level::kError}, {"FATAL", Level::kFatal},
      {"D", Level::kDebug},   {"V", Level::kTrace},
  };
  auto it = kMap.find(text);
  return it == kMap.end() ? Level::kUnknown : it->second;
}

TEST(RealData, LoghubTimestampsAndLevelsMatchTheGroundTruth) {
  const fs::path dir = RealDir() / "loghub_2k";
  ASSERT_TRUE(fs::exists(dir)) << "no loghub_2k at " << dir << " (set SAWMILL_SHARED_DIR)";
  const LoghubCase cases[] = {
      {"HDFS", 4, true, 1226262975},       // 081109 203615
      {"Hadoop", 3, true, 1445191307},     // 2015-10-18 18:01:47,978
      {"Spark", 3, true, 1497039040},      // 17/06/09 20:10:40
      {"Zookeeper", 3, true, 1438191704},  // 2015-07-29 17:41:44,747
      {"OpenStack", 5, true, 1494892800},  // 2017-05-16 00:00:00.008
      {"Android", 5, true, 1773764018},    // 03-17 16:13:38.811 (year from "now": 2026)
      {"Apache", 2, true, 1133671664},     // Sun Dec 04 04:47:44 2005
      {"Windows", 3, true, 1475037030},    // 2016-09-28 04:30:30
      {"BGL", 9, true, 1117838570},        // epoch 1117838570
      {"Thunderbird", -1, true, 1131566461},
      {"Linux", -1, true, 1781450161},      // Jun 14 15:16:01 (2026)
      {"OpenSSH", -1, true, 1765349746},    // Dec 10 06:55:46 (2025: December is ahead of now)
      {"HealthApp", -1, true, 1514067329},  // 20171223-22:15:29:606
      {"Proxifier", -1, true, 1793378946},  // [10.30 16:49:06] (2026)
      {"Mac", -1, true, 1782896455},        // Jul  1 09:00:55 (2026)
      {"HPC", -1, true, 1077804742},        // epoch in the fifth column
  };
  for (const LoghubCase& c : cases) {
    SCOPED_TRACE(c.system);
    std::string raw = ReadFile(dir / c.system / (std::string(c.system) + "_2k.log"));
    std::vector<Record> records;
    IngestCounts counts;
    NormalizeBody(raw, {}, {}, kNow, &records, &counts);
    ASSERT_EQ(records.size(), 2000u);
    EXPECT_EQ(records[0].ts / 1'000'000'000, c.first_ts_seconds);
    size_t with_ts = 0;
    for (const Record& r : records) with_ts += r.ts != 0;
    if (c.every_line_has_ts) {
      EXPECT_EQ(with_ts, records.size());
    }
    if (c.level_column < 0) continue;

    std::string csv = ReadFile(dir / c.system / (std::string(c.system) + "_2k.log_structured.csv"));
    std::istringstream in(csv);
    std::string row;
    std::getline(in, row);  // header
    size_t index = 0, mismatches = 0;
    while (std::getline(in, row) && index < records.size()) {
      std::vector<std::string> cols = SplitCsv(row);
      ASSERT_GT(static_cast<int>(cols.size()), c.level_column) << row;
      Level want = ExpectedLevel(cols[c.level_column]);
      if (records[index].level != want) {
        if (++mismatches <= 3) {
          ADD_FAILURE() << "line " << index + 1 << ": want " << LevelName(want) << " got "
                        << LevelName(records[index].level) << ": " << records[index].message;
        }
      }
      ++index;
    }
    EXPECT_EQ(index, records.size());
    EXPECT_EQ(mismatches, 0u);
  }
}

// Numbers inside text are not times: PostgreSQL's VACUUM VERBOSE detail lines carry transaction
// ids ("removable cutoff: 3949960346") that look like epoch seconds of 2095. Only the lines that
// start with the log_line_prefix date get a timestamp, and "I/O timings:" is not an INFO level.
TEST(RealData, TransactionIdsAreNotTimestampsAndIoIsNotALevel) {
  const fs::path path = RealDir() / "pgbadger_postgres" / "pg_vacuums.log";
  ASSERT_TRUE(fs::exists(path)) << path << " missing (set SAWMILL_SHARED_DIR)";
  std::string data = ReadFile(path);
  std::vector<std::string> lines = NonBlankLines(data);
  std::vector<Record> records;
  IngestCounts counts;
  NormalizeBody(data, {}, {}, kNow, &records, &counts);
  ASSERT_EQ(records.size(), lines.size());
  size_t dated = 0, xid_lines = 0, io_lines = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const bool starts_with_date = line.size() > 10 && line[4] == '-' && line[7] == '-' &&
                                  std::isdigit(static_cast<unsigned char>(line[0]));
    dated += starts_with_date;
    EXPECT_EQ(records[i].ts != 0, starts_with_date) << path << ":" << i + 1 << ": " << line;
    if (line.find("removable cutoff: ") != std::string::npos) ++xid_lines;
    if (line.find("\tI/O timings:") == 0) {
      ++io_lines;
      EXPECT_EQ(records[i].level, Level::kUnknown) << path << ":" << i + 1;
    }
  }
  // The file is what the test is about: thousands of each kind of line.
  EXPECT_GT(dated, 3000u);
  EXPECT_GT(xid_lines, 2000u);
  EXPECT_GT(io_lines, 3000u);
}

// A lone upper-case letter is a level only where a format puts one: Loghub's Android sample
// (logcat threadtime) keeps its D/I/W/E/V levels (LoghubTimestampsAndLevelsMatchTheGroundTruth),
// and the Linux syslog sample, which has no level column, gets no level from "L1 I cache" or
// "L1 D cache": its only levels are the spelled-out "ALERT" and "warning:".
TEST(RealData, LoneLettersInTextAreNotLevels) {
  const fs::path path = RealDir() / "loghub_2k" / "Linux" / "Linux_2k.log";
  ASSERT_TRUE(fs::exists(path)) << path << " missing (set SAWMILL_SHARED_DIR)";
  std::string data = ReadFile(path);
  std::vector<std::string> lines = NonBlankLines(data);
  std::vector<Record> records;
  IngestCounts counts;
  NormalizeBody(data, {}, {}, kNow, &records, &counts);
  ASSERT_EQ(records.size(), lines.size());
  size_t cache_lines = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.find(" I cache:") != std::string::npos) {
      ++cache_lines;
      EXPECT_EQ(records[i].level, Level::kUnknown) << line;
    }
    if (records[i].level != Level::kUnknown) {
      EXPECT_TRUE(line.find(" ALERT ") != std::string::npos ||
                  line.find(" warning: ") != std::string::npos)
          << LevelName(records[i].level) << ": " << line;
    }
  }
  EXPECT_GE(cache_lines, 1u);
}

// The normaliser fills the columns of most JSON lines directly and redoes a line the general way
// (every key a field, then the field-mapping table) when it could get it wrong. A nested object as
// the first key always takes the general way: on every JSON line of the datasets both ways store
// the same record (normalize_test.cc has the tricky cases).
TEST(RealData, DirectColumnFillingStoresWhatTheFieldMappingTableWouldOnEveryJsonLine) {
  std::vector<fs::path> files = DataFiles();
  ASSERT_FALSE(files.empty()) << "no datasets at " << RealDir() << " (set SAWMILL_SHARED_DIR)";
  size_t compared = 0;
  for (const fs::path& path : files) {
    for (const std::string& line : NonBlankLines(ReadFile(path))) {
      if (line[0] != '{') continue;
      std::string forced = "{\"~forced\":{\"x\":1}," + line.substr(1);
      Record direct, general;
      IngestCounts counts;
      ASSERT_TRUE(NormalizeLine(line, Defaults{}, NormalizeOptions{}, kNow, &direct, &counts));
      ASSERT_TRUE(NormalizeLine(forced, Defaults{}, NormalizeOptions{}, kNow, &general, &counts));
      ASSERT_FALSE(general.fields.empty());
      ASSERT_EQ(general.fields.front().first, "~forced.x") << path;
      general.fields.erase(general.fields.begin());
      if (general.message == forced) general.message = line;
      ASSERT_EQ(direct, general) << path << ": " << line.substr(0, 300);
      ++compared;
    }
  }
  EXPECT_GT(compared, 10000u);
}

}  // namespace
}  // namespace sawmill::ingest
