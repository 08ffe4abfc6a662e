#include "query/parser.h"

#include <gtest/gtest.h>

#include "query/query_engine.h"

namespace sawmill::query {
namespace {

std::string Canon(std::string_view text) {
  Query q;
  ParseError error;
  EXPECT_TRUE(Parse(text, &q, &error)) << error.message;
  return ToString(q);
}

std::string ErrorOf(std::string_view text) {
  Query q;
  ParseError error;
  EXPECT_FALSE(Parse(text, &q, &error)) << text;
  return error.message;
}

TEST(Parser, ImplicitAndBindsTighterThanOr) {
  EXPECT_EQ(Canon("service=payments level>=ERROR trace_id=abc123"),
            "service=payments AND level>=ERROR AND trace_id=abc123");
  EXPECT_EQ(Canon("a=1 OR b=2 c=3"), "a=1 OR (b=2 AND c=3)");
  EXPECT_EQ(Canon("service=payments AND (level=ERROR OR level=WARN) NOT host=web-1"),
            "service=payments AND (level=ERROR OR level=WARN) AND NOT host=web-1");
}

TEST(Parser, ComparisonWithAValueStartingWithEqualsKeepsItsOperator) {
  // `a>"="` compares with "="; written bare it would read back as `a>=` (found by fuzzing).
  EXPECT_EQ(Canon("a>\"=\""), "a>\"=\"");
  EXPECT_EQ(Canon(Canon("a<\"=x\" b")), "a<\"=x\" AND b");
  EXPECT_EQ(Canon("a>=\"=\""), "a>==");
  EXPECT_EQ(Canon(Canon("a>=\"=\"")), "a>==");
}

TEST(Parser, ValueForms) {
  EXPECT_EQ(Canon("service=pay*"), "service=pay*");
  EXPECT_EQ(Canon("trace_id=*"), "trace_id=*");
  EXPECT_EQ(Canon("host=\"web 1\""), "host=\"web 1\"");
  EXPECT_EQ(Canon("host=\"pay*\""), "host=\"pay*\"");
  EXPECT_EQ(Canon("http.method=GET"), "http.method=GET");
  EXPECT_EQ(Canon("host=10.0.0.1:80"), "host=10.0.0.1:80");
  EXPECT_EQ(Canon("service!=payments"), "NOT service=payments");
  EXPECT_EQ(Canon("level=err"), "level=ERROR");
  EXPECT_EQ(Canon("message~\"DNS.*fail\""), "message~\"DNS.*fail\"");
  EXPECT_EQ(Canon("message:*time*"), "message:\"*time*\"");
  // Spaces around the operator are allowed, as in LogQL.
  EXPECT_EQ(Canon("service = payments"), "service=payments");
  EXPECT_EQ(Canon("service= payments level >= warn"), "service=payments AND level>=warn");
  EXPECT_EQ(Canon("host != \"web 1\" timeout"), "NOT host=\"web 1\" AND timeout");
}

TEST(Parser, WordsAndPhrases) {
  EXPECT_EQ(Canon("Timeout"), "timeout");
  EXPECT_EQ(Canon("\"Connection, refused!\""), "\"connection refused\"");
  EXPECT_EQ(Canon("blk_123"), "\"blk 123\"");
  EXPECT_EQ(Canon("time*"), "time*");
  EXPECT_EQ(Canon("*"), "*");
  EXPECT_EQ(Canon(""), "*");
  EXPECT_EQ(Canon("NOT NOT a"), "a");
}

TEST(Parser, Pipes) {
  EXPECT_EQ(Canon("level=ERROR | count by bucket(1m), level"),
            "level=ERROR | count by bucket(1m), level");
  EXPECT_EQ(Canon("| count"), "* | count");
  EXPECT_EQ(Canon("x | top 3 service"), "x | top 3 service");
  EXPECT_EQ(Canon("x | top service"), "x | top 10 service");
  EXPECT_EQ(Canon("x | count by service | sort by count desc | head 5"),
            "x | count by service | sort by count desc | head 5");
  EXPECT_EQ(Canon("x|fields ts,service,message"), "x | fields ts, service, message");
  EXPECT_EQ(Canon("x | uniq host"), "x | uniq host");
}

TEST(Parser, ErrorsNameThePosition) {
  EXPECT_EQ(ErrorOf("service="), "expected a value after '=' at 1:9");
  EXPECT_EQ(ErrorOf("service= "), "expected a value after '=' at 1:9");
  EXPECT_EQ(ErrorOf("service = | count"), "expected a value after '=' at 1:10");
  EXPECT_EQ(ErrorOf("service= level=ERROR"),
            "expected a value after '='; 'level=ERROR' is another filter at 1:9");
  EXPECT_EQ(ErrorOf("(level=ERROR"), "missing ')' to close the '(' at 1:1");
  EXPECT_EQ(ErrorOf("a=1 (b=2"), "missing ')' to close the '(' at 1:5");
  EXPECT_EQ(ErrorOf("a=1)"), "unexpected ')' with no '(' to close at 1:4");
  EXPECT_EQ(ErrorOf("\"abc"), "unterminated string at 1:1");
  EXPECT_EQ(
      ErrorOf("a | frobnicate"),
      "unknown pipe 'frobnicate'; expected count, bytes, top, uniq, fields, head or sort at 1:5");
  EXPECT_EQ(ErrorOf("a | head x"), "expected a positive number after 'head' at 1:10");
  EXPECT_EQ(ErrorOf("a | head 0"), "expected a positive number after 'head' at 1:10");
  EXPECT_EQ(ErrorOf("level=LOUD"),
            "unknown level 'LOUD'; expected TRACE, DEBUG, INFO, WARN, ERROR, FATAL or UNKNOWN at "
            "1:7");
  EXPECT_EQ(ErrorOf("message~\"(a\""), "invalid regular expression '(a': missing ): (a at 1:9");
  EXPECT_EQ(ErrorOf("a OR"), "expected a filter after OR at 1:5");
  EXPECT_EQ(ErrorOf("NOT"), "expected a filter after NOT at 1:4");
  EXPECT_EQ(ErrorOf("a AND OR b"), "expected a filter after AND at 1:7");
  EXPECT_EQ(ErrorOf("a ! b"), "unexpected '!' (use '!=' or NOT) at 1:3");
  EXPECT_EQ(ErrorOf("()"), "empty parentheses at 1:1");
  EXPECT_EQ(ErrorOf("x | count by bucket(7)"),
            "expected a duration like 1m, 5m or 1h in bucket(...) at 1:21");
  EXPECT_EQ(ErrorOf("x | sort by count"),
            "sort needs count, top or uniq before it (hits are always newest first) at 1:5");
  EXPECT_EQ(ErrorOf("x | count | top service"),
            "only one of count, bytes, top and uniq may appear in a query at 1:13");
  EXPECT_EQ(ErrorOf("x | head 5 | count"),
            "head before count, top or uniq has no effect; put it after at 1:5");
  EXPECT_EQ(ErrorOf("x | fields a | top a"),
            "fields before count, top or uniq has no effect; put it after at 1:5");
  EXPECT_EQ(ErrorOf("\"...\""), "phrase \"...\" has no letters or digits to search for at 1:1");
  EXPECT_EQ(ErrorOf("ts>yesterday"),
            "expected a time (RFC 3339 or epoch) after '>', got 'yesterday' at 1:4");
  EXPECT_EQ(ErrorOf("a=1\nb="), "expected a value after '=' at 2:3");
}

TEST(Parser, DeepNestingAndHugeQueriesAreRejectedNotCrashing) {
  std::string deep(5000, '(');
  deep += "a";
  deep += std::string(5000, ')');
  EXPECT_EQ(ErrorOf(deep), "nesting deeper than 100 levels of NOT and parentheses at 1:101");
  std::string nots;
  for (int i = 0; i < 200; ++i) nots += "NOT ";
  EXPECT_EQ(ErrorOf(nots + "a"), "nesting deeper than 100 levels of NOT and parentheses at 1:401");
  EXPECT_EQ(ErrorOf("message:" + std::string(300, '*')),
            "a wildcard pattern may be at most 256 bytes long; use ~ with a regular expression "
            "instead at 1:9");
  std::string globs;
  for (int i = 0; i < 5; ++i) globs += " message:" + std::string(250, '*') + "x";
  EXPECT_EQ(ErrorOf(globs),
            "the query's wildcard patterns are 1255 bytes long together; at most 1024 are allowed "
            "at 1:" +
                std::to_string(globs.rfind(':') + 2));
  std::string huge(70000, 'a');
  EXPECT_EQ(ErrorOf(huge), "the query is 70000 bytes long; at most 32768 are allowed at 1:1");
  std::string wide;
  for (int i = 0; i < 600; ++i) wide += "(a OR b) ";
  EXPECT_EQ(Canon(wide).substr(0, 20), "(a OR b) AND (a OR b");
}

// The filter's size bounds the evaluator's work per row: too many terms is a clear error at the
// term that crossed the limit, not a query that runs for minutes.
TEST(Parser, TooManyTermsOrAlternativesAreRefusedWithThePosition) {
  std::string ors = "w0";
  for (int i = 1; i < 1001; ++i) ors += " OR w" + std::to_string(i);
  size_t at = ors.find("w1000");
  EXPECT_EQ(ErrorOf(ors),
            "more than 1000 alternatives in one OR; use fewer (a field prefix like "
            "service=pay* or a regular expression can replace a long OR list) at 1:" +
                std::to_string(at + 1));
  EXPECT_EQ(ErrorOf("(" + ors.substr(0, at - 4) + ") OR w1000 OR x").substr(0, 35),
            "more than 1000 alternatives in one ")
      << "nested ORs are flattened before they are counted";
  ors.resize(at - 4);  // exactly 1000 alternatives
  EXPECT_EQ(Canon(ors).substr(0, 12), "w0 OR w1 OR ");
  std::string terms;
  for (int i = 0; i < 700; ++i) terms += "(a" + std::to_string(i) + " OR b) ";
  std::string error = ErrorOf(terms);
  EXPECT_EQ(error.substr(0, 55), "the filter has more than 2000 terms and operators; use ");
  // The 2001st node is the 667th group's OR (a, b, OR per group: 3 * 667 = 2001).
  EXPECT_NE(error.find(" at 1:" + std::to_string(terms.find("(a666 ") + 2)), std::string::npos)
      << error;
}

// Like the regex of the incident: 3,000 alternatives with nested quantifiers, 30 KB. RE2 runs it
// in linear time but with a huge program per byte; it is refused before it runs.
TEST(Parser, PathologicalRegexesAreRefusedWithTheLimitAndPosition) {
  std::string alts;
  for (int i = 0; i < 3000; ++i) alts += (i ? "|" : "") + ("(b" + std::to_string(i) + "+c)+");
  std::string error = ErrorOf("service=api message~\"" + alts + "\"");
  EXPECT_EQ(error,
            "the regular expression '(b0+c)+|(b1+c)+|(b2+c)+|(b3+c)+|(b4+c)+|(b5+c)+|(b6+c)+|"
            "(b7+...' (" +
                std::to_string(alts.size()) +
                " bytes) has 3000 alternatives ('|'); at most 1000 are allowed at 1:21");
  // Fewer alternatives, each compiling to a big program.
  std::string big;
  for (int i = 0; i < 400; ++i) big += (i ? "|" : "") + ("(a" + std::to_string(i) + "(b+c*)+)+d");
  error = ErrorOf("message~\"" + big + "\"");
  EXPECT_NE(error.find("compiles to 6"), std::string::npos) << error;
  EXPECT_NE(error.find("instructions; at most 5000 are allowed"), std::string::npos) << error;
  EXPECT_EQ(error.substr(error.size() - 7), " at 1:9");
  // Large repetitions are what RE2's memory limit is for.
  error = ErrorOf("message~\"((((a{100}){100}){100}){100})\"");
  EXPECT_EQ(error.substr(0, 36), "invalid regular expression '((((a{10") << error;
  EXPECT_EQ(ErrorOf("message~\"\\\\pL{1000}\""),
            "the regular expression '\\pL{1000}' is too large: it does not fit the 8 MiB memory "
            "limit of a compiled regular expression at 1:9");
  // Two regexes that each fit but not together.
  std::string half;
  for (int i = 0; i < 250; ++i) half += (i ? "|" : "") + ("(a" + std::to_string(i) + "(b+c*)+)+d");
  std::string pair =
      "message~\"" + half + "\" OR message~\"x" + half + "\" OR host~\"" + half + "\"";
  error = ErrorOf(pair);
  EXPECT_NE(error.find("the query's regular expressions compile to"), std::string::npos) << error;
  EXPECT_NE(error.find("at most 10000 are allowed at 1:" + std::to_string(pair.find("host~") + 6)),
            std::string::npos)
      << error;
  // Each regex has its own RE2 memory: their number is bounded too.
  std::string many = "message~a0";
  for (int i = 1; i < 17; ++i) many += " OR message~a" + std::to_string(i);
  EXPECT_EQ(ErrorOf(many),
            "more than 16 regular expressions in one query; combine them into one with '|' at 1:" +
                std::to_string(many.find("~a16") + 2));
  many.resize(many.find(" OR message~a16"));
  EXPECT_EQ(Canon(many).substr(0, 28), "message~\"a0\" OR message~\"a1\"");
  // Real-world regexes are far inside the limits; '|' inside a class or escaped is no
  // alternative.
  EXPECT_EQ(Canon("message~\"(?i)(error|fail(ed|ure)?|timeout|refused)\""),
            "message~\"(?i)(error|fail(ed|ure)?|timeout|refused)\"");
  std::string classes = "message~\"";
  for (int i = 0; i < 1200; ++i) classes += "[|]";
  classes += "\"";
  Query q;
  ParseError pe;
  EXPECT_TRUE(Parse(classes, &q, &pe)) << pe.message;
}

TEST(Parser, PrettyEchoesTheQueryWithACaret) {
  Result<Query> r = ParseQuery("service=payments level=");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "expected a value after '=' at 1:24\nservice=payments level=\n"
            "                       ^");
  Result<Query> multi = ParseQuery("a=1\nb=");
  ASSERT_FALSE(multi.ok());
  EXPECT_EQ(multi.status().message(), "expected a value after '=' at 2:3\nb=\n  ^");
}

TEST(CompileFilter, RejectsPipes) {
  auto m = CompileFilter("level=ERROR | count");
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.status().IsInvalidArgument());
  EXPECT_NE(m.status().message().find("at 1:13"), std::string::npos) << m.status().message();
  auto quoted = CompileFilter("message=\"a|b\"\n | count");
  ASSERT_FALSE(quoted.ok());
  EXPECT_EQ(quoted.status().message(),
            "pipes are not allowed here (live tail takes a filter only) at 2:2\n | count\n ^");
}

TEST(CompileFilter, MatchesRecords) {
  auto m = CompileFilter("service=payments level>=WARN timeout");
  ASSERT_TRUE(m.ok()) << m.status().message();
  Record r;
  r.service = "payments";
  r.level = Level::kError;
  r.message = "upstream Timeout after 3s";
  EXPECT_TRUE((*m)->Matches(r));
  r.level = Level::kInfo;
  EXPECT_FALSE((*m)->Matches(r));
}

}  // namespace
}  // namespace sawmill::query
