// Physical blocks: a payload stored raw, LZ4- or zstd-compressed, followed by the codec byte
// and a masked CRC32C (format.h kBlockTrailerSize). Every column, index and bloom block and the
// footer is one physical block.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sawmill/status.h"
#include "segment/format.h"

namespace sawmill::segment {

struct CodecChoice {
  Codec codec = Codec::kZstd;
  int level = 3;  // zstd level; ignored by the other codecs
};

// Reusable compression state (one zstd context). Not thread-safe: one per writer or thread.
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
  // mismatch", "bad codec 7", "decompressed to 10 bytes, expected 12"); the caller adds where.
  Status Decompress(std::string_view stored, uint64_t raw_size, std::string* raw);

 private:
  struct Contexts;
  std::unique_ptr<Contexts> ctx_;
};

// Checks only the CRC of a physical block (for verify). Errors as Decompress.
Status CheckBlockCrc(std::string_view stored);

}  // namespace sawmill::segment
