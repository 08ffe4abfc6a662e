#include "logql/logql.h"

#include <gtest/gtest.h>

#include "logql/patterns.h"
#include "query/evaluator.h"
#include "query/parser.h"
#include "query/units.h"

namespace sawmill::logql {
namespace {

std::string Native(std::string_view logql) {
  auto e = Parse(logql);
  EXPECT_TRUE(e.ok()) << logql << ": " << e.status().ToString();
  if (!e.ok()) return "";
  EXPECT_FALSE(e->is_metric);
  // Every translation is a valid native query.
  auto native = query::ParseQuery(e->log.native);
  EXPECT_TRUE(native.ok()) << e->log.native << ": " << native.status().ToString();
  return e->log.native;
}

std::string Error(std::string_view logql) {
  auto e = Parse(logql);
  EXPECT_FALSE(e.ok()) << logql;
  return e.ok() ? "" : e.status().message();
}

TEST(Logql, StreamSelectorsTranslateToFieldFilters) {
  EXPECT_EQ(Native(R"({service="api"})"), R"(service="api")");
  EXPECT_EQ(Native(R"({service_name="api", host!="web 1"})"),
            R"((service="api") AND (NOT (host="web 1")))");
  EXPECT_EQ(Native(R"({level="warning"})"), "level=WARN");
  EXPECT_EQ(Native(R"({level=~"err.*"})"), R"(level~"(?i)^(?:err.*)$")");
  EXPECT_EQ(Native(R"({app=""})"), "NOT app=*");
  // A regex that matches "" also matches lines without the field.
  EXPECT_EQ(Native(R"({app=~"a|"})"), R"((app~"^(?:a|)$") OR NOT app=*)");
  EXPECT_EQ(Native(R"({app!~"x\\d"})"), R"(NOT (app~"^(?:x\\d)$"))");
  EXPECT_EQ(Native("{}"), "*");
}

TEST(Logql, LineFiltersAreSubstringsAndRegexesOfTheMessage) {
  EXPECT_EQ(Native(R"({a="b"} |= "x.y" != "z")"),
            R"((a="b") AND (message~"x\\.y") AND (NOT (message~"z")))");
  EXPECT_EQ(Native(R"({a="b"} |~ "(?i)err" or "fail")"),
            R"((a="b") AND ((message~"(?i)err") OR (message~"fail")))");
  EXPECT_EQ(Native(R"({a="b"} |= "")"), R"(a="b")");
  EXPECT_EQ(Native(R"({a="b"} |= `quote"d`)"), R"((a="b") AND (message~"quote\\\"d"))");
}

TEST(Logql, LabelFilters) {
  EXPECT_EQ(Native(R"({a="b"} | json | status >= 500 and method="POST")"),
            R"((a="b") AND ((status>=500) AND (method="POST")))");
  EXPECT_EQ(Native(R"({a="b"} | logfmt | status == 404 or level="error")"),
            R"((a="b") AND ((status>=404 AND status<=404) OR (level=ERROR)))");
  EXPECT_EQ(Native(R"({a="b"} | json | __error__="")"), R"(a="b")");
}

TEST(Logql, MetricQueriesParse) {
  auto e = Parse(R"(topk(3, sum by (service) (rate({a="b"} |= "x" [5m]))))");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_TRUE(e->is_metric);
  EXPECT_EQ(e->metric->op, VectorOp::kTopk);
  EXPECT_EQ(e->metric->k, 3);
  auto plan = PlanMetric(*e, 1'000'000'000'000, 2'000'000'000'000, 60'000'000'000);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->native,
            R"((a="b") AND (message~"x") | count by bucket_end(1m), service, host, level)");
  // Windows (t - 5m, t] for every step t: the native range (start - 5m, end].
  EXPECT_EQ(plan->from_ns, plan->start_ns - 300'000'000'000 + 1);
  EXPECT_EQ(plan->to_ns, plan->end_ns + 1);
  auto bytes = Parse(R"(sum(bytes_over_time({a="b"}[1m])))");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(PlanMetric(*bytes, 0, 0, 0)->native, R"(a="b" | bytes by service, host, level)");
  // The legacy form with the range right after the selector.
  EXPECT_TRUE(Parse(R"(count_over_time({a="b"}[1h] |= "x"))").ok());
}

TEST(Logql, OutsideTheSubsetNamesTheConstructAndThePosition) {
  EXPECT_EQ(Error(R"({a="b"} | unwrap x)"),
            "logql: the '| unwrap' stage is not supported by Sawmill's LogQL (see "
            "docs/loki-api.md) at 1:11");
  EXPECT_NE(Error(R"(quantile_over_time(0.9, {a="b"}[1m]))").find("'quantile_over_time'"),
            std::string::npos);
  EXPECT_NE(Error("{a=\"b\"}\n  | x > 5XB").find("at 2:9"), std::string::npos);
  EXPECT_NE(Error(R"({a="b"} | x > 5XB)").find("a duration (like 10s or 1h30m) or a byte size"),
            std::string::npos);
  EXPECT_NE(Error(R"({a="b"} |~ "(")").find("invalid regular expression"), std::string::npos);
  EXPECT_NE(Error(R"({a="b"} | line_format "x" |= "y")").find("after line_format"),
            std::string::npos);
  EXPECT_NE(Error(R"(sum({a="b"}))").find("expected a metric expression"), std::string::npos);
  EXPECT_NE(Error(R"(count_over_time({a="b"}[5m] offset 1h))").find("offset"), std::string::npos);
}

TEST(Logql, FormatStages) {
  auto e = Parse(
      R"({a="b"} | line_format "{{.host}}/{{ .line_id }} {{__line__}}" | label_format h=host, x="<{{.service}}>")");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  Record r;
  r.service = "api";
  r.host = "web-1";
  r.level = Level::kError;
  r.message = "boom";
  r.fields.emplace_back("line_id", "7");
  Labels labels;
  std::string line;
  FormatEntry(e->log, r, &labels, &line);
  EXPECT_EQ(line, "web-1/7 boom");
  EXPECT_EQ(labels,
            (Labels{{"h", "web-1"}, {"level", "error"}, {"service", "api"}, {"x", "<api>"}}));
}

TEST(Logql, DurationAndByteSizeLabelFiltersBecomeNativeComparisonsOfThatKind) {
  EXPECT_EQ(Native(R"({a="b"} | logfmt | duration > 10s)"), R"((a="b") AND (duration>"10s"))");
  EXPECT_EQ(Native(R"({a="b"} | size >= 1KiB and took < 1h30m)"),
            R"((a="b") AND ((size>="1KiB") AND (took<"1h30m")))");
  EXPECT_EQ(Native(R"({a="b"} | took == 250ms)"),
            R"((a="b") AND (took>="250ms" AND took<="250ms"))");
  // As Loki parses them: Go durations, go-humanize byte sizes.
  EXPECT_EQ(query::ParseGoDuration("1h30m"), 5400.0);
  EXPECT_EQ(query::ParseGoDuration("1.5s"), 1.5);
  EXPECT_EQ(query::ParseGoDuration("250ms"), 0.25);
  EXPECT_EQ(query::ParseGoDuration("-2m"), -120.0);
  EXPECT_EQ(query::ParseGoDuration("0"), 0.0);
  EXPECT_EQ(query::ParseGoDuration("3us"), 3e-6);
  EXPECT_FALSE(query::ParseGoDuration("10").has_value());  // Go: "missing unit in duration"
  EXPECT_FALSE(query::ParseGoDuration("5x").has_value());
  EXPECT_FALSE(query::ParseGoDuration("1h-30m").has_value());
  EXPECT_FALSE(query::ParseGoDuration("").has_value());
  EXPECT_EQ(query::ParseByteSize("1KB"), 1000.0);
  EXPECT_EQ(query::ParseByteSize("1KiB"), 1024.0);
  EXPECT_EQ(query::ParseByteSize("1kib"), 1024.0);
  EXPECT_EQ(query::ParseByteSize("2 MB"), 2e6);
  EXPECT_EQ(query::ParseByteSize("1,024"), 1024.0);
  EXPECT_EQ(query::ParseByteSize("1.5k"), 1500.0);
  EXPECT_EQ(query::ParseByteSize("512"), 512.0);
  EXPECT_EQ(query::ParseByteSize("3B"), 3.0);
  EXPECT_FALSE(query::ParseByteSize("1XB").has_value());
  EXPECT_FALSE(query::ParseByteSize("KB").has_value());
  EXPECT_FALSE(query::ParseByteSize("").has_value());
  // The native evaluator compares values of the literal's kind; other values do not match.
  auto matches = [](std::string_view q, std::string field, std::string value) {
    auto parsed = query::ParseQuery(q);
    EXPECT_TRUE(parsed.ok()) << q;
    Record r;
    r.fields.emplace_back(std::move(field), std::move(value));
    return parsed.ok() && query::Evaluate(*parsed->filter, r);
  };
  EXPECT_TRUE(matches(R"(took>"10s")", "took", "1m"));
  EXPECT_TRUE(matches(R"(took>"10s")", "took", "10.5s"));
  EXPECT_FALSE(matches(R"(took>"10s")", "took", "9999ms"));
  EXPECT_FALSE(matches(R"(took>"10s")", "took", "20"));  // no unit: not a duration
  EXPECT_FALSE(matches(R"(took>"10s")", "took", "slow"));
  EXPECT_TRUE(matches(R"(size>="1KiB")", "size", "1024"));
  EXPECT_FALSE(matches(R"(size>="1KiB")", "size", "1KB"));
  EXPECT_TRUE(matches(R"(size<"1MB")", "size", "999.9 kB"));
}

TEST(Patterns, VariablePartsBecomeOnePlaceholder) {
  EXPECT_EQ(PatternOf("GET /api/v1/users/42 took 15ms"), "GET <_> took <_>");
  EXPECT_EQ(PatternOf("GET /api/v1/users/7 took 3ms"), "GET <_> took <_>");
  EXPECT_EQ(PatternOf(R"(level=info msg="user logged in" user=42 path=/health)"),
            "level=info msg=<_> user=<_> path=/health");
  EXPECT_EQ(PatternOf("connected to 10.0.0.1 port 22 as root"),
            "connected to <_> port <_> as root");
  EXPECT_EQ(PatternOf("a 1 2 3 b"), "a <_> b");  // a run of variables is one <_>
  EXPECT_EQ(PatternOf("  spaced\tout  "), "spaced out");
  EXPECT_EQ(PatternOf(""), "");
  EXPECT_EQ(PatternOf(std::string(10000, 'a')).size(), kMaxPatternLineBytes);
}

TEST(Patterns, TableCountsPerStepAndIsBounded) {
  PatternTable table(/*start_ns=*/1000, /*step_ns=*/100, /*max_patterns=*/2);
  table.Add("user 1 in", 1000);
  table.Add("user 2 in", 1099);
  table.Add("user 3 in", 1100);
  table.Add("disk full", 1250);
  table.Add("other 9 thing", 1300);  // a third pattern: not tracked, counted as dropped
  auto patterns = table.Patterns();
  ASSERT_EQ(patterns.size(), 2u);
  EXPECT_EQ(patterns[0].pattern, "user <_> in");
  EXPECT_EQ(patterns[0].total, 3);
  EXPECT_EQ(patterns[0].samples, (std::map<int64_t, int64_t>{{1000, 2}, {1100, 1}}));
  EXPECT_EQ(patterns[1].pattern, "disk full");
  EXPECT_EQ(patterns[1].samples, (std::map<int64_t, int64_t>{{1200, 1}}));
  EXPECT_EQ(table.dropped_lines(), 1);
}

TEST(Logql, DurationsAndSamples) {
  EXPECT_EQ(ParsePromDuration("1h30m"), 5'400'000'000'000);
  EXPECT_EQ(ParsePromDuration("500ms"), 500'000'000);
  EXPECT_FALSE(ParsePromDuration("5").has_value());
  EXPECT_FALSE(ParsePromDuration("5x").has_value());
  EXPECT_EQ(FormatSample(12), "12");
  EXPECT_EQ(FormatSample(0.5), "0.5");
}

}  // namespace
}  // namespace sawmill::logql
