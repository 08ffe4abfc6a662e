#include "common/json_string.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>

#include "common/utf8.h"

namespace sawmill {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string Parsed(const std::string& json) {
  boost::json::value value = boost::json::parse(json);
  return std::string(value.as_string());
}

TEST(JsonString, PlainTextIsQuoted) {
  EXPECT_EQ(JsonString(""), R"("")");
  EXPECT_EQ(JsonString("hello world"), R"("hello world")");
}

TEST(JsonString, QuoteAndBackslashAreEscaped) {
  EXPECT_EQ(JsonString(R"(say "hi" C:\dir)"), R"("say \"hi\" C:\\dir")");
}

TEST(JsonString, ControlCharactersAreEscaped) {
  EXPECT_EQ(JsonString("a\nb\rc\td"), R"("a\nb\rc\td")");
  EXPECT_EQ(JsonString(std::string("\x00\x01\x08\x0c\x1b\x1f", 6)),
            R"("\u0000\u0001\u0008\u000c\u001b\u001f")");
  // DEL and space are not control characters for JSON.
  EXPECT_EQ(JsonString("\x7f "), "\"\x7f \"");
}

TEST(JsonString, AppendsAfterWhatIsThere) {
  std::string out = "{\"k\":";
  AppendJsonString("v\"", &out);
  EXPECT_EQ(out, R"({"k":"v\"")");
}

TEST(JsonString, ValidUtf8IsCopiedAsItIs) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC 5 \xF0\x9F\x98\x80 \xE4\xB8\xAD";
  EXPECT_EQ(JsonString(text), "\"" + text + "\"");
}

TEST(JsonString, EachMaximalInvalidSubpartBecomesOneReplacementCharacter) {
  // A lone continuation byte, a lead byte at the end, a truncated sequence before ASCII.
  EXPECT_EQ(JsonString("a\x80z"), "\"a" + kFffd + "z\"");
  EXPECT_EQ(JsonString("a\xC3"), "\"a" + kFffd + "\"");
  EXPECT_EQ(JsonString("\xE2\x82z"), "\"" + kFffd + "z\"");
  // Overlong "/" (C0 AF): C0 can never start a sequence, AF is a stray continuation byte.
  EXPECT_EQ(JsonString("\xC0\xAF"), "\"" + kFffd + kFffd + "\"");
  // A UTF-16 surrogate (ED A0 80) and a value past U+10FFFF (F4 90 80 80).
  EXPECT_EQ(JsonString("\xED\xA0\x80"), "\"" + kFffd + kFffd + kFffd + "\"");
  EXPECT_EQ(JsonString("\xF4\x90\x80\x80"), "\"" + kFffd + kFffd + kFffd + kFffd + "\"");
  // Repair and escaping together: the quote after the bad byte is still escaped.
  EXPECT_EQ(JsonString("\xFF\"\n"), "\"" + kFffd + "\\\"\\n\"");
}

TEST(JsonString, EveryByteStringIsValidJsonThatReadsBack) {
  std::mt19937 rng(12);
  for (int round = 0; round < 2000; ++round) {
    std::string text(rng() % 24, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    std::string json = JsonString(text);
    std::string back;
    ASSERT_NO_THROW(back = Parsed(json)) << json;
    // What reads back is the text with its invalid parts replaced: valid UTF-8 is unchanged.
    std::string repaired;
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t i = 0; i < text.size();) {
      size_t bad = 0;
      size_t len = Utf8SequenceLength(bytes, text.size(), i, &bad);
      repaired += len > 0 ? text.substr(i, len) : kFffd;
      i += len > 0 ? len : bad;
    }
    EXPECT_EQ(back, repaired) << json;
  }
}

TEST(Utf8SequenceLength, MeasuresValidSequencesAndInvalidSubparts) {
  auto measure = [](std::string_view s, size_t* bad) {
    return Utf8SequenceLength(reinterpret_cast<const unsigned char*>(s.data()), s.size(), 0, bad);
  };
  size_t bad = 0;
  EXPECT_EQ(measure("a", &bad), 1u);
  EXPECT_EQ(measure("\xC3\xA9", &bad), 2u);
  EXPECT_EQ(measure("\xE2\x82\xAC", &bad), 3u);
  EXPECT_EQ(measure("\xF0\x9F\x98\x80", &bad), 4u);
  EXPECT_EQ(measure("\xE2\x82", &bad), 0u);
  EXPECT_EQ(bad, 2u);
  EXPECT_EQ(measure("\xE0\x80\x80", &bad), 0u);  // overlong three-byte form
  EXPECT_EQ(bad, 1u);
  EXPECT_EQ(measure("\xF8\x88\x80\x80\x80", &bad), 0u);  // five-byte forms do not exist
  EXPECT_EQ(bad, 1u);
}

}  // namespace
}  // namespace sawmill
