#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "index/index_kind.h"
#include "index/numeric_value.h"

namespace sawmill::index {
namespace {

using Op = FieldPredicate::Op;

Record Row(std::vector<std::pair<std::string, std::string>> fields) {
  Record r;
  r.fields = std::move(fields);
  return r;
}

FieldPredicate Compare(std::string_view field, Op op, double bound) {
  FieldPredicate p;
  p.field = field;
  p.op = op;
  p.number = bound;
  return p;
}

class NumericRange : public ::testing::Test {
 protected:
  // Three blocks: status 200..204 / status 500 and 503 with a text value / no status at all.
  void SetUp() override {
    kind_ = FindIndexKind("numeric_range");
    ASSERT_NE(kind_, nullptr);
    auto builder = kind_->new_builder(BuildOptions{});
    std::vector<Record> b0 = {Row({{"status", "200"}, {"duration_ms", "12.5"}}),
                              Row({{"status", "204"}, {"duration_ms", "-3"}})};
    std::vector<Record> b1 = {Row({{"status", "503"}}), Row({{"status", "n/a"}}),
                              Row({{"status", "500"}, {"duration_ms", "2e3"}})};
    std::vector<Record> b2 = {Row({{"path", "/x"}})};
    builder->AddBlock(b0.data(), 2);
    builder->AddBlock(b1.data(), 3);
    builder->AddBlock(b2.data(), 1);
    std::vector<IndexPart> parts;
    builder->Finish(&parts);
    ASSERT_EQ(parts.size(), 1u);
    ASSERT_EQ(parts[0].blobs.size(), 1u);
    serialized_ = parts[0].blobs[0];
    ASSERT_FALSE(serialized_.empty());
    auto view = OpenKindBlock(*kind_, kind_->version, serialized_, 3);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    view_ = std::move(view).value();
  }

  const IndexKind* kind_ = nullptr;
  std::string serialized_;
  std::unique_ptr<IndexView> view_;
};

TEST_F(NumericRange, SkipsBlocksWhoseRangeCannotMatch) {
  auto may = [&](uint32_t block, FieldPredicate p) {
    Result<bool> r = view_->BlockMayMatch(block, p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && *r;
  };
  EXPECT_FALSE(may(0, Compare("status", Op::kGreaterEqual, 500)));
  EXPECT_TRUE(may(1, Compare("status", Op::kGreaterEqual, 500)));
  EXPECT_TRUE(may(1, Compare("status", Op::kGreaterEqual, 503)));
  EXPECT_FALSE(may(1, Compare("status", Op::kGreater, 503)));
  EXPECT_TRUE(may(0, Compare("status", Op::kLess, 201)));
  EXPECT_FALSE(may(0, Compare("status", Op::kLess, 200)));
  EXPECT_TRUE(may(0, Compare("status", Op::kLessEqual, 200)));
  EXPECT_FALSE(may(1, Compare("status", Op::kLessEqual, 499)));
  // A block with no numeric value of the field cannot satisfy a numeric comparison.
  EXPECT_FALSE(may(2, Compare("status", Op::kGreaterEqual, 0)));
  // Decimals, negatives and exponents are numbers too.
  EXPECT_TRUE(may(0, Compare("duration_ms", Op::kLess, -2)));
  EXPECT_FALSE(may(0, Compare("duration_ms", Op::kGreater, 12.5)));
  EXPECT_TRUE(may(1, Compare("duration_ms", Op::kGreater, 1000)));
}

TEST_F(NumericRange, EqualityOnANumberUsesTheRange) {
  FieldPredicate eq;
  eq.field = "status";
  eq.value = "503";
  EXPECT_FALSE(view_->BlockMayMatch(0, eq).value_or(true));
  EXPECT_TRUE(view_->BlockMayMatch(1, eq).value_or(false));
  eq.value = "n/a";  // not a number: this index cannot tell
  EXPECT_TRUE(view_->BlockMayMatch(0, eq).value_or(false));
}

TEST_F(NumericRange, WhatItCannotDecideIsAMaybe) {
  // A field it does not hold, a text comparison, a block beyond the segment's end.
  EXPECT_TRUE(view_->BlockMayMatch(0, Compare("latency", Op::kGreater, 1e9)).value_or(false));
  FieldPredicate text;
  text.field = "status";
  text.op = Op::kGreater;  // `status>abc`: compared as text
  EXPECT_TRUE(view_->BlockMayMatch(0, text).value_or(false));
  EXPECT_TRUE(
      view_->BlockMayMatch(0, FieldPredicate{"path", Op::kEquals, "/x", {}}).value_or(false));
}

TEST_F(NumericRange, NothingNumericStoresNothing) {
  auto builder = kind_->new_builder(BuildOptions{});
  std::vector<Record> rows = {Row({{"path", "/a"}, {"code", "5xx"}})};
  builder->AddBlock(rows.data(), 1);
  std::vector<IndexPart> out;
  builder->Finish(&out);
  EXPECT_TRUE(out.empty());
}

TEST_F(NumericRange, DamagedBlocksAreDataLoss) {
  EXPECT_TRUE(OpenKindBlock(*kind_, kind_->version + 1, serialized_, 3).status().IsDataLoss());
  // Fewer blocks than the entries name.
  EXPECT_TRUE(OpenKindBlock(*kind_, kind_->version, serialized_, 1).status().IsDataLoss());
  for (size_t cut = 0; cut < serialized_.size(); ++cut) {
    auto opened = OpenKindBlock(*kind_, kind_->version, serialized_.substr(0, cut), 3);
    EXPECT_TRUE(opened.status().IsDataLoss()) << cut;
  }
  EXPECT_TRUE(OpenKindBlock(*kind_, kind_->version, serialized_ + "x", 3).status().IsDataLoss());
}

TEST(NumericValue, FollowsTheQueryComparisonRule) {
  EXPECT_EQ(ParseNumber("500"), 500.0);
  EXPECT_EQ(ParseNumber("-1.5"), -1.5);
  EXPECT_EQ(ParseNumber("+7"), 7.0);
  EXPECT_EQ(ParseNumber("2e3"), 2000.0);
  EXPECT_EQ(ParseNumber(".5"), 0.5);
  for (const char* text : {"", "5xx", "0x1f", "nan", "inf", "1,000", " 5", "5 ", "-", "e5"}) {
    EXPECT_FALSE(ParseNumber(text).has_value()) << text;
  }
  EXPECT_FALSE(ParseNumber(std::string(65, '1')).has_value());
}

TEST(IndexKinds, EveryRegisteredKindHasAUniqueNameAndBothHalves) {
  std::vector<std::string_view> names;
  for (const IndexKind* kind : RegisteredIndexKinds()) {
    // Only a kind whose data is the footer's block list has nothing to build.
    EXPECT_EQ(kind->new_builder == nullptr, kind->layout == IndexLayout::kBlockList) << kind->name;
    EXPECT_NE(kind->open, nullptr) << kind->name;
    EXPECT_NE(kind->answers, nullptr) << kind->name;
    EXPECT_EQ(FindIndexKind(kind->name), kind);
    for (std::string_view seen : names) EXPECT_NE(seen, kind->name);
    names.push_back(kind->name);
  }
  EXPECT_EQ(FindIndexKind("no_such_kind"), nullptr);
  // The kinds that were there before the registry, on it (their sections read as before).
  for (const char* name : {"inverted", "bloom", "time_range", "numeric_range"}) {
    EXPECT_NE(FindIndexKind(name), nullptr) << name;
  }
}

}  // namespace
}  // namespace sawmill::index
