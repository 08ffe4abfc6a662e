#include "common/coding.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace sawmill {
namespace {

TEST(Coding, FixedRoundTrip) {
  std::string buf;
  const std::vector<uint64_t> values = {
      0, 1, 255, 256, 0xffffffffull, 0x123456789abcdefull, std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : values) {
    PutFixed32(&buf, static_cast<uint32_t>(v));
    PutFixed64(&buf, v);
  }
  std::string_view in(buf);
  for (uint64_t v : values) {
    uint32_t a;
    uint64_t b;
    ASSERT_TRUE(GetFixed32(&in, &a));
    ASSERT_TRUE(GetFixed64(&in, &b));
    EXPECT_EQ(a, static_cast<uint32_t>(v));
    EXPECT_EQ(b, v);
  }
  EXPECT_TRUE(in.empty());
  uint32_t x;
  EXPECT_FALSE(GetFixed32(&in, &x));
}

TEST(Coding, FixedIsLittleEndian) {
  std::string buf;
  PutFixed32(&buf, 0x04030201);
  EXPECT_EQ(buf, std::string("\x01\x02\x03\x04", 4));
}

TEST(Coding, VarintRoundTripAtEveryPowerOfTwo) {
  std::string buf;
  std::vector<uint64_t> values;
  for (int shift = 0; shift < 64; ++shift) {
    uint64_t p = 1ull << shift;
    values.push_back(p - 1);
    values.push_back(p);
    values.push_back(p + 1);
  }
  values.push_back(std::numeric_limits<uint64_t>::max());
  for (uint64_t v : values) PutVarint64(&buf, v);
  std::string_view in(buf);
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(GetVarint64(&in, &got));
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(VarintLength(0), 1);
  EXPECT_EQ(VarintLength(127), 1);
  EXPECT_EQ(VarintLength(128), 2);
  EXPECT_EQ(VarintLength(std::numeric_limits<uint64_t>::max()), 10);
}

TEST(Coding, Varint32RejectsValuesOver32Bits) {
  std::string buf;
  PutVarint64(&buf, 1ull << 32);
  std::string_view in(buf);
  uint32_t v;
  EXPECT_FALSE(GetVarint32(&in, &v));
  EXPECT_EQ(in.size(), buf.size()) << "a failed read consumes nothing";
}

TEST(Coding, TruncatedAndOverlongVarintsAreRejected) {
  std::string buf;
  PutVarint64(&buf, 1ull << 40);
  std::string_view truncated(buf.data(), buf.size() - 1);
  uint64_t v;
  EXPECT_FALSE(GetVarint64(&truncated, &v));
  std::string overlong(11, '\xff');
  std::string_view in(overlong);
  EXPECT_FALSE(GetVarint64(&in, &v));
  std::string empty;
  std::string_view e(empty);
  EXPECT_FALSE(GetVarint64(&e, &v));
}

// ParseVarint64 reads eight bytes at once where eight remain: every length, at every distance
// from the end of the input (so both of its paths), gives GetVarint64's answer.
TEST(Coding, ParseVarint64AgreesWithGetVarint64AtEveryLengthAndPosition) {
  std::vector<uint64_t> values;
  for (int shift = 0; shift < 64; ++shift) {
    uint64_t p = 1ull << shift;
    values.push_back(p - 1);
    values.push_back(p);
    values.push_back(p | (p >> 1) | 1);
  }
  values.push_back(std::numeric_limits<uint64_t>::max());
  std::string buf;
  for (uint64_t v : values) PutVarint64(&buf, v);
  for (size_t tail = 0; tail < 12; ++tail) {  // bytes after the last varint
    std::string in = buf + std::string(tail, '\x80');
    const char* p = in.data();
    const char* end = in.data() + buf.size() + tail;
    for (uint64_t v : values) {
      uint64_t got = 0;
      const char* before = p;
      ASSERT_TRUE(ParseVarint64(&p, end, &got)) << v;
      EXPECT_EQ(got, v);
      EXPECT_EQ(static_cast<size_t>(p - before), VarintLength(v)) << v;
    }
    EXPECT_EQ(p, in.data() + buf.size());
  }
  // Truncated (the continuation bits run to the end) and overlong: rejected, nothing consumed.
  for (size_t n = 1; n <= 11; ++n) {
    std::string bad(n, '\xff');
    const char* p = bad.data();
    uint64_t v;
    EXPECT_FALSE(ParseVarint64(&p, bad.data() + bad.size(), &v)) << n;
    EXPECT_EQ(p, bad.data());
  }
  std::string over(10, '\xff');
  over[9] = '\x02';  // a tenth byte above 1 overflows 64 bits
  const char* p = over.data();
  uint64_t v;
  EXPECT_FALSE(ParseVarint64(&p, over.data() + over.size(), &v));
}

TEST(Coding, SignedVarintsKeepSmallNegativesSmall) {
  std::string buf;
  const std::vector<int64_t> values = {
      0, -1, 1, -64, 63, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  for (int64_t v : values) PutVarsint64(&buf, v);
  std::string_view in(buf);
  for (int64_t v : values) {
    int64_t got;
    ASSERT_TRUE(GetVarsint64(&in, &got));
    EXPECT_EQ(got, v);
  }
  std::string small;
  PutVarsint64(&small, -1);
  EXPECT_EQ(small.size(), 1u);
}

TEST(Coding, LengthPrefixedRoundTripAndTruncation) {
  std::string buf;
  PutLengthPrefixed(&buf, "");
  PutLengthPrefixed(&buf, "hello");
  PutLengthPrefixed(&buf, std::string(300, 'x'));
  std::string_view in(buf);
  std::string_view v;
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "");
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "hello");
  ASSERT_TRUE(GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, std::string(300, 'x'));
  std::string bad;
  PutVarint64(&bad, 10);
  bad += "abc";
  std::string_view b(bad);
  EXPECT_FALSE(GetLengthPrefixed(&b, &v));
}

}  // namespace
}  // namespace sawmill
