#include "common/base64.h"

#include <gtest/gtest.h>

namespace sawmill {
namespace {

TEST(Base64, DecodesBothAlphabetsWithOrWithoutPadding) {
  EXPECT_EQ(Base64Decode("dXNlcjpwYXNz"), "user:pass");
  EXPECT_EQ(Base64Decode("YWRtaW46c2VjcmV0"), "admin:secret");
  EXPECT_EQ(Base64Decode("YQ=="), "a");
  EXPECT_EQ(Base64Decode("YQ"), "a");
  EXPECT_EQ(Base64Decode("YWI="), "ab");
  EXPECT_EQ(Base64Decode(""), "");
  EXPECT_EQ(Base64Decode("+/8="), std::string("\xfb\xff", 2));
  EXPECT_EQ(Base64Decode("-_8="), std::string("\xfb\xff", 2));
  // The first '=' ends the text.
  EXPECT_EQ(Base64Decode("YQ==!!"), "a");
}

TEST(Base64, ALongTextKeepsEveryByte) {
  // More than 32 bits of input: the bits of earlier groups must not spoil later bytes.
  std::string raw;
  for (int i = 0; i < 256; ++i) raw.push_back(static_cast<char>(i));
  const std::string encoded =
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQk"
      "NERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWG"
      "h4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIyc"
      "rLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";
  EXPECT_EQ(Base64Decode(encoded), raw);
}

TEST(Base64, AByteOutsideBothAlphabetsIsNoText) {
  EXPECT_EQ(Base64Decode("YQ*="), std::nullopt);
  EXPECT_EQ(Base64Decode("Y Q=="), std::nullopt);
}

}  // namespace
}  // namespace sawmill
