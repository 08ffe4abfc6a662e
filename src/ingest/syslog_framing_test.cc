#include "ingest/syslog_framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sawmill::ingest {
namespace {

struct Frames {
  std::vector<std::string> text;
  std::vector<bool> truncated;
  SyslogFrameDecoder::Emit Emit() {
    return [this](std::string_view frame, bool cut) {
      text.emplace_back(frame);
      truncated.push_back(cut);
    };
  }
};

TEST(SyslogFraming, OctetCountingAndNewlineFramingMixed) {
  SyslogFrameDecoder decoder(1024);
  Frames frames;
  decoder.Feed("11 <13>1 a\nb c11 <13>hello\r\n<14>line one\n<15>line two\r\n", frames.Emit());
  ASSERT_EQ(frames.text.size(), 4u);
  EXPECT_EQ(frames.text[0], "<13>1 a\nb c");  // a counted frame may hold a newline
  EXPECT_EQ(frames.text[1], "<13>hello\r\n");
  EXPECT_EQ(frames.text[2], "<14>line one");
  EXPECT_EQ(frames.text[3], "<15>line two");
}

TEST(SyslogFraming, FramesSplitAcrossReadsAtEveryByte) {
  const std::string stream = "16 <13>first frame!<14>second\n4 <1>x";
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    SyslogFrameDecoder decoder(1024);
    Frames frames;
    decoder.Feed(std::string_view(stream).substr(0, cut), frames.Emit());
    decoder.Feed(std::string_view(stream).substr(cut), frames.Emit());
    ASSERT_EQ(frames.text.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(frames.text[0], "<13>first frame!");
    EXPECT_EQ(frames.text[1], "<14>second");
    EXPECT_EQ(frames.text[2], "<1>x");
  }
}

TEST(SyslogFraming, TruncatedOctetFrameAtEndOfStreamIsEmittedAsTruncated) {
  SyslogFrameDecoder decoder(1024);
  Frames frames;
  decoder.Feed("100 <13>only part", frames.Emit());
  EXPECT_TRUE(frames.text.empty());
  decoder.Finish(frames.Emit());
  ASSERT_EQ(frames.text.size(), 1u);
  EXPECT_EQ(frames.text[0], "<13>only part");
  EXPECT_TRUE(frames.truncated[0]);
}

TEST(SyslogFraming, LastLineWithoutNewlineIsEmittedAtEnd) {
  SyslogFrameDecoder decoder(1024);
  Frames frames;
  decoder.Feed("<13>no newline", frames.Emit());
  decoder.Finish(frames.Emit());
  ASSERT_EQ(frames.text.size(), 1u);
  EXPECT_FALSE(frames.truncated[0]);
}

TEST(SyslogFraming, OversizedOctetFrameIsCutAndTheStreamStaysInSync) {
  SyslogFrameDecoder decoder(8);
  Frames frames;
  std::string big(100000, 'x');
  decoder.Feed("100000 " + big.substr(0, 500), frames.Emit());
  EXPECT_LE(decoder.buffered(), 8u + 16u);
  decoder.Feed(big.substr(500) + "4 <1>y", frames.Emit());
  ASSERT_EQ(frames.text.size(), 2u);
  EXPECT_EQ(frames.text[0], "xxxxxxxx");
  EXPECT_TRUE(frames.truncated[0]);
  EXPECT_EQ(frames.text[1], "<1>y");
  EXPECT_FALSE(frames.truncated[1]);
}

TEST(SyslogFraming, RefusingModeStopsAtAnOversizedLengthAfterTheFramesBeforeIt) {
  SyslogFrameDecoder decoder(16);
  decoder.set_refuse_oversized(true);
  Frames frames;
  decoder.Feed("5 <13>a5 <13>b1", frames.Emit());
  EXPECT_FALSE(decoder.refused());  // "1" may still become a short length
  decoder.Feed("7 <13>cccccccccccccc5 <13>d", frames.Emit());
  ASSERT_TRUE(decoder.refused());
  EXPECT_EQ(decoder.refused_length(), 17u);
  EXPECT_EQ(frames.text, (std::vector<std::string>{"<13>a", "<13>b"}));
  // Nothing more is read, and the end emits nothing.
  decoder.Feed("5 <13>e", frames.Emit());
  decoder.Finish(frames.Emit());
  EXPECT_EQ(frames.text.size(), 2u);
  // A length at the bound is not refused; lines are cut as without the mode.
  SyslogFrameDecoder exact(5);
  exact.set_refuse_oversized(true);
  Frames more;
  exact.Feed("5 <13>x<14>a long line\n", more.Emit());
  EXPECT_FALSE(exact.refused());
  EXPECT_EQ(more.text, (std::vector<std::string>{"<13>x", "<14>a"}));
  EXPECT_EQ(more.truncated, (std::vector<bool>{false, true}));
}

TEST(SyslogFraming, OversizedLineIsCutAndTheRestSkipped) {
  SyslogFrameDecoder decoder(8);
  Frames frames;
  decoder.Feed("<13>aaaaaaaaaaaa", frames.Emit());
  decoder.Feed("bbbbbbbbbbbbbbbbbbbbbbbbb", frames.Emit());
  EXPECT_LE(decoder.buffered(), 8u);
  decoder.Feed("bbb\n<1>ok\n", frames.Emit());
  ASSERT_EQ(frames.text.size(), 2u);
  EXPECT_EQ(frames.text[0], "<13>aaaa");
  EXPECT_TRUE(frames.truncated[0]);
  EXPECT_EQ(frames.text[1], "<1>ok");
}

TEST(SyslogFraming, DigitsWithoutSpaceAreALineNotALength) {
  SyslogFrameDecoder decoder(1024);
  Frames frames;
  decoder.Feed("12345678901234 is not a length\n", frames.Emit());
  ASSERT_EQ(frames.text.size(), 1u);
  EXPECT_EQ(frames.text[0], "12345678901234 is not a length");
}

}  // namespace
}  // namespace sawmill::ingest
