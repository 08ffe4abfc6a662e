// Encoding::kPermutedRuns (format version 14): an int64 column block of distinct values (seq)
// stored as the values ascending and the permutation that puts them in row order, cut into
// runs of rows that each hold an interval of the values' ranks.
//
//   body := values_size(varint) values run_count(varint) run*run_count digits
//   values := one complete kDelta int block of the "count" values, ascending, distinct
//   run := length(varint >= 1) start(zigzag varint)
//   runs: consecutive rows; run r holds, in some order, the values of ranks [lo_r, lo_r + k_r)
//         of "values" (k_r its length), lo_r = lo_{r-1} + k_{r-1} + start_r (lo_{-1} + k_{-1} =
//         0): a run that takes up where the one before it ended stores 0. The runs' lengths add
//         up to count and their intervals cover the ranks once.
//   digits: for each run of k >= 2 rows, its Lehmer code: for the run's row i (0 <= i < k - 1),
//         d_i = how many of the run's values not held by an earlier row of the run are smaller
//         than row i's (0 <= d_i < k - i; the last row's digit is always 0 and not stored).
//         Each run's digits, in order, are taken in groups: a group takes the run's next digits
//         while the product P of their radices (k - i) stays at most 2^63 (a group never spans
//         two runs); its value ((d_a x r_a+1 + d_a+1) x r_a+2 + d_a+2 ...) < P is written in
//         bit_width(P - 1) bits. The groups' bits follow each other least significant bit
//         first, from the low bit of the first byte; the last byte's unused high bits are 0.
//
// Rows are written sorted by (service, host, ts, seq) (segment_writer.cc SortedOrder), so a
// source whose lines arrive out of time order (elastic_apache_access: each minute's lines in
// random order) stores its seq as a permutation within each stretch of time: a run. A run of k
// rows costs about log2(k!) bits, where zstd of the deltas cost about two bytes a row
// (docs/performance.md "Session 16: disk"). The writer cuts runs greedily (CutRuns); any cut
// reads back. The chooser (EncodeSeqColumn in column_encoding.cc) keeps the block only where
// zstd makes it smaller than kDelta.
#include <algorithm>
#include <bit>

#include "common/coding.h"
#include "segment/column_encoding.h"
#include "segment/mixed_radix_groups.h"

namespace sawmill::segment {

namespace {

// A Fenwick tree over the k ranks of a run: which are still free, the i-th free one.
class FreeRanks {
 public:
  void Reset(size_t k) {
    tree_.assign(k + 1, 0);
    for (size_t i = 1; i <= k; ++i) {
      tree_[i] += 1;
      const size_t parent = i + (i & (~i + 1));
      if (parent <= k) tree_[parent] += tree_[i];
    }
    top_ = std::bit_floor(k);
  }
  // How many free ranks are below "rank".
  uint32_t Below(size_t rank) const {
    uint32_t n = 0;
    for (size_t i = rank; i > 0; i &= i - 1) n += tree_[i];
    return n;
  }
  void Take(size_t rank) {
    for (size_t i = rank + 1; i < tree_.size(); i += i & (~i + 1)) --tree_[i];
  }
  // The rank of the "nth" (from 0) free rank; REQUIRES: nth < the free count.
  size_t Nth(uint32_t nth) const {
    size_t at = 0;
    for (size_t step = top_; step > 0; step >>= 1) {
      if (at + step < tree_.size() && tree_[at + step] <= nth) {
        at += step;
        nth -= tree_[at];
      }
    }
    return at;
  }

 private:
  std::vector<uint32_t> tree_;
  size_t top_ = 0;
};

// Groups of digits as the format says (mixed_radix_groups.h), read bit by bit.
class GroupReader {
 public:
  explicit GroupReader(std::string_view bits) : bits_(bits) {}
  bool Done() const { return bits_.Done(); }
  // The k - 1 digits of a run of k rows (radices k, k - 1, ..., 2) into "digits"; false when
  // the bits end early or a group's value is not below its product.
  bool Run(uint64_t k, std::vector<uint64_t>* digits) {
    digits->clear();
    uint64_t radix = k;
    while (radix >= 2) {
      uint64_t product = 1;
      const uint64_t from = radix;
      while (radix >= 2 && product <= kMaxGroupProduct / radix) product *= radix--;
      uint64_t value;
      if (!bits_.Take(std::bit_width(product - 1), &value) || value >= product) return false;
      // value = ((d_from x r + d) x r' + ...): the last digit is value mod the last radix.
      const size_t at = digits->size();
      digits->resize(at + (from - radix));
      for (uint64_t r = radix + 1, i = digits->size(); r <= from; ++r) {
        (*digits)[--i] = value % r;
        value /= r;
      }
    }
    return true;
  }

 private:
  MixedRadixBits bits_;
};

Status DecodePermutedRuns(std::string_view body, size_t count, std::vector<int64_t>* out) {
  std::vector<int64_t> values;
  RETURN_IF_ERROR(TakeAscendingValues(&body, count, "permuted-runs column", &values));
  if (values.size() != count) {
    return Status::DataLoss("permuted-runs column: " + std::to_string(values.size()) +
                            " values for " + std::to_string(count) + " rows");
  }
  uint64_t run_count;
  if (!GetVarint64(&body, &run_count) || run_count > count) {
    return Status::DataLoss("permuted-runs column: bad run count");
  }
  struct Run {
    uint64_t k, lo;
  };
  std::vector<Run> runs(run_count);
  std::vector<bool> taken(count);
  uint64_t total = 0, next = 0;
  for (Run& run : runs) {
    uint64_t start;
    if (!GetVarint64(&body, &run.k) || run.k == 0 || run.k > count - total ||
        !GetVarint64(&body, &start)) {
      return Status::DataLoss("permuted-runs column: bad run length after row " +
                              std::to_string(total));
    }
    run.lo = next + static_cast<uint64_t>(ZigZagDecode(start));
    if (run.lo >= count || run.k > count - run.lo) {
      return Status::DataLoss("permuted-runs column: the run at row " + std::to_string(total) +
                              " holds ranks past the " + std::to_string(count) + " values");
    }
    for (uint64_t rank = run.lo; rank < run.lo + run.k; ++rank) {
      if (taken[rank]) {
        return Status::DataLoss("permuted-runs column: the run at row " + std::to_string(total) +
                                " holds rank " + std::to_string(rank) + " of an earlier run");
      }
      taken[rank] = true;
    }
    next = run.lo + run.k;
    total += run.k;
  }
  if (total != count) {
    return Status::DataLoss("permuted-runs column: runs hold " + std::to_string(total) + " of " +
                            std::to_string(count) + " rows");
  }
  const size_t base = out->size();
  out->resize(base + count);
  GroupReader reader(body);
  FreeRanks free;
  std::vector<uint64_t> digits;
  size_t first = 0;
  for (const Run& run : runs) {
    const uint64_t k = run.k;
    if (!reader.Run(k, &digits)) {
      out->resize(base);
      return Status::DataLoss("permuted-runs column: the permutation ends in the run at row " +
                              std::to_string(first));
    }
    free.Reset(k);
    for (size_t i = 0; i < k; ++i) {
      const uint64_t d = i + 1 < k ? digits[i] : 0;
      const size_t rank = free.Nth(static_cast<uint32_t>(d));
      free.Take(rank);
      (*out)[base + first + i] = values[run.lo + rank];
    }
    first += k;
  }
  if (!reader.Done()) {
    out->resize(base);
    return Status::DataLoss("permuted-runs column: bytes after the permutation");
  }
  return Status::OK();
}

// How far CutRuns looks for the end of a run, and the longest run it prefers to continue one.
constexpr size_t kRunLookahead = 1024;
constexpr size_t kMaxContinuedRun = 512;

struct RunCut {
  size_t rows;
  uint32_t lo;  // its lowest rank
};

// Cuts the rows (their ranks) into runs, each an interval of ranks. From each run's first row:
// the first end where the rows so far hold exactly the ranks that follow the previous run's
// (rows sorted by time that arrived shuffled within stretches: apache's minutes), within
// kMaxContinuedRun rows; else the first end after two rows or more where they hold some
// interval (a stretch that arrived in another request); else the row alone. Stops looking when
// the ranks seen span more than the lookahead could close.
std::vector<RunCut> CutRuns(const std::vector<uint32_t>& rank) {
  std::vector<RunCut> runs;
  const size_t n = rank.size();
  uint32_t expected = 0;
  for (size_t a = 0; a < n;) {
    uint32_t low = rank[a], high = rank[a];
    size_t continued = 0, any = 0;  // 0: none found (a run ends after row a at the earliest)
    const size_t limit = std::min(n, a + kRunLookahead);
    for (size_t j = a + 1; j < limit; ++j) {
      low = std::min(low, rank[j]);
      high = std::max(high, rank[j]);
      const size_t rows = j - a + 1;
      if (high - low + 1 == rows) {
        if (low == expected && rows <= kMaxContinuedRun) {
          continued = j;
          break;
        }
        if (any == 0) any = j;
      }
      // The holes left can no longer fill within the lookahead.
      if (high - low + 1 > kRunLookahead) break;
      if (any != 0 && rows >= kMaxContinuedRun) break;
    }
    const size_t end = continued != 0 ? continued : any != 0 && rank[a] != expected ? any : a;
    uint32_t lo = rank[a];
    for (size_t j = a + 1; j <= end; ++j) lo = std::min(lo, rank[j]);
    runs.push_back(RunCut{end + 1 - a, lo});
    expected = lo + static_cast<uint32_t>(end + 1 - a);
    a = end + 1;
  }
  return runs;
}

}  // namespace

bool EncodePermutedRuns(const int64_t* values, size_t count, std::string* out) {
  if (count < 2) return false;
  std::vector<int64_t> sorted(values, values + count);
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return false;
  std::vector<uint32_t> rank(count);
  for (size_t row = 0; row < count; ++row) {
    rank[row] = static_cast<uint32_t>(std::lower_bound(sorted.begin(), sorted.end(), values[row]) -
                                      sorted.begin());
  }
  const std::vector<RunCut> runs = CutRuns(rank);
  // Nearly every row alone (sources interleaved by time, each in seq order: the corpus): a run
  // length and start a row, where kDelta stores a small delta; not worth a zstd trial.
  if (runs.size() * 16 > count * 15) return false;
  out->push_back(static_cast<char>(Encoding::kPermutedRuns));
  PutVarint64(out, count);
  std::string block;
  EncodeDelta(sorted.data(), count, &block);
  PutVarint64(out, block.size());
  out->append(block);
  PutVarint64(out, runs.size());
  int64_t next = 0;
  for (const RunCut& run : runs) {
    PutVarint64(out, run.rows);
    PutVarint64(out, ZigZagEncode(static_cast<int64_t>(run.lo) - next));
    next = static_cast<int64_t>(run.lo + run.rows);
  }
  MixedRadixWriter writer(out);
  FreeRanks free;
  size_t first = 0;
  for (const RunCut& run : runs) {
    const size_t k = run.rows;
    free.Reset(k);
    for (size_t i = 0; i + 1 < k; ++i) {
      const size_t r = rank[first + i] - run.lo;
      writer.Digit(free.Below(r), k - i);
      free.Take(r);
    }
    writer.EndGroup();  // a group never spans two runs
    first += k;
  }
  writer.Finish();
  return true;
}

extern const ColumnEncoding kPermutedRunsEncoding;  // registered in column_encoding.cc
const ColumnEncoding kPermutedRunsEncoding{Encoding::kPermutedRuns, "permuted-runs",
                                           &DecodePermutedRuns, nullptr};

}  // namespace sawmill::segment
