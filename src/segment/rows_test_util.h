// Shared by the segment tests: a few rows of a string column block read as the segment reader's
// ReadRows reads them (segment_reader.cc), from the prefix of the block it decompresses.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "segment/column_encoding.h"
#include "segment/format.h"

namespace sawmill::segment {

// The rows "rows" (ascending, below values.size()) of the string block "block" of values.size()
// values: decompressed (here: cut) through the bytes its encoding's BytesThrough asks for
// (kIsoPrefix, kTimeText, else kPlain or kMarkedLines; UINT64_MAX: the whole block), then decoded
// from that prefix by the encoding's DecodeRows; and by DecodeStringRows from the whole block.
// Both must give the rows' values. Returns the bytes the prefix took.
inline uint64_t ExpectRowsRead(const std::string& block,
                               const std::vector<std::string_view>& values,
                               const std::vector<uint32_t>& rows) {
  const auto encoding = block.empty() ? Encoding::kPlain : static_cast<Encoding>(block[0]);
  const size_t count = values.size();
  const uint64_t through =
      encoding == Encoding::kIsoPrefix  ? IsoPrefixBytesThrough(block, count, rows.back())
      : encoding == Encoding::kTimeText ? TimeTextBytesThrough(block, count, rows.back())
                                        : TextBytesThrough(block, count, rows.back());
  EXPECT_GT(through, 0u);
  const size_t cut = through == UINT64_MAX ? block.size() : static_cast<size_t>(through);
  EXPECT_LE(cut, block.size());
  if (cut > block.size()) return cut;
  const std::string_view prefix = std::string_view(block).substr(0, cut);
  std::vector<std::string_view> got;
  std::string arena;
  Status s = encoding == Encoding::kIsoPrefix
                 ? DecodeIsoPrefixRows(prefix, block.size(), count, rows, &got, &arena)
             : encoding == Encoding::kTimeText
                 ? DecodeTimeTextRows(prefix, block.size(), count, rows, &got, &arena)
                 : DecodeTextRows(prefix, block.size(), count, rows, &got);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got.size(), rows.size());
  for (size_t i = 0; i < rows.size() && i < got.size(); ++i) {
    EXPECT_EQ(got[i], values[rows[i]]) << "row " << rows[i] << " from a prefix of " << cut;
  }
  s = DecodeStringRows(block, count, rows, &got, &arena);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got.size(), rows.size());
  for (size_t i = 0; i < rows.size() && i < got.size(); ++i) {
    EXPECT_EQ(got[i], values[rows[i]]) << "row " << rows[i] << " from the whole block";
  }
  return cut;
}

}  // namespace sawmill::segment
