// Codec::kLz4: the LZ4 block API (no frame), for when write speed matters more than size.
#include <lz4.h>

#include "segment/block_codec.h"

namespace sawmill::segment {

namespace {

bool Compress(std::string_view raw, int /*level*/, void** /*state*/, std::string* out) {
  if (raw.size() > LZ4_MAX_INPUT_SIZE) return false;
  size_t start = out->size();
  int bound = LZ4_compressBound(static_cast<int>(raw.size()));
  out->resize(start + static_cast<size_t>(bound));
  int n =
      LZ4_compress_default(raw.data(), out->data() + start, static_cast<int>(raw.size()), bound);
  if (n <= 0) return false;
  out->resize(start + static_cast<size_t>(n));
  return true;
}

Status Decompress(std::string_view payload, std::string* raw, void** /*state*/) {
  if (raw->size() > static_cast<uint64_t>(LZ4_MAX_INPUT_SIZE) ||
      payload.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return Status::DataLoss("LZ4 block too large");
  }
  int n = LZ4_decompress_safe(payload.data(), raw->data(), static_cast<int>(payload.size()),
                              static_cast<int>(raw->size()));
  if (n < 0 || static_cast<uint64_t>(n) != raw->size()) {
    return Status::DataLoss("LZ4 block does not decompress to " + std::to_string(raw->size()) +
                            " bytes");
  }
  return Status::OK();
}

}  // namespace

extern const BlockCodecKind kLz4Codec;  // registered in block_codec.cc
const BlockCodecKind kLz4Codec{Codec::kLz4, "lz4",   &Compress, &Decompress,
                               nullptr,     nullptr, nullptr};

}  // namespace sawmill::segment
