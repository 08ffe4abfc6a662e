// Physical blocks: the trailer (codec byte, masked CRC32C) and the dispatch to the registered
// codecs. Each codec is its own file (lz4_codec.cc, zstd_codec.cc); "none" is here because it
// is also what every codec falls back to.
#include "segment/block_codec.h"

#include <cstring>
#include <string>

#include "common/coding.h"
#include "common/crc32c.h"

namespace sawmill::segment {

// Defined in the codec's own file.
extern const BlockCodecKind kLz4Codec;   // lz4_codec.cc
extern const BlockCodecKind kZstdCodec;  // zstd_codec.cc

namespace {

Status DecompressNone(std::string_view payload, std::string* raw, void** /*state*/) {
  if (payload.size() != raw->size()) {
    return Status::DataLoss("stored " + std::to_string(payload.size()) + " bytes, expected " +
                            std::to_string(raw->size()));
  }
  if (!raw->empty()) std::memcpy(raw->data(), payload.data(), raw->size());
  return Status::OK();
}

const BlockCodecKind kNoneCodec{Codec::kNone, "none",  nullptr, &DecompressNone,
                                nullptr,      nullptr, nullptr};

// The registry: one line per codec.
const BlockCodecKind* const kCodecs[] = {
    &kNoneCodec,
    &kLz4Codec,
    &kZstdCodec,
};

void AppendTrailer(Codec codec, size_t payload_start, std::string* out) {
  out->push_back(static_cast<char>(codec));
  uint32_t crc = crc32c::Value(out->data() + payload_start, out->size() - payload_start);
  PutFixed32(out, crc32c::Mask(crc));
}

}  // namespace

const BlockCodecKind* FindBlockCodec(Codec id) {
  for (const BlockCodecKind* kind : kCodecs) {
    if (kind->id == id) return kind;
  }
  return nullptr;
}

BlockCodec::BlockCodec() = default;

size_t BlockCodec::StateBytes() const {
  size_t n = 0;
  for (const BlockCodecKind* kind : kCodecs) {
    const void* state = states_[static_cast<uint8_t>(kind->id)];
    if (state != nullptr && kind->state_bytes != nullptr) n += kind->state_bytes(state);
  }
  return n;
}

BlockCodec::~BlockCodec() {
  for (const BlockCodecKind* kind : kCodecs) {
    void* state = states_[static_cast<uint8_t>(kind->id)];
    if (state != nullptr && kind->free_state != nullptr) kind->free_state(state);
  }
}

void BlockCodec::Compress(std::string_view raw, CodecChoice choice, std::string* out) {
  size_t start = out->size();
  Codec used = Codec::kNone;
  const BlockCodecKind* kind = FindBlockCodec(choice.codec);
  if (raw.size() >= 64 && kind != nullptr && kind->compress != nullptr &&
      static_cast<uint8_t>(kind->id) < kMaxCodecs) {
    void** state = &states_[static_cast<uint8_t>(kind->id)];
    // Kept only when it saves at least 1/32 of the block; else the payload is stored raw.
    if (kind->compress(raw, choice.level, state, out) &&
        out->size() - start < raw.size() - raw.size() / 32) {
      used = kind->id;
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

Status BlockCodec::DecompressPrefix(std::string_view stored, uint64_t raw_size,
                                    const std::function<uint64_t(std::string_view)>& need,
                                    std::string* raw, size_t* got) {
  *got = 0;
  RETURN_IF_ERROR(CheckBlockCrc(stored));
  if (raw_size > kMaxBlockRawBytes) {
    return Status::DataLoss("block claims " + std::to_string(raw_size) + " raw bytes");
  }
  size_t payload_size = stored.size() - kBlockTrailerSize;
  auto codec = static_cast<Codec>(static_cast<uint8_t>(stored[payload_size]));
  const BlockCodecKind* kind = FindBlockCodec(codec);
  if (kind == nullptr || static_cast<uint8_t>(codec) >= kMaxCodecs) {
    return Status::DataLoss("unknown codec " + std::to_string(static_cast<int>(codec)));
  }
  void** state = &states_[static_cast<uint8_t>(codec)];
  if (kind->decompress_prefix == nullptr) {
    raw->resize(raw_size);
    RETURN_IF_ERROR(kind->decompress(stored.substr(0, payload_size), raw, state));
    *got = raw->size();
    return Status::OK();
  }
  return kind->decompress_prefix(stored.substr(0, payload_size), raw_size, raw, need, state, got);
}

Status BlockCodec::Decompress(std::string_view stored, uint64_t raw_size, std::string* raw) {
  RETURN_IF_ERROR(CheckBlockCrc(stored));
  if (raw_size > kMaxBlockRawBytes) {
    return Status::DataLoss("block claims " + std::to_string(raw_size) + " raw bytes");
  }
  size_t payload_size = stored.size() - kBlockTrailerSize;
  auto codec = static_cast<Codec>(static_cast<uint8_t>(stored[payload_size]));
  const BlockCodecKind* kind = FindBlockCodec(codec);
  if (kind == nullptr || static_cast<uint8_t>(codec) >= kMaxCodecs) {
    return Status::DataLoss("unknown codec " + std::to_string(static_cast<int>(codec)));
  }
  raw->resize(raw_size);
  return kind->decompress(stored.substr(0, payload_size), raw,
                          &states_[static_cast<uint8_t>(codec)]);
}

}  // namespace sawmill::segment
