#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sawmill::crc32c {
namespace {

// Vectors from RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32c, StandardVectors) {
  std::string zeros(32, '\0');
  EXPECT_EQ(Value(zeros), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(Value(ones), 0x62a8ab43u);
  std::string inc(32, '\0');
  for (int i = 0; i < 32; ++i) inc[static_cast<size_t>(i)] = static_cast<char>(i);
  EXPECT_EQ(Value(inc), 0x46dd794eu);
  std::string dec(32, '\0');
  for (int i = 0; i < 32; ++i) dec[static_cast<size_t>(i)] = static_cast<char>(31 - i);
  EXPECT_EQ(Value(dec), 0x113fdb5cu);
  EXPECT_EQ(Value("123456789"), 0xe3069283u);
  EXPECT_EQ(Value(""), 0u);
}

TEST(Crc32c, HardwareAndPortablePathsAgree) {
  std::mt19937_64 rng(42);
  for (size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 65u, 1000u, 4099u}) {
    std::string data(len, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    for (size_t offset = 0; offset < std::min<size_t>(len, 8); ++offset) {
      EXPECT_EQ(Extend(0, data.data() + offset, len - offset),
                ExtendPortable(0, data.data() + offset, len - offset))
          << "len " << len << " offset " << offset;
    }
  }
  // Tell whoever reads the log which path ran.
  std::printf("crc32c hardware path: %s\n", HardwareAccelerated() ? "yes" : "no");
}

TEST(Crc32c, ExtendEqualsWholeValue) {
  std::string a = "hello ";
  std::string b = "world";
  EXPECT_EQ(Extend(Value(a), b.data(), b.size()), Value(a + b));
}

TEST(Crc32c, MaskRoundTripsAndChangesTheValue) {
  uint32_t crc = Value("foo");
  EXPECT_NE(Mask(crc), crc);
  EXPECT_NE(Mask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Unmask(Mask(Mask(crc)))), crc);
}

}  // namespace
}  // namespace sawmill::crc32c
