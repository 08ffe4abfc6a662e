// What the two encodings that keep times apart from their text share: kIsoPrefix (format version
// 10, iso_prefix_encoding.cc) and kTimeText (format version 13, time_text_encoding.cc) each
// write a header of small int blocks (the times) and then a plain or marked lines block of every
// row's text with its time cut out. Reading one checks the same things the same way: the header
// is all there and counts the block's rows, the text block is a plain or marked lines block (no
// such block inside another) holding a text for each row read, and each row read gets its time
// back or a DataLoss naming the row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::segment {

// The front of such a block: "header" (the encoding's header size, 0 when the bytes do not hold
// all of it) within "raw_size" bytes, and a value count of "max_count"; "*body" gets what follows
// the count. DataLoss beginning with "what" otherwise.
Status CheckTimesHeader(std::string_view what, std::string_view prefix, size_t header,
                        uint64_t raw_size, size_t max_count, std::string_view* body);

// The text block that follows the "header" bytes of "prefix" (the block, or its front as
// ReadRows decompresses it, of "raw_size" bytes, holding "count" values): the texts of the rows
// "*rows" (ascending), or of every row when "rows" is null, one view each in "*rest" (into
// "prefix" or "*scratch"). DataLoss beginning with "what" when it is not a plain or marked lines
// block or does not hold them.
Status ReadTextAfterTimes(std::string_view what, std::string_view prefix, size_t header,
                          uint64_t raw_size, size_t count, const std::vector<uint32_t>* rows,
                          std::vector<std::string_view>* rest, std::string* scratch);

// How an encoding puts its times back into its rows' texts.
class TimesBack {
 public:
  virtual ~TimesBack() = default;
  // Reads the blocks of times of "body" (what follows the value count) for "count" rows.
  virtual Status Parse(std::string_view body, size_t count) = 0;
  // Whether row "row" holds a time.
  virtual bool Timed(size_t row) const = 0;
  // Appends row "row"'s value to "*arena": "rest" (its text) with its time, the "k"-th of the
  // block (k: the row's place among the rows holding one), put back. DataLoss naming the row when
  // the two do not fit.
  virtual Status Put(size_t row, size_t k, std::string_view rest, std::string* arena) = 0;
};

// The values of the rows "*rows" (ascending; every row of the "count" when null) of which
// "rest" holds the texts (one per row, ReadTextAfterTimes), rendered by "times" into "*arena":
// one view each appended to "*views".
Status PutTimesBack(size_t count, const std::vector<uint32_t>* rows,
                    const std::vector<std::string_view>& rest, TimesBack* times,
                    std::vector<std::string_view>* views, std::string* arena);

// DecodeIsoPrefixRows and DecodeTimeTextRows: the header checked (CheckTimesHeader, its size
// "header"), parsed by "times", the listed rows of the text block read (ReadTextAfterTimes) and
// their times put back (PutTimesBack): "*views" gets one view per row of "rows" (replacing what
// it held), into "*arena" (overwritten).
Status DecodeRowsWithTimes(std::string_view what, std::string_view prefix, size_t header,
                           uint64_t raw_size, size_t max_count, const std::vector<uint32_t>& rows,
                           TimesBack* times, std::vector<std::string_view>* views,
                           std::string* arena);

}  // namespace sawmill::segment
