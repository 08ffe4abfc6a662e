#include "ingest/normalize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sawmill::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kNow = 1796040000 * kSec;  // 2026-11-30T12:00:00Z

struct Normalized {
  bool kept = false;
  Record record;
  IngestCounts counts;
};

Normalized Normalize(std::string_view line, const Defaults& defaults = {},
                     NormalizeOptions options = {}) {
  Normalized n;
  n.kept = NormalizeLine(line, defaults, options, kNow, &n.record, &n.counts);
  return n;
}

// The normaliser fills the columns of most JSON lines directly and redoes a line the general way
// (every key a field, then the field-mapping table) when it could get it wrong. A nested object
// as the first key always takes the general way: the same line with and without one must give
// the same record, apart from that field (and the whole-line message of a line without one).
Record GeneralWay(std::string_view line) {
  const size_t brace = line.find('{');
  std::string forced = std::string(line.substr(0, brace + 1)) + "\"~forced\":{\"x\":1}";
  std::string_view rest = line.substr(brace + 1);
  if (rest.find_first_not_of(" \t") != std::string_view::npos &&
      rest[rest.find_first_not_of(" \t")] != '}') {
    forced += ',';
  }
  forced += rest;
  Normalized n = Normalize(forced);
  auto& fields = n.record.fields;
  EXPECT_FALSE(fields.empty()) << forced;
  if (!fields.empty() && fields.front().first == "~forced.x") fields.erase(fields.begin());
  if (n.record.message == forced) n.record.message = std::string(line);
  return n.record;
}

TEST(NormalizeLine, DirectColumnFillingStoresWhatTheFieldMappingTableWould) {
  const char* lines[] = {
      R"({"service":"a","host":"h","trace_id":"t","span_id":"s","user_id":"u","msg":"m"})",
      R"({"app":"a","service":"b","msg":"two names of one column: precedence"})",
      R"({"service":"b","app":"a","msg":"two names, the better one first"})",
      R"({"service":"","app":"a","msg":"an empty value does not fill"})",
      R"({"service":null,"app":"a","msg":"null neither"})",
      R"({"service":"","msg":"empty and alone stays a field"})",
      R"({"service":null,"msg":"null and alone is dropped"})",
      R"({"service":42,"host":true,"user_id":[1,2],"msg":"non-strings as their JSON text"})",
      R"({"service":{"name":"nested"},"msg":"an object"})",
      R"({"service":"plain","service.name":"dotted key wins","msg":"m"})",
      R"({"hostname":"h1","host":"h2","msg":"m"})",
      R"({"level":"loud","log_level":"warn","msg":"a level that is not one"})",
      R"({"level":"error","log_level":"warn","msg":"m"})",
      R"({"traceId":"x","trace.id":"y","message":"m"})",
      R"({"job":"j","instance":"i","node":"n","msg":"label-only names are fields here"})",
      R"({"service":"s","service":"s2","msg":"the same key twice"})",
      R"({"userId":"u1","enduser.id":"u2"})",
      R"({"service":"no message","n":1})",
      R"({})",
      R"({"sawmill.flags":"truncated","service":"s"})",
  };
  for (const char* line : lines) {
    Normalized n = Normalize(line);
    ASSERT_TRUE(n.kept) << line;
    EXPECT_EQ(n.record, GeneralWay(line)) << line;
  }
  // And what the general way gives, spelled out for two of them.
  Normalized precedence = Normalize(lines[1]);
  EXPECT_EQ(precedence.record.service, "b");
  EXPECT_THAT(precedence.record.fields, ElementsAre(Pair("app", "a")));
  Normalized empty = Normalize(lines[3]);
  EXPECT_EQ(empty.record.service, "a");
  EXPECT_THAT(empty.record.fields, ElementsAre(Pair("service", "")));
}

TEST(NormalizeLine, MapsTheWellKnownJsonKeys) {
  Normalized n = Normalize(
      R"({"ts":"2024-01-15T10:23:45Z","level":"error","msg":"card declined","app":"payments",)"
      R"("hostname":"web-1","traceId":"abc123","span_id":"s1","userId":"u7","amount":12.5})");
  ASSERT_TRUE(n.kept);
  const Record& r = n.record;
  EXPECT_EQ(r.ts, 1705314225 * kSec);
  EXPECT_EQ(r.level, Level::kError);
  EXPECT_EQ(r.message, "card declined");
  EXPECT_EQ(r.service, "payments");
  EXPECT_EQ(r.host, "web-1");
  EXPECT_EQ(r.trace_id, "abc123");
  EXPECT_EQ(r.span_id, "s1");
  EXPECT_EQ(r.user_id, "u7");
  EXPECT_THAT(r.fields, ElementsAre(Pair("amount", "12.5")));
  EXPECT_EQ(r.flags, 0u);
  EXPECT_EQ(n.counts.accepted, 1u);
}

TEST(NormalizeLine, FlagsSetByTheAgentBecomeFlagBitsNotFields) {
  Normalized n =
      Normalize(R"({"msg":"card [REDACTED]","sawmill.flags":"redacted,truncated,bogus"})");
  ASSERT_TRUE(n.kept);
  EXPECT_EQ(n.record.flags, kFlagRedacted | kFlagTruncated);
  EXPECT_TRUE(n.record.fields.empty());
  EXPECT_EQ(n.counts.truncated, 0u) << "the server did not truncate this line itself";
}

TEST(NormalizeLine, FlattensNestedObjectsWithDotsAndKeepsArraysAsJson) {
  Normalized n = Normalize(
      R"({"message":"m","http":{"status":503,"req":{"path":"/pay"}},"tags":["a",1],"ok":true,)"
      R"("gone":null,"empty":{}})");
  EXPECT_THAT(n.record.fields,
              ElementsAre(Pair("http.status", "503"), Pair("http.req.path", "/pay"),
                          Pair("tags", R"(["a",1])"), Pair("ok", "true")));
}

TEST(NormalizeLine, EpochTimestampsAndNumericLevels) {
  EXPECT_EQ(Normalize(R"({"timestamp":1446249499322,"msg":"x"})").record.ts,
            1446249499 * kSec + 322'000'000);
  EXPECT_EQ(Normalize(R"({"time":"1705314225","msg":"x"})").record.ts, 1705314225 * kSec);
  EXPECT_EQ(Normalize(R"({"@timestamp":1705314225.5,"msg":"x"})").record.ts,
            1705314225 * kSec + 500'000'000);
  EXPECT_EQ(Normalize(R"({"level":50,"msg":"x"})").record.level, Level::kError);   // pino
  EXPECT_EQ(Normalize(R"({"severity":4,"msg":"x"})").record.level, Level::kWarn);  // syslog
}

TEST(NormalizeLine, UnusableMappedValuesStayInFields) {
  Normalized n = Normalize(R"({"time":"teatime","level":"loud","msg":"a","log":"b"})");
  EXPECT_EQ(n.record.ts, 0);  // the engine sets it to the ingest time
  EXPECT_EQ(n.record.level, Level::kUnknown);
  EXPECT_EQ(n.record.message, "a");
  EXPECT_THAT(n.record.fields,
              ElementsAre(Pair("time", "teatime"), Pair("level", "loud"), Pair("log", "b")));
  EXPECT_EQ(n.record.flags, 0u);
}

TEST(NormalizeLine, JsonWithoutAMessageKeepsTheLineAsMessage) {
  std::string line = R"({"EventID":4103,"Channel":"PowerShell"})";
  Normalized n = Normalize(line);
  EXPECT_EQ(n.record.message, line);
  EXPECT_THAT(n.record.fields, ElementsAre(Pair("EventID", "4103"), Pair("Channel", "PowerShell")));
}

TEST(NormalizeLine, NumbersBeyondSixtyFourBitsKeepTheirTextInFields) {
  Normalized n = Normalize(
      R"({"msg":"x","id":123456789012345678901234567890,"big":-1e400,"ok":12,"s":"9e999"})");
  EXPECT_EQ(n.record.flags, 0u);
  EXPECT_EQ(n.record.message, "x");
  EXPECT_THAT(n.record.fields,
              ElementsAre(Pair("id", "123456789012345678901234567890"), Pair("big", "-1e400"),
                          Pair("ok", "12"), Pair("s", "9e999")));
}

TEST(NormalizeLine, MalformedJsonIsKeptRawAndFlagged) {
  Normalized n = Normalize(R"({"level":"error","msg":"unterminated)");
  ASSERT_TRUE(n.kept);
  EXPECT_EQ(n.record.message, R"({"level":"error","msg":"unterminated)");
  EXPECT_EQ(n.record.flags, kFlagParseFailed);
  EXPECT_TRUE(n.record.fields.empty());
  EXPECT_EQ(n.counts.parse_failed, 1u);
  EXPECT_EQ(Normalize(R"({"a":1} trailing)").record.flags, kFlagParseFailed);
}

TEST(NormalizeLine, PlainTextStaysWholeAndGetsTimestampAndLevel) {
  std::string line = "2015-10-18 18:01:47,978 ERROR [main] org.apache.Foo: boom";
  Normalized n = Normalize(line + "\r\n", Defaults{"hadoop", "node-1", std::nullopt});
  EXPECT_EQ(n.record.message, line);
  EXPECT_EQ(n.record.ts, 1445191307 * kSec + 978'000'000);
  EXPECT_EQ(n.record.level, Level::kError);
  EXPECT_EQ(n.record.service, "hadoop");
  EXPECT_EQ(n.record.host, "node-1");
  EXPECT_EQ(n.record.flags, 0u);
}

TEST(NormalizeLine, DefaultsFillOnlyWhatIsMissing) {
  Defaults d{"default-svc", "default-host", Level::kWarn};
  Normalized n = Normalize(R"({"service":"pay","msg":"x"})", d);
  EXPECT_EQ(n.record.service, "pay");
  EXPECT_EQ(n.record.host, "default-host");
  EXPECT_EQ(n.record.level, Level::kWarn);
  EXPECT_EQ(Normalize("ERROR something", d).record.level, Level::kError);
}

TEST(NormalizeLine, EmptyAndWhitespaceLinesAreSkippedAndCounted) {
  for (std::string_view line : {"", " ", "\t \r", "\r\n"}) {
    Normalized n = Normalize(line);
    EXPECT_FALSE(n.kept) << "'" << line << "'";
    EXPECT_EQ(n.counts.skipped, 1u);
    EXPECT_EQ(n.counts.accepted, 0u);
  }
}

TEST(NormalizeLine, LongLinesAreTruncatedOnACharacterBoundaryAndFlagged) {
  std::string line = "ERROR " + std::string(100, 'x') + "\xC3\xA9" + std::string(100, 'y');
  NormalizeOptions options;
  options.max_line_bytes = 107;  // cuts inside the two-byte "é"
  Normalized n = Normalize(line, {}, options);
  EXPECT_EQ(n.record.message, "ERROR " + std::string(100, 'x'));
  EXPECT_EQ(n.record.flags, kFlagTruncated);
  EXPECT_EQ(n.record.level, Level::kError);
  EXPECT_EQ(n.counts.truncated, 1u);
}

TEST(NormalizeLine, InvalidUtf8IsReplacedAndFlagged) {
  Normalized n = Normalize("bad \xFF byte");
  EXPECT_EQ(n.record.message, "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(n.record.flags, kFlagInvalidUtf8);
  // In JSON too: the replacement makes the line valid, so it is still mapped.
  Normalized j = Normalize("{\"msg\":\"caf\xE9\"}");
  EXPECT_EQ(j.record.message, "caf\xEF\xBF\xBD");
  EXPECT_EQ(j.record.flags, kFlagInvalidUtf8);
}

TEST(SanitizeUtf8, ReplacesEachMaximalInvalidSubpart) {
  std::string valid = "héllo wörld ✓ 😀";
  EXPECT_FALSE(SanitizeUtf8(&valid));
  EXPECT_EQ(valid, "héllo wörld ✓ 😀");
  std::string s =
      "a\xE2\x9C"
      "b";  // truncated 3-byte sequence: one U+FFFD
  EXPECT_TRUE(SanitizeUtf8(&s));
  EXPECT_EQ(s,
            "a\xEF\xBF\xBD"
            "b");
  std::string surrogate = "\xED\xA0\x80";  // encoded surrogate: invalid, three replacements
  EXPECT_TRUE(SanitizeUtf8(&surrogate));
  EXPECT_EQ(surrogate, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  std::string overlong = "\xC0\xAF";
  EXPECT_TRUE(SanitizeUtf8(&overlong));
  EXPECT_EQ(overlong, "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(NormalizeBody, SplitsOnLfAndCrlfAndKeepsALastLineWithoutNewline) {
  std::vector<Record> out;
  IngestCounts counts;
  NormalizeBody("one\r\ntwo\n\n   \nthree", {}, {}, kNow, &out, &counts);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].message, "one");
  EXPECT_EQ(out[1].message, "two");
  EXPECT_EQ(out[2].message, "three");
  EXPECT_EQ(counts.accepted, 3u);
  EXPECT_EQ(counts.skipped, 2u);
}

}  // namespace
}  // namespace sawmill::ingest
