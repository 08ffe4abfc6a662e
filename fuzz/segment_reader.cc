// Fuzz target: an arbitrary byte string opened as a segment file, and everything in it read:
// the footer, every column of every block (whole, the integer columns through a row, and a user
// id's rows by value: the huffman-ids partial decode), the inverted indexes (rows, values, and
// rows per block: block lists), the blooms, and the index kind blocks (word postings, numeric
// ranges, the minute and service/level counts of format 19).
// Input: byte 0 is the mode; the rest is the file. ReadSegmentIdentity (what reconciliation
// reads from any file in the data directory) runs on it too.
//   bit 0 clear: the file as it is (what a torn, truncated or overwritten file looks like).
//   bit 0 set: checksums are recomputed first (the header identity block's, the footer's from
//     the trailer, then every block the footer lists, index kind blocks included), so that
//     mutations get past the CRCs into the footer, column, index and kind decoders, as a file
//     written by a buggy writer (or a CRC collision) would.
#include <memory>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/fault_env.h"
#include "fuzz_util.h"
#include "segment/block_codec.h"
#include "segment/footer.h"
#include "segment/format.h"
#include "segment/segment.h"

using namespace sawmill;
using namespace sawmill::segment;

namespace {

// Rewrites the CRC of the physical block "ref" in "*file" when the block lies inside it.
void FixBlockCrc(const BlockRef& ref, std::string* file) {
  if (!ref.present() || ref.size < kBlockTrailerSize || ref.offset > file->size() ||
      ref.size > file->size() - ref.offset) {
    return;
  }
  char* block = file->data() + ref.offset;
  size_t n = ref.size - 4;
  EncodeFixed32(block + n, crc32c::Mask(crc32c::Value(block, n)));
}

void FixChecksums(std::string* file) {
  if (file->size() < kHeaderSize + kTrailerSize) return;
  // Format 2: the identity block right after the fixed header.
  if (DecodeFixed32(file->data() + kMagicSize) >= 2) {
    FixBlockCrc(BlockRef{kHeaderSize, DecodeFixed32(file->data() + kMagicSize + 4), 0}, file);
  }
  const char* trailer = file->data() + file->size() - kTrailerSize;
  BlockRef footer_ref{DecodeFixed64(trailer), DecodeFixed32(trailer + 8),
                      DecodeFixed32(trailer + 12)};
  FixBlockCrc(footer_ref, file);
  if (footer_ref.raw_size > (1u << 20) || footer_ref.offset > file->size() ||
      footer_ref.size > file->size() - footer_ref.offset) {
    return;
  }
  BlockCodec codec;
  std::string raw;
  std::string_view stored(file->data() + footer_ref.offset, footer_ref.size);
  if (!codec.Decompress(stored, footer_ref.raw_size, &raw).ok()) return;
  Footer footer;
  if (!DecodeFooter(raw, footer_ref.offset, &footer).ok()) return;
  for (const ColumnMeta& c : footer.columns) {
    for (const BlockRef& ref : c.blocks) FixBlockCrc(ref, file);
  }
  for (const IndexMeta& i : footer.indexes) FixBlockCrc(i.ref, file);
  for (const BloomMeta& b : footer.blooms) {
    FixBlockCrc(b.segment_filter, file);
    FixBlockCrc(b.block_filters, file);
  }
  for (const KindIndexMeta& k : footer.kind_indexes) FixBlockCrc(k.ref, file);
}

// An error a reader may return for a damaged file: DataLoss (or the caller's InvalidArgument
// for a question the file's shape makes wrong, e.g. rows past a damaged block's count).
bool Expected(const Status& s) {
  return s.ok() || s.code() == StatusCode::kDataLoss || s.code() == StatusCode::kInvalidArgument;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string file(fuzz::AsView(data + 1, size - 1));
  if (data[0] & 1) FixChecksums(&file);

  static FaultInjectionEnv* env = new FaultInjectionEnv();
  const std::string path = "/fuzz/000001.seg";
  FUZZ_CHECK(env->SetContents(path, file).ok());
  // What reconciliation reads from every file it finds in the data directory.
  auto identity = ReadSegmentIdentity(env, path);
  if (!identity.ok()) {
    FUZZ_CHECK(identity.status().code() == StatusCode::kDataLoss ||
               identity.status().code() == StatusCode::kFailedPrecondition);
  }
  auto opened = SegmentReader::Open(env, path);
  if (!opened.ok()) {
    FUZZ_CHECK(opened.status().code() == StatusCode::kDataLoss);
    return 0;
  }
  const SegmentReader& reader = *opened.value();
  FUZZ_CHECK(reader.info().file_bytes == file.size());
  for (uint32_t b = 0; b < reader.blocks().size(); ++b) {
    std::vector<Record> out;
    ReadStats stats;
    Status s = reader.ReadBlock(b, kColAll, &out, &stats);
    if (s.ok()) {
      FUZZ_CHECK(out.size() == reader.blocks()[b].rows);
    } else {
      FUZZ_CHECK(s.code() == StatusCode::kDataLoss);
    }
    (void)reader.BlockMayContain(b, "message", "error");
    (void)reader.BlockMayContain(b, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
    const uint32_t rows = reader.blocks()[b].rows;
    if (rows == 0) continue;
    // The integer columns through a row (decoders that stop early), and the rows holding a
    // user id (prefixed-number: the numbers compared, huffman-ids decoded through the last
    // row kept).
    BlockColumns columns;
    s = reader.ReadIntColumnsThrough(b, kColTs | kColIngestTs | kColSeq | kColLevel, 1 + rows / 2,
                                     &columns, &stats);
    FUZZ_CHECK(Expected(s));
    // (Format 26) A few rows' trace ids, each read alone (filtered-hex: its rank, the filter's
    // fingerprint and its rest), and the rows holding a trace id (the filter's probe, the rests).
    {
      std::vector<Record> few;
      s = reader.ReadRows(b, kColTraceId, {0, rows / 2, rows - 1 > rows / 2 ? rows - 1 : rows / 2},
                          &few, &stats);
      FUZZ_CHECK(Expected(s));
      std::vector<uint32_t> kept;
      for (uint32_t r = 0; r < rows; ++r) kept.push_back(r);
      const std::string id = s.ok() && !few.empty() ? few[0].trace_id : std::string("x");
      s = reader.KeepRowsHolding(b, kColTraceId, id, &kept, &stats);
      FUZZ_CHECK(Expected(s));
    }
    for (std::string_view user : {"user-3", "user-1", "u000042"}) {
      std::vector<uint32_t> kept;
      for (uint32_t r = 0; r < rows; r += 1 + r / 3) kept.push_back(r);
      s = reader.KeepRowsHolding(b, kColUserId, user, &kept, &stats);
      FUZZ_CHECK(Expected(s));
      if (s.ok()) {
        for (size_t i = 0; i < kept.size(); ++i) {
          FUZZ_CHECK(kept[i] < rows && (i == 0 || kept[i - 1] < kept[i]));
        }
      }
    }
  }
  // Format 19's per-block statistics: the minute counts of both time fields and the
  // (service, level) counts (index/minute_counts_kind.cc), checked against the block list.
  for (bool ts : {true, false}) FUZZ_CHECK(Expected(reader.BlockMinuteCounts(ts).status()));
  FUZZ_CHECK(Expected(reader.BlockServiceLevels().status()));
  // Block lists (format 16's user ids) and their counts per block.
  for (std::string_view user : {"user-3", "user-1", "u000042"}) {
    index::FieldPredicate p;
    p.field = "user_id";
    p.builtin = true;
    p.value = user;
    auto counts = reader.MatchingRowsPerBlock(p);
    if (counts.ok() && counts->has_value()) {
      FUZZ_CHECK((*counts)->size() == reader.blocks().size());
    }
    (void)reader.SegmentMayMatch(p);
    for (uint32_t b = 0; b < reader.blocks().size(); ++b) (void)reader.BlockMayMatch(b, p);
  }
  for (std::string_view field : {"service", "host", "level", "trace_id", "user_id", "nope"}) {
    auto values = reader.IndexedValues(field);
    if (values.ok() && values.value().has_value()) {
      size_t probes = 0;
      for (const std::string& v : *values.value()) {
        if (++probes > 8) break;
        (void)reader.Postings(field, v);
      }
    }
    (void)reader.Postings(field, "x");
    (void)reader.SegmentMayContain(field, "x");
  }
  (void)reader.SegmentMayContain("message", "error");
  return 0;
}
