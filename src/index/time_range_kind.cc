// Index kind "time_range": per row block, the smallest and largest ts and ingest_ts, so a query
// over a time range skips the blocks outside it.
//
// It stores nothing of its own (IndexLayout::kBlockList): the ranges are the block list of the
// footer (block_info: rows min_ts max_ts min_ingest_ts max_ingest_ts), which every segment
// format version has and which the writer fills for every block. Answers BlockMayMatch for
// kTimeWithin on "ts" or "ingest_ts".
#include "index/index_kind.h"

namespace sawmill::index {

namespace {

bool Answers(const FieldPredicate& p) {
  return p.op == FieldPredicate::Op::kTimeWithin && p.builtin &&
         (p.field == "ts" || p.field == "ingest_ts");
}

class TimeRangeView final : public IndexView {
 public:
  explicit TimeRangeView(std::shared_ptr<const IndexSource> source) : source_(std::move(source)) {}

  Result<bool> BlockMayMatch(uint32_t block, const FieldPredicate& p) const override {
    if (!Answers(p) || block >= source_->block_count()) return true;
    IndexSource::BlockTimes t = source_->Times(block);
    const bool ts = p.field == "ts";
    const int64_t lo = ts ? t.min_ts : t.min_ingest_ts;
    const int64_t hi = ts ? t.max_ts : t.max_ingest_ts;
    return hi >= p.from_ns && lo < p.to_ns;
  }

 private:
  std::shared_ptr<const IndexSource> source_;
};

Result<std::unique_ptr<IndexView>> Open(std::shared_ptr<const IndexSource> source) {
  return std::unique_ptr<IndexView>(std::make_unique<TimeRangeView>(std::move(source)));
}

}  // namespace

extern const IndexKind kTimeRangeKind;
const IndexKind kTimeRangeKind{"time_range", 1,    IndexLayout::kBlockList, false, &Answers,
                               nullptr,      &Open};

}  // namespace sawmill::index
