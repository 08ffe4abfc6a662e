// LogQL, the query language of Grafana Loki, translated into Sawmill's own query language: a
// LogQL log query becomes a native filter (run by query::QueryEngine like any search), a metric
// query becomes a native "count by bucket_end(...)" (or "bytes by ...") aggregation whose rows are
// then folded into Loki's windows and vector aggregations here. There is no second engine: what
// a LogQL query matches is exactly what its native translation matches. The subset and the
// label <-> field mapping are written down in docs/loki-api.md; anything outside it is an
// InvalidArgument naming the construct and its position, never a different answer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "query/query_engine.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::logql {

using Labels = std::map<std::string, std::string>;

// The Sawmill field a Loki label name stands for: service_name -> service, detected_level ->
// level; every other name is the field of that name (dynamic fields included).
std::string FieldOfLabel(std::string_view label);

// A Go-template subset: literal text and {{ .name }} / {{ __line__ }} actions.
struct Template {
  struct Piece {
    bool is_field = false;
    std::string text;  // literal text, or the label name ("__line__": the line)
  };
  std::vector<Piece> pieces;
};

// One "| line_format" or "| label_format" stage.
struct FormatStage {
  bool line = false;
  Template line_template;
  struct LabelAssign {
    std::string dst;
    bool rename = false;  // dst=src: the label src renamed to dst
    std::string src;
    Template value;  // dst="template"
  };
  std::vector<LabelAssign> labels;
};

// A log query: stream selector plus pipeline, translated.
struct LogQuery {
  std::string native;   // the native filter ("*" when everything matches)
  bool parsed = false;  // "| json" or "| logfmt": every field is a label of the stream
  std::vector<FormatStage> formats;
};

enum class RangeFn { kCountOverTime, kRate, kBytesOverTime, kBytesRate };
enum class VectorOp { kSum, kAvg, kMin, kMax, kCount, kTopk, kBottomk };

struct Grouping {
  bool present = false;
  bool without = false;
  std::vector<std::string> labels;  // as the query names them
};

struct MetricNode {
  bool is_range = true;
  // Range aggregation: fn(log [range]).
  RangeFn fn = RangeFn::kCountOverTime;
  int64_t range_ns = 0;
  LogQuery log;
  // Vector aggregation: op by|without (...) ([k,] child).
  VectorOp op = VectorOp::kSum;
  Grouping grouping;
  int64_t k = 0;
  std::shared_ptr<const MetricNode> child;
};

struct Expr {
  bool is_metric = false;
  LogQuery log;                              // !is_metric
  std::shared_ptr<const MetricNode> metric;  // is_metric
};

// Errors: InvalidArgument "logql: <what> at 1:COL" (syntax, or a construct outside the subset).
Result<Expr> Parse(std::string_view text);

// Only a stream selector and line/label filters (no formatting, no metrics): /series match[],
// /index/*, the label endpoints' "query". Errors as Parse.
struct Selector {
  std::string native;               // the native filter ("*" when everything matches)
  std::vector<std::string> labels;  // the label names of the stream matchers, in order
};
Result<Selector> ParseSelector(std::string_view text);

// The labels of a record's stream: service, host and level (lower case) when set; with
// "parsed" also trace_id, span_id, user_id and every dynamic field.
Labels StreamLabels(const Record& record, bool parsed);

// The stream labels and the line of "record" after the query's formatting stages.
void FormatEntry(const LogQuery& log, const Record& record, Labels* labels, std::string* line);

// A metric query's native side: the native aggregation to run and how its rows are read.
struct MetricPlan {
  std::string native;               // "<filter> | count by bucket_end(G), f1, f2..."
  std::vector<std::string> fields;  // the group fields, in the rows' order (after bucket)
  int64_t bucket_ns = 0;            // G
  int64_t from_ns = 0;              // native range [from, to)
  int64_t to_ns = 0;
  int64_t start_ns = 0;  // the evaluation steps start, start+step, ..., <= end
  int64_t end_ns = 0;
  int64_t step_ns = 0;
};

// At most this many points per series (start..end by step), like Loki's 11,000.
inline constexpr int64_t kMaxPoints = 11'000;

// Plans "expr" (REQUIRES: is_metric) over the steps start, start+step, ..., end (an instant
// query: start == end). Errors: InvalidArgument (more than kMaxPoints steps, more than
// query::kMaxBuckets native buckets, a range or step finer than a second).
Result<MetricPlan> PlanMetric(const Expr& expr, int64_t start_ns, int64_t end_ns, int64_t step_ns);

struct Series {
  Labels metric;
  std::vector<std::pair<int64_t, double>> points;  // (step time ns, value), ascending
};

// Folds the native rows into Loki's result: windows (t - range, t] of each step t, then the
// vector aggregations. Series in a stable order (by labels).
Result<std::vector<Series>> EvaluateMetric(const Expr& expr, const MetricPlan& plan,
                                           const std::vector<query::Row>& rows);

// "5m", "1h30m", "500ms", "1d", "2w" -> ns: a Prometheus duration, as LogQL ranges and Loki's
// step parameter are written. nullopt for anything else.
std::optional<int64_t> ParsePromDuration(std::string_view text);

// "12", "0.5", "1e+06": a sample value as Loki writes it.
std::string FormatSample(double value);

}  // namespace sawmill::logql
