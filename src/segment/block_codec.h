// Physical blocks: a payload stored raw, LZ4- or zstd-compressed, followed by the codec byte
// and a masked CRC32C (format.h kBlockTrailerSize). Every column, index and bloom block and the
// footer is one physical block.
//
// Each codec is one file defining its BlockCodecKind (lz4_codec.cc, zstd_codec.cc; "none" in
// block_codec.cc) plus one registration line in block_codec.cc (docs/extending.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "sawmill/status.h"
#include "segment/format.h"

namespace sawmill::segment {

struct CodecChoice {
  Codec codec = Codec::kZstd;
  int level = 3;  // zstd level; ignored by the other codecs
};

// One block codec. "state" points at the codec's slot in the calling BlockCodec (nullptr until
// the codec puts something there, e.g. a zstd context); free_state releases it.
struct BlockCodecKind {
  Codec id;  // stored in every physical block's trailer: never renumber
  std::string_view name;
  // Appends "raw" compressed at "level" to "*out" and returns true, or returns false (the
  // caller then stores the payload raw and discards what was appended). nullptr for "none".
  bool (*compress)(std::string_view raw, int level, void** state, std::string* out);
  // Decompresses "payload" into exactly raw->size() bytes, already allocated in "*raw".
  // Errors: DataLoss saying what is wrong.
  Status (*decompress)(std::string_view payload, std::string* raw, void** state);
  void (*free_state)(void* state);  // nullptr when the codec keeps no state
  // Decompresses the start of "payload" (raw_size bytes in all) into "*raw" (its contents
  // replaced; a reused buffer keeps its capacity): stops once "need" (given the bytes out so
  // far) says that is enough, and sets "*got" to how many bytes of "*raw" (sized "raw_size")
  // it wrote. nullptr: the codec cannot stop early (the caller decompresses all of it).
  Status (*decompress_prefix)(std::string_view payload, uint64_t raw_size, std::string* raw,
                              const std::function<uint64_t(std::string_view)>& need, void** state,
                              size_t* got);
  // Bytes of memory "state" holds (a zstd context's tables and buffers); nullptr: none.
  size_t (*state_bytes)(const void* state);
};

// The registered codec with id "id", or nullptr.
const BlockCodecKind* FindBlockCodec(Codec id);

// Reusable compression state (one slot per codec). Not thread-safe: one per writer or thread.
class BlockCodec {
 public:
  BlockCodec();
  ~BlockCodec();
  BlockCodec(const BlockCodec&) = delete;
  BlockCodec& operator=(const BlockCodec&) = delete;

  // Appends the physical block for "raw" to "*out": the payload compressed with "choice"
  // (or stored raw when compressing saves less than 1/32 of it), the codec byte and the CRC.
  void Compress(std::string_view raw, CodecChoice choice, std::string* out);

  // Verifies the CRC of the physical block "stored" and decompresses it into "*raw", which must
  // come out exactly "raw_size" bytes long. Errors: DataLoss saying what is wrong ("checksum
  // mismatch", "unknown codec 7", "zstd block decompressed to 10 bytes, expected 12"); the
  // caller adds where.
  Status Decompress(std::string_view stored, uint64_t raw_size, std::string* raw);

  // Decompress, but of the start of the payload only, as far as "need" asks: it is given the
  // bytes decompressed so far and returns how many are needed in all (raw_size or more: all of
  // it); "*got" is set to how many were decompressed, at least that many (or all), at the front
  // of "*raw". "*raw" is left "raw_size" bytes long whatever "*got" (what follows the first
  // "*got" bytes is not the block's): a buffer reused for the next block is then not zero-filled
  // again over what this one did not decompress. A codec that cannot stop early (LZ4, none)
  // decompresses all of it. The CRC is always checked over the whole block. Errors as
  // Decompress ("*got" is then 0).
  Status DecompressPrefix(std::string_view stored, uint64_t raw_size,
                          const std::function<uint64_t(std::string_view)>& need, std::string* raw,
                          size_t* got);

  // Bytes of memory the codecs' states hold now (what a writer keeps between blocks).
  size_t StateBytes() const;

 private:
  static constexpr size_t kMaxCodecs = 8;  // codec ids are below this
  void* states_[kMaxCodecs] = {};
};

// Checks only the CRC of a physical block (for verify). Errors as Decompress.
Status CheckBlockCrc(std::string_view stored);

}  // namespace sawmill::segment
