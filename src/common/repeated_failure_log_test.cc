#include "common/repeated_failure_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

namespace sawmill {
namespace {

class RepeatedFailureLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
    spdlog::default_logger()->sinks().push_back(log_);
  }
  void TearDown() override {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), log_), sinks.end());
  }
  std::vector<std::string> Lines() { return log_->last_formatted(); }

  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_;
  ManualClock clock_{1000 * kNanosPerSecond};
};

TEST_F(RepeatedFailureLogTest, LogsTheFirstFailureThenOnceAMinuteWithTheCountThenTheRecovery) {
  RepeatedFailureLog failures("moving segments to cold", &clock_);
  const Status down = Status::IOError("s3://b/p/acme/1.seg: connection refused");
  EXPECT_TRUE(failures.Failure(down));
  for (int i = 0; i < 11; ++i) {
    clock_.Advance(5 * kNanosPerSecond);  // a check every 5 s
    EXPECT_FALSE(failures.Failure(down)) << i;
  }
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_NE(Lines()[0].find("moving segments to cold failed: IOError: s3://b/p/acme/1.seg: "
                            "connection refused"),
            std::string::npos)
      << Lines()[0];
  clock_.Advance(5 * kNanosPerSecond);  // 60 s after the first line
  EXPECT_TRUE(failures.Failure(down));
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_NE(Lines()[1].find("moving segments to cold still fails: 12 failures in the last 60 s, "
                            "13 since it last worked"),
            std::string::npos)
      << Lines()[1];
  EXPECT_EQ(failures.failures(), 13u);
  failures.Success();
  failures.Success();  // once only
  ASSERT_EQ(Lines().size(), 3u);
  EXPECT_NE(Lines()[2].find("moving segments to cold works again after 13 failures"),
            std::string::npos)
      << Lines()[2];
  // Failing again is a new episode: said at once.
  clock_.Advance(kNanosPerSecond);
  EXPECT_TRUE(failures.Failure(down));
  EXPECT_EQ(Lines().size(), 4u);
}

}  // namespace
}  // namespace sawmill
