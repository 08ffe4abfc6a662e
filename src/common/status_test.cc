#include "sawmill/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace sawmill {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::InvalidArgument("expected a value after '=' at 1:9");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "InvalidArgument: expected a value after '=' at 1:9");
  EXPECT_EQ(s.WithContext("query").message(), "query: expected a value after '=' at 1:9");
  EXPECT_TRUE(Status::OK().WithContext("x").ok());
}

// (Session 24) The subject names what an error is about for a caller that keys on it (the
// index kind whose data failed): it passes through WithContext and ASSIGN_OR_RETURN unchanged,
// and == compares code and message only. Fails with WithContext dropping it.
TEST(Status, TheSubjectSurvivesContextAndReturns) {
  const Status s = Status::IOError("read timed out").WithSubject("word_postings");
  EXPECT_EQ(s.subject(), "word_postings");
  EXPECT_EQ(s.message(), "read timed out");
  const Status wrapped = s.WithContext("segment 1.seg: index kind 'word_postings'");
  EXPECT_EQ(wrapped.subject(), "word_postings");
  EXPECT_EQ(wrapped.code(), StatusCode::kIOError);
  auto fail = [&]() -> Result<int> { return wrapped; };
  auto pass_on = [&]() -> Result<int> {
    ASSIGN_OR_RETURN(int v, fail());
    return v;
  };
  EXPECT_EQ(pass_on().status().subject(), "word_postings");
  EXPECT_EQ(s, Status::IOError("read timed out"));
  EXPECT_TRUE(Status::IOError("x").subject().empty());
}

TEST(Status, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kPermissionDenied); ++c) {
    EXPECT_NE(StatusCodeName(static_cast<StatusCode>(c)), "Unknown") << c;
  }
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckQuarter(int x) {
  RETURN_IF_ERROR(Quarter(x).status());
  return Status::OK();
}

TEST(Result, ValueAndErrorPropagate) {
  Result<int> r = Quarter(8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
  Result<int> bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "odd");
  EXPECT_EQ(bad.value_or(-1), -1);
  EXPECT_TRUE(CheckQuarter(4).ok());
  EXPECT_TRUE(CheckQuarter(2).IsInvalidArgument());
}

TEST(Result, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace sawmill
