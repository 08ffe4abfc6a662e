#include "agent/inputs/file/container_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/inputs/file/file_input.h"
#include "common/time_format.h"

namespace sawmill::agent {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kSecond = 1'000'000'000;
const std::string kId(64, 'a');

ContainerLine Parse(std::string_view line, LineFormat format) {
  ContainerLine out;
  std::string error;
  EXPECT_TRUE(ParseContainerLine(line, format, &out, &error)) << line << ": " << error;
  return out;
}

std::string Refused(std::string_view line, LineFormat format) {
  ContainerLine out;
  std::string error;
  EXPECT_FALSE(ParseContainerLine(line, format, &out, &error)) << line;
  return error;
}

TEST(ContainerLog, CriLinesFullAndPartial) {
  ContainerLine full =
      Parse("2026-12-04T10:00:00.123456789Z stdout F GET /cart 200", LineFormat::kCri);
  EXPECT_EQ(full.ts, *ParseRfc3339("2026-12-04T10:00:00.123456789Z"));
  EXPECT_EQ(full.stream, "stdout");
  EXPECT_FALSE(full.partial);
  EXPECT_EQ(full.text, "GET /cart 200");
  ContainerLine partial = Parse("2026-12-04T10:00:00+01:00 stderr P first half ", LineFormat::kCri);
  EXPECT_TRUE(partial.partial);
  EXPECT_EQ(partial.stream, "stderr");
  EXPECT_EQ(partial.text, "first half ");  // spaces are the application's
  EXPECT_EQ(Parse("2026-12-04T10:00:00Z stdout F", LineFormat::kCri).text, "");
  EXPECT_EQ(Parse("2026-12-04T10:00:00Z stdout F ", LineFormat::kCri).text, "");
}

TEST(ContainerLog, BadCriLinesSayWhatIsWrong) {
  EXPECT_EQ(Refused("plain text line", LineFormat::kCri),
            "CRI line does not start with an RFC 3339 time");
  EXPECT_EQ(Refused("2026-12-04T10:00:00Z stdin F x", LineFormat::kCri),
            "CRI line with stream 'stdin' (stdout or stderr)");
  EXPECT_EQ(Refused("2026-12-04T10:00:00Z stdout X x", LineFormat::kCri),
            "CRI line with tag 'X' (P or F)");
  EXPECT_EQ(Refused("2026-12-04T10:00:00Z", LineFormat::kCri),
            "CRI line without a stream after its time");
}

TEST(ContainerLog, DockerJsonFileLines) {
  ContainerLine line = Parse(
      R"({"log":"level=info msg=\"started\"\n","stream":"stdout","time":"2026-12-04T10:00:01.5Z"})",
      LineFormat::kDocker);
  EXPECT_EQ(line.text, "level=info msg=\"started\"");
  EXPECT_FALSE(line.partial);
  EXPECT_EQ(line.stream, "stdout");
  EXPECT_EQ(line.ts, *ParseRfc3339("2026-12-04T10:00:01.5Z"));
  EXPECT_TRUE(Parse(R"({"log":"no newline: more follows","stream":"stderr"})", LineFormat::kDocker)
                  .partial);
  EXPECT_EQ(Refused(R"({"msg":"x"})", LineFormat::kDocker), "Docker line without a \"log\" string");
  EXPECT_EQ(Refused("{not json", LineFormat::kDocker),
            "Docker json-file line is not a JSON object");
  // "container" tells them apart line by line.
  EXPECT_EQ(Parse(R"({"log":"d\n"})", LineFormat::kContainer).text, "d");
  EXPECT_EQ(Parse("2026-12-04T10:00:00Z stdout F c", LineFormat::kContainer).text, "c");
}

TEST(ContainerLog, KubernetesNamesFromTheFileName) {
  auto pod = ParsePodFileName("/var/log/containers/checkout-7d9f8-x2x_shop_app-" + kId + ".log");
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->pod, "checkout-7d9f8-x2x");
  EXPECT_EQ(pod->namespace_name, "shop");
  EXPECT_EQ(pod->container, "app");
  EXPECT_EQ(pod->container_id, kId);
  auto dashed = ParsePodFileName("p_kube-system_istio-proxy-" + kId + ".log");
  ASSERT_TRUE(dashed);
  EXPECT_EQ(dashed->container, "istio-proxy");
  EXPECT_FALSE(ParsePodFileName("/var/log/syslog"));
  EXPECT_FALSE(ParsePodFileName("p_ns_app-1234.log"));  // not a container id
  EXPECT_FALSE(ParsePodFileName("p_ns_x_app-" + kId + ".log"));
  EXPECT_FALSE(ParsePodFileName("p_ns_app-" + kId + ".txt"));
}

class ContainerFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sawmill_container_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Input> Make(LineFormat format, const std::vector<FileCursor>& known = {},
                              uint64_t max_line = 1024, MultilineOptions multiline = {}) {
    FileInputOptions options;
    options.paths = {(dir_ / "*.log").string()};
    options.max_line_bytes = max_line;
    options.format = format;
    options.service_from_pod = true;
    auto ctx = std::make_unique<InputContext>();
    ctx->name = "inputs[0]";
    ctx->parser = std::move(Parser::Create({})).value();
    ctx->multiline = multiline;
    return NewFileInput(options, std::move(ctx), known, /*first_start=*/true);
  }

  void Append(const std::string& name, const std::string& text) {
    std::ofstream out(dir_ / name, std::ios::app | std::ios::binary);
    out << text;
  }

  std::vector<SourceRecord> Drain(Input* input) {
    std::vector<SourceRecord> records;
    for (int round = 0; round < 8; ++round) {
      now_ += kSecond;
      input->Poll(now_, 1 << 20, 1 << 30, &records);
    }
    return records;
  }

  static std::string Field(const SourceRecord& r, const std::string& key) {
    for (const auto& [k, v] : r.fields) {
      if (k == key) return v;
    }
    return "<none>";
  }

  fs::path dir_;
  int64_t now_ = 0;
};

TEST_F(ContainerFileTest, CriPartialLinesAreJoinedWithTheFirstPartsTimeAndTheKubernetesNames) {
  const std::string name = "checkout-1_shop_app-" + kId + ".log";
  Append(name,
         "2026-12-04T10:00:00Z stdout F one\n"
         "2026-12-04T10:00:01Z stderr P two-a \n"
         "2026-12-04T10:00:02Z stderr P two-b \n"
         "2026-12-04T10:00:03Z stderr F two-c\n"
         "2026-12-04T10:00:04Z stdout F {\"msg\":\"three\",\"level\":\"warn\"}\n");
  auto input = Make(LineFormat::kCri);
  std::vector<SourceRecord> records = Drain(input.get());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].text, "one");
  EXPECT_EQ(records[1].text, "two-a two-b two-c");
  EXPECT_EQ(records[1].ts, *ParseRfc3339("2026-12-04T10:00:01Z"));
  EXPECT_EQ(Field(records[1], "stream"), "stderr");
  EXPECT_EQ(records[2].text, "{\"msg\":\"three\",\"level\":\"warn\"}");
  for (const SourceRecord& r : records) {
    EXPECT_EQ(Field(r, "k8s.namespace.name"), "shop");
    EXPECT_EQ(Field(r, "k8s.pod.name"), "checkout-1");
    EXPECT_EQ(Field(r, "k8s.container.name"), "app");
    EXPECT_EQ(r.service, "app");
  }
}

TEST_F(ContainerFileTest, APartialLineIsNotCommittedUntilItsLastPart) {
  Append("a.log", "2026-12-04T10:00:00Z stdout F one\n2026-12-04T10:00:01Z stdout P half \n");
  auto input = Make(LineFormat::kCri);
  std::vector<SourceRecord> records;
  for (int i = 0; i < 3; ++i) {  // less than partial_line_timeout: the last part may still come
    now_ += kSecond / 10;
    input->Poll(now_, 1 << 20, 1 << 30, &records);
  }
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].text, "one");
  std::vector<FileCursor> cursors;
  input->Cursors(&cursors);
  ASSERT_EQ(cursors.size(), 1u);
  const uint64_t after_one = std::string("2026-12-04T10:00:00Z stdout F one\n").size();
  EXPECT_EQ(cursors[0].offset, after_one);
  // The agent restarts from that position: the partial line is read again, now with its end.
  Append("a.log", "2026-12-04T10:00:02Z stdout F and the rest\n");
  auto again = Make(LineFormat::kCri, cursors);
  records = Drain(again.get());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].text, "half and the rest");
}

TEST_F(ContainerFileTest, APartialLineWhoseEndNeverComesIsShippedAfterTheTimeout) {
  Append("a.log", "2026-12-04T10:00:01Z stdout P the runtime died here\n");
  auto input = Make(LineFormat::kCri);
  std::vector<SourceRecord> records = Drain(input.get());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].text, "the runtime died here");
}

TEST_F(ContainerFileTest, AJoinedLineIsCutAtMaxLineAndFlagged) {
  std::string parts;
  for (int i = 0; i < 10; ++i)
    parts += "2026-12-04T10:00:00Z stdout P " + std::string(30, 'x') + "\n";
  Append("a.log", parts + "2026-12-04T10:00:00Z stdout F end\n");
  auto input = Make(LineFormat::kCri, {}, /*max_line=*/100);
  std::vector<SourceRecord> records = Drain(input.get());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].text, std::string(100, 'x'));
  EXPECT_TRUE(records[0].truncated);
}

TEST_F(ContainerFileTest, DockerJsonFileWithASplitLineAndRotation) {
  Append("web-1_default_nginx-" + kId + ".log",
         R"({"log":"GET / 200\n","stream":"stdout","time":"2026-12-04T10:00:00.1Z"})"
         "\n"
         R"({"log":"a long ","stream":"stdout","time":"2026-12-04T10:00:01Z"})"
         "\n"
         R"({"log":"line\n","stream":"stdout","time":"2026-12-04T10:00:02Z"})"
         "\n");
  auto input = Make(LineFormat::kDocker);
  std::vector<SourceRecord> records = Drain(input.get());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "GET / 200");
  EXPECT_EQ(records[1].text, "a long line");
  EXPECT_EQ(records[1].ts, *ParseRfc3339("2026-12-04T10:00:01Z"));
  EXPECT_EQ(records[1].service, "nginx");
  // Docker rotates json-file logs by rename (-json.log.1); the next file is read after it.
  const fs::path current = dir_ / ("web-1_default_nginx-" + kId + ".log");
  Append(current.filename().string(), R"({"log":"before rotation\n","stream":"stdout"})"
                                      "\n");
  fs::rename(current, dir_ / "rotated.log.1");
  Append(current.filename().string(), R"({"log":"after rotation\n","stream":"stderr"})"
                                      "\n");
  records = Drain(input.get());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "before rotation");
  EXPECT_EQ(records[1].text, "after rotation");
  EXPECT_EQ(Field(records[1], "stream"), "stderr");
}

TEST_F(ContainerFileTest, ALineNotInTheFormatIsKeptAsItIs) {
  Append("a.log", "2026-12-04T10:00:00Z stdout P half\nnot a cri line\n");
  auto input = Make(LineFormat::kCri);
  std::vector<SourceRecord> records = Drain(input.get());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "half");
  EXPECT_EQ(records[1].text, "not a cri line");
  EXPECT_FALSE(records[1].ts);
}

TEST_F(ContainerFileTest, MultilineJoinsStackTracesAfterThePartialsAreJoined) {
  Append("a.log",
         "2026-12-04T10:00:00Z stderr F Exception in thread main\n"
         "2026-12-04T10:00:00Z stderr P \tat com.shop.Cart.add(Cart.java:4\n"
         "2026-12-04T10:00:00Z stderr F 2)\n"
         "2026-12-04T10:00:01Z stdout F next\n");
  MultilineOptions multiline;
  multiline.enabled = true;  // the built-in rule: indented and "at ..." lines continue
  auto input = Make(LineFormat::kCri, {}, 1024, multiline);
  std::vector<SourceRecord> records = Drain(input.get());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "Exception in thread main\n\tat com.shop.Cart.add(Cart.java:42)");
  EXPECT_EQ(records[0].ts, *ParseRfc3339("2026-12-04T10:00:00Z"));
  EXPECT_EQ(records[1].text, "next");
}

}  // namespace
}  // namespace sawmill::agent
