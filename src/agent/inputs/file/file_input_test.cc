#include "agent/inputs/file/file_input.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sawmill::agent {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kSecond = 1'000'000'000;

class FileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sawmill_file_input_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Input> Make(const std::vector<FileCursor>& known = {}, bool start_at_end = false,
                              uint64_t max_line = 1024) {
    FileInputOptions options;
    options.paths = {(dir_ / "*.log").string()};
    options.start_at_end = start_at_end;
    options.max_line_bytes = max_line;
    auto ctx = std::make_unique<InputContext>();
    ctx->name = "inputs[0]";
    ctx->parser = std::move(Parser::Create({})).value();
    return NewFileInput(options, std::move(ctx), known, /*first_start=*/true);
  }

  void Append(const std::string& name, const std::string& text) {
    std::ofstream out(dir_ / name, std::ios::app | std::ios::binary);
    out << text;
  }

  // Polls at increasing fake times until nothing new arrives for a few rounds.
  std::vector<std::string> Drain(Input* input) {
    std::vector<std::string> lines;
    for (int round = 0; round < 8; ++round) {
      now_ += kSecond;
      std::vector<SourceRecord> out;
      input->Poll(now_, 1 << 20, 1 << 30, &out);
      for (auto& r : out) lines.push_back(r.text);
    }
    return lines;
  }

  fs::path dir_;
  int64_t now_ = 0;
};

TEST_F(FileInputTest, CrlfAndMissingTrailingNewline) {
  Append("a.log", "one\r\ntwo\r\nthree");
  auto input = Make();
  EXPECT_EQ(Drain(input.get()), (std::vector<std::string>{"one", "two", "three"}));
  std::vector<FileCursor> cursors;
  input->Cursors(&cursors);
  ASSERT_EQ(cursors.size(), 1u);
  EXPECT_EQ(cursors[0].offset, 15u);
}

TEST_F(FileInputTest, RotationByRenameFinishesTheOldFileFirst) {
  Append("app.log", "a1\na2\n");
  auto input = Make();
  EXPECT_EQ(Drain(input.get()).size(), 2u);
  Append("app.log", "a3\n");  // written just before the rename, not yet read
  fs::rename(dir_ / "app.log", dir_ / "app.log.1");
  Append("app.log", "b1\n");
  EXPECT_EQ(Drain(input.get()), (std::vector<std::string>{"a3", "b1"}));
}

TEST_F(FileInputTest, CopyTruncateFinishesTheTailFromTheCopy) {
  Append("app.log", "line-1 of the first generation\nline-2\n");
  auto input = Make();
  EXPECT_EQ(Drain(input.get()).size(), 2u);
  Append("app.log", "line-3 unread at rotation\n");
  fs::copy_file(dir_ / "app.log", dir_ / "app.log.1");
  fs::resize_file(dir_ / "app.log", 0);
  Append("app.log", "new-1\n");
  EXPECT_EQ(Drain(input.get()), (std::vector<std::string>{"line-3 unread at rotation", "new-1"}));
}

TEST_F(FileInputTest, DeletedFileIsReadToItsEnd) {
  Append("gone.log", "x1\n");
  auto input = Make();
  std::vector<SourceRecord> out;
  input->Poll(now_, 1, 1 << 20, &out);  // reads one record only
  ASSERT_EQ(out.size(), 1u);
  Append("gone.log", "x2\nx3\n");
  fs::remove(dir_ / "gone.log");
  EXPECT_EQ(Drain(input.get()), (std::vector<std::string>{"x2", "x3"}));
  std::vector<FileCursor> cursors;
  input->Cursors(&cursors);
  EXPECT_EQ(cursors.size(), 1u);  // remembered as closed
}

TEST_F(FileInputTest, OverlongLineIsCutAndTheRestSkipped) {
  Append("big.log", std::string(5000, 'x') + "\nafter\n");
  auto input = Make({}, false, 100);
  std::vector<SourceRecord> out;
  for (int i = 0; i < 3; ++i) input->Poll(now_ += kSecond, 100, 1 << 20, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, std::string(100, 'x'));
  EXPECT_TRUE(out[0].truncated);
  EXPECT_EQ(out[1].text, "after");
}

TEST_F(FileInputTest, ResumesFromAKnownPositionOfTheSameFile) {
  Append("a.log", "first\nsecond\n");
  std::vector<FileCursor> known;
  {
    auto input = Make();
    std::vector<SourceRecord> out;
    input->Poll(now_, 1, 1 << 20, &out);
    input->Cursors(&known);
  }
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known[0].offset, 6u);
  auto input = Make(known);
  EXPECT_EQ(Drain(input.get()), (std::vector<std::string>{"second"}));
}

TEST_F(FileInputTest, StartAtEndSkipsWhatIsThereAtFirstStart) {
  Append("a.log", "old\n");
  auto input = Make({}, /*start_at_end=*/true);
  EXPECT_TRUE(Drain(input.get()).empty());
  Append("a.log", "new\n");
  Append("b.log", "created later\n");
  auto lines = Drain(input.get());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"created later", "new"}));
}

}  // namespace
}  // namespace sawmill::agent
