#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <string>
#include <vector>

#include "ingest/normalize.h"

namespace sawmill::ingest {
namespace {

using ::testing::HasSubstr;

std::string Gzip(std::string_view data, int window_bits = 15 + 16) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string Lz4(std::string_view data) {
  std::string out(LZ4F_compressFrameBound(data.size(), nullptr), '\0');
  size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), nullptr);
  EXPECT_FALSE(LZ4F_isError(n));
  out.resize(n);
  return out;
}

std::string Body() {
  std::string body;
  for (int i = 0; i < 20000; ++i) body += "line " + std::to_string(i) + " level=INFO ok\n";
  return body;
}

TEST(DecodeBody, RoundTripsEveryEncoding) {
  const std::string body = Body();
  for (std::string_view enc : {"", "identity"}) {
    Result<std::string> r = DecodeBody(body, enc, 64 << 20);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, body);
  }
  struct Case {
    std::string encoding;
    std::string compressed;
  };
  for (const Case& c :
       {Case{"gzip", Gzip(body)}, Case{"GZip", Gzip(body)}, Case{"deflate", Gzip(body, 15)},
        Case{"deflate", Gzip(body, -15)}, Case{"zstd", Zstd(body)}, Case{"lz4", Lz4(body)}}) {
    Result<std::string> r = DecodeBody(c.compressed, c.encoding, 64 << 20);
    ASSERT_TRUE(r.ok()) << c.encoding << ": " << r.status().ToString();
    EXPECT_EQ(*r, body) << c.encoding;
  }
}

TEST(DecodeBody, ConcatenatedMembersAndFramesAreOneBody) {
  EXPECT_EQ(*DecodeBody(Gzip("a\n") + Gzip("b\n"), "gzip", 1 << 20), "a\nb\n");
  EXPECT_EQ(*DecodeBody(Zstd("a\n") + Zstd("b\n"), "zstd", 1 << 20), "a\nb\n");
  EXPECT_EQ(*DecodeBody(Lz4("a\n") + Lz4("b\n"), "lz4", 1 << 20), "a\nb\n");
}

TEST(DecodeBody, CorruptDataSaysWhyAndAtWhichByte) {
  std::string gz = Gzip(Body());
  gz[10] = static_cast<char>(0xFF);  // first byte of the deflate data: invalid block type
  Result<std::string> r = DecodeBody(gz, "gzip", 64 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_THAT(r.status().message(), HasSubstr("gzip: "));
  EXPECT_THAT(r.status().message(), HasSubstr("at byte 1"));

  Result<std::string> not_gzip = DecodeBody("plain text", "gzip", 1 << 20);
  EXPECT_THAT(not_gzip.status().message(), HasSubstr("not a gzip stream"));
  EXPECT_THAT(not_gzip.status().message(), HasSubstr("at byte 0"));

  Result<std::string> not_zstd = DecodeBody("plain text", "zstd", 1 << 20);
  ASSERT_FALSE(not_zstd.ok());
  EXPECT_THAT(not_zstd.status().message(), HasSubstr("zstd: "));
  EXPECT_THAT(not_zstd.status().message(), HasSubstr("at byte"));

  Result<std::string> not_lz4 = DecodeBody("plain text", "lz4", 1 << 20);
  ASSERT_FALSE(not_lz4.ok());
  EXPECT_THAT(not_lz4.status().message(), HasSubstr("lz4: "));
}

TEST(DecodeBody, TruncatedStreamsAreErrorsNotShortBodies) {
  const std::string body = Body();
  for (auto [enc, data] : {std::pair<std::string, std::string>{"gzip", Gzip(body)},
                           {"zstd", Zstd(body)},
                           {"lz4", Lz4(body)}}) {
    std::string cut = data.substr(0, data.size() / 2);
    Result<std::string> r = DecodeBody(cut, enc, 64 << 20);
    ASSERT_FALSE(r.ok()) << enc;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << enc;
    EXPECT_THAT(r.status().message(), HasSubstr("truncated")) << enc;
    EXPECT_THAT(r.status().message(), HasSubstr("at byte " + std::to_string(cut.size()))) << enc;
  }
}

TEST(DecodeBody, DecodedSizeIsBounded) {
  std::string zeros(10 << 20, '0');  // compresses to a few KiB: a decompression bomb in small
  for (auto [enc, data] : {std::pair<std::string, std::string>{"gzip", Gzip(zeros)},
                           {"zstd", Zstd(zeros)},
                           {"lz4", Lz4(zeros)},
                           {"identity", zeros}}) {
    Result<std::string> r = DecodeBody(data, enc, 1 << 20);
    ASSERT_FALSE(r.ok()) << enc;
    EXPECT_TRUE(r.status().IsResourceExhausted()) << enc;
    EXPECT_THAT(r.status().message(), HasSubstr("1048576")) << enc;
  }
}

TEST(DecodeBody, UnknownEncodingIsRefusedByName) {
  Result<std::string> r = DecodeBody("x", "br", 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_THAT(r.status().message(), HasSubstr("'br'"));
}

TEST(DecodeBody, StackedEncodingsAreUndoneInReverse) {
  Result<std::string> r = DecodeBody(Zstd(Gzip("hello\n")), "gzip, zstd", 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "hello\n");
}

TEST(CountLines, CountsAFinalLineWithoutNewline) {
  EXPECT_EQ(CountLines(""), 0u);
  EXPECT_EQ(CountLines("a"), 1u);
  EXPECT_EQ(CountLines("a\n"), 1u);
  EXPECT_EQ(CountLines("a\nb"), 2u);
  EXPECT_EQ(CountLines("\n\n"), 2u);
  EXPECT_EQ(CountLines("a\r\nb\r\n"), 2u);
  // Long bodies, newlines at every distance from each other (the scan is vectorised).
  std::string body;
  size_t newlines = 0;
  for (size_t len = 0; len < 300; ++len) {
    body.append(len, 'x');
    body.push_back('\n');
    ++newlines;
    EXPECT_EQ(CountLines(body), newlines);
    EXPECT_EQ(CountLines(body + "tail"), newlines + 1);
  }
  EXPECT_EQ(CountLines(std::string(100000, '\n')), 100000u);
}

BodyLimits Limits(size_t max_bytes, size_t max_lines) {
  BodyLimits limits;
  limits.max_bytes = max_bytes;
  limits.max_lines = max_lines;
  return limits;
}

std::string ShortLines(size_t n) {
  std::string body;
  body.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) body += "a\n";
  return body;
}

TEST(DecodeBodyLimits, ALineBombIsRefusedByItsLineCountWithTheBoundNamed) {
  // The probe: 4 million lines "a" compress to well under a kilobyte with zstd.
  const std::string bomb = Zstd(ShortLines(4'000'000));
  ASSERT_LT(bomb.size(), 4096u);
  for (auto [enc, data] : {std::pair<std::string, std::string>{"zstd", bomb},
                           {"gzip", Gzip(ShortLines(4'000'000))},
                           {"lz4", Lz4(ShortLines(4'000'000))}}) {
    BodyLimitHit hit = BodyLimitHit::kNone;
    Result<std::string> r = DecodeBody(data, enc, Limits(64 << 20, 100'000), &hit);
    ASSERT_FALSE(r.ok()) << enc;
    EXPECT_TRUE(r.status().IsResourceExhausted()) << enc;
    EXPECT_EQ(hit, BodyLimitHit::kLines) << enc;
    EXPECT_THAT(r.status().message(), HasSubstr("more than 100000 lines")) << enc;
  }
}

TEST(DecodeBodyLimits, DecodingStopsAtTheBoundInsteadOfInflatingEverything) {
  // Garbage after the bomb is only seen by a decoder that inflated all of it first: refusing by
  // the bound (not "unexpected data") proves decoding stopped once the bound was passed.
  for (auto [enc, data] : {std::pair<std::string, std::string>{"zstd", Zstd(ShortLines(2'000'000))},
                           {"gzip", Gzip(ShortLines(2'000'000))},
                           {"lz4", Lz4(ShortLines(2'000'000))}}) {
    std::string tampered = data + std::string(64, '\x5a');
    BodyLimitHit hit = BodyLimitHit::kNone;
    Result<std::string> lines = DecodeBody(tampered, enc, Limits(64 << 20, 1000), &hit);
    EXPECT_TRUE(lines.status().IsResourceExhausted()) << enc << ": " << lines.status().ToString();
    EXPECT_EQ(hit, BodyLimitHit::kLines) << enc;
    Result<std::string> bytes = DecodeBody(tampered, enc, Limits(1 << 20, 0), &hit);
    EXPECT_TRUE(bytes.status().IsResourceExhausted()) << enc << ": " << bytes.status().ToString();
    EXPECT_EQ(hit, BodyLimitHit::kBytes) << enc;
    // Without bounds in the way the damage is found: the test above is not vacuous.
    Result<std::string> whole = DecodeBody(tampered, enc, Limits(64 << 20, 0), &hit);
    EXPECT_TRUE(whole.status().IsInvalidArgument()) << enc << ": " << whole.status().ToString();
  }
}

TEST(DecodeBodyLimits, TheLineBoundIsExactAndCountsAnUnterminatedLastLine) {
  const std::string three = "a\nb\nc\n";
  for (auto [enc, data] : {std::pair<std::string, std::string>{"identity", three},
                           {"gzip", Gzip(three)},
                           {"zstd", Zstd(three)}}) {
    EXPECT_TRUE(DecodeBody(data, enc, Limits(1 << 20, 3), nullptr).ok()) << enc;
    BodyLimitHit hit = BodyLimitHit::kNone;
    EXPECT_TRUE(DecodeBody(data, enc, Limits(1 << 20, 2), &hit).status().IsResourceExhausted())
        << enc;
    EXPECT_EQ(hit, BodyLimitHit::kLines) << enc;
  }
  // "a\nb\nc" is three lines too, although it has two newlines.
  BodyLimitHit hit = BodyLimitHit::kNone;
  EXPECT_TRUE(
      DecodeBody(Zstd("a\nb\nc"), "zstd", Limits(1 << 20, 2), &hit).status().IsResourceExhausted());
  EXPECT_EQ(hit, BodyLimitHit::kLines);
  EXPECT_TRUE(DecodeBody(Zstd("a\nb\nc"), "zstd", Limits(1 << 20, 3), &hit).ok());
}

TEST(DecodeBodyLimits, OnlyTheInnermostLayerCountsLines) {
  // The gzip layer inside zstd holds binary data with arbitrary newline bytes: only the lines of
  // the final body are counted, while every layer is bounded in bytes.
  const std::string body = ShortLines(50);
  std::string stacked = Zstd(Gzip(body));
  Result<std::string> r = DecodeBody(stacked, "gzip, zstd", Limits(1 << 20, 50), nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, body);
  BodyLimitHit hit = BodyLimitHit::kNone;
  EXPECT_FALSE(DecodeBody(stacked, "gzip, zstd", Limits(1 << 20, 49), &hit).ok());
  EXPECT_EQ(hit, BodyLimitHit::kLines);
  EXPECT_FALSE(DecodeBody(stacked, "gzip, zstd", Limits(60, 0), &hit).ok());
  EXPECT_EQ(hit, BodyLimitHit::kBytes);
}

TEST(DecodeBodyLimits, TheAdmissionHookSeesTheBodyGrowAndCanStopIt) {
  const std::string body = ShortLines(3'000'000);  // 6 MB
  const std::string compressed = Zstd(body);
  BodyLimits limits = Limits(64 << 20, 0);
  std::vector<size_t> asked;
  limits.admit = [&](size_t bytes, size_t) {
    asked.push_back(bytes);
    return bytes <= (2 << 20);
  };
  BodyLimitHit hit = BodyLimitHit::kNone;
  Result<std::string> r = DecodeBody(compressed, "zstd", limits, &hit);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsResourceExhausted());
  EXPECT_EQ(hit, BodyLimitHit::kAdmission);
  EXPECT_THAT(r.status().message(), HasSubstr("memory budget"));
  // Asked before each MiB is held; refused at the first MiB over what it would grant.
  ASSERT_FALSE(asked.empty());
  EXPECT_EQ(asked.back(), 3u << 20);
  for (size_t i = 1; i < asked.size(); ++i) EXPECT_GT(asked[i], asked[i - 1]);

  limits.admit = [&](size_t, size_t) { return true; };
  Result<std::string> all = DecodeBody(compressed, "zstd", limits, &hit);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, body);
}

}  // namespace
}  // namespace sawmill::ingest
