#include "segment/block_codec.h"

#include <lz4.h>
// For ZSTD_c_format / ZSTD_d_format (magicless frames); the functions used are stable.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <cstring>
#include <string>

#include "common/coding.h"
#include "common/crc32c.h"

namespace sawmill::segment {

struct BlockCodec::Contexts {
  ZSTD_CCtx* cctx = nullptr;
  ZSTD_DCtx* dctx = nullptr;
  ~Contexts() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};

BlockCodec::BlockCodec() : ctx_(std::make_unique<Contexts>()) {}
BlockCodec::~BlockCodec() = default;

namespace {

void AppendTrailer(Codec codec, size_t payload_start, std::string* out) {
  out->push_back(static_cast<char>(codec));
  uint32_t crc = crc32c::Value(out->data() + payload_start, out->size() - payload_start);
  PutFixed32(out, crc32c::Mask(crc));
}

}  // namespace

void BlockCodec::Compress(std::string_view raw, CodecChoice choice, std::string* out) {
  size_t start = out->size();
  Codec used = Codec::kNone;
  if (raw.size() >= 64 && choice.codec != Codec::kNone) {
    if (choice.codec == Codec::kLz4 && raw.size() <= LZ4_MAX_INPUT_SIZE) {
      int bound = LZ4_compressBound(static_cast<int>(raw.size()));
      out->resize(start + static_cast<size_t>(bound));
      int n = LZ4_compress_default(raw.data(), out->data() + start, static_cast<int>(raw.size()),
                                   bound);
      if (n > 0 && static_cast<size_t>(n) < raw.size() - raw.size() / 32) {
        out->resize(start + static_cast<size_t>(n));
        used = Codec::kLz4;
      }
    } else if (choice.codec == Codec::kZstd) {
      if (ctx_->cctx == nullptr) {
        ctx_->cctx = ZSTD_createCCtx();
        // The directory already holds the raw size and the block trailer a CRC: frames carry
        // no magic number, content size, checksum or dictionary id (bytes per block count for
        // segments of many small field columns).
        ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
        ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_contentSizeFlag, 0);
        ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_checksumFlag, 0);
        ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_dictIDFlag, 0);
      }
      ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_compressionLevel, choice.level);
      size_t bound = ZSTD_compressBound(raw.size());
      out->resize(start + bound);
      size_t n = ZSTD_compress2(ctx_->cctx, out->data() + start, bound, raw.data(), raw.size());
      if (!ZSTD_isError(n) && n < raw.size() - raw.size() / 32) {
        out->resize(start + n);
        used = Codec::kZstd;
      }
    }
  }
  if (used == Codec::kNone) {
    out->resize(start);
    out->append(raw.data(), raw.size());
  }
  AppendTrailer(used, start, out);
}

Status CheckBlockCrc(std::string_view stored) {
  if (stored.size() < kBlockTrailerSize) {
    return Status::DataLoss("block of " + std::to_string(stored.size()) +
                            " bytes is shorter than its trailer");
  }
  size_t n = stored.size() - 4;
  uint32_t want = crc32c::Unmask(DecodeFixed32(stored.data() + n));
  uint32_t got = crc32c::Value(stored.data(), n);
  if (want != got) return Status::DataLoss("checksum mismatch");
  return Status::OK();
}

Status BlockCodec::Decompress(std::string_view stored, uint64_t raw_size, std::string* raw) {
  RETURN_IF_ERROR(CheckBlockCrc(stored));
  if (raw_size > kMaxBlockRawBytes) {
    return Status::DataLoss("block claims " + std::to_string(raw_size) + " raw bytes");
  }
  size_t payload_size = stored.size() - kBlockTrailerSize;
  const char* payload = stored.data();
  auto codec = static_cast<Codec>(static_cast<uint8_t>(stored[payload_size]));
  raw->resize(raw_size);
  switch (codec) {
    case Codec::kNone:
      if (payload_size != raw_size) {
        return Status::DataLoss("stored " + std::to_string(payload_size) + " bytes, expected " +
                                std::to_string(raw_size));
      }
      if (raw_size > 0) std::memcpy(raw->data(), payload, raw_size);
      return Status::OK();
    case Codec::kLz4: {
      if (raw_size > static_cast<uint64_t>(LZ4_MAX_INPUT_SIZE) ||
          payload_size > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
        return Status::DataLoss("LZ4 block too large");
      }
      int n = LZ4_decompress_safe(payload, raw->data(), static_cast<int>(payload_size),
                                  static_cast<int>(raw_size));
      if (n < 0 || static_cast<uint64_t>(n) != raw_size) {
        return Status::DataLoss("LZ4 block does not decompress to " + std::to_string(raw_size) +
                                " bytes");
      }
      return Status::OK();
    }
    case Codec::kZstd: {
      if (ctx_->dctx == nullptr) {
        ctx_->dctx = ZSTD_createDCtx();
        ZSTD_DCtx_setParameter(ctx_->dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
      }
      size_t n = ZSTD_decompressDCtx(ctx_->dctx, raw->data(), raw->size(), payload, payload_size);
      if (ZSTD_isError(n)) {
        return Status::DataLoss(std::string("zstd: ") + ZSTD_getErrorName(n));
      }
      if (n != raw_size) {
        return Status::DataLoss("zstd block decompressed to " + std::to_string(n) +
                                " bytes, expected " + std::to_string(raw_size));
      }
      return Status::OK();
    }
  }
  return Status::DataLoss("unknown codec " + std::to_string(static_cast<int>(codec)));
}

}  // namespace sawmill::segment
