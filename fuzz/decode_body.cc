// Fuzz target: request bodies by Content-Encoding (gzip, zstd, lz4, identity) through
// DecodeBody, the first thing the server does with a body, with a byte bound and with the
// server's bounds (bytes, lines, the memory budget) checked while decoding.
// Input: byte 0 picks the encoding (low 3 bits), the mode (bit 3) and whether the memory
// budget refuses past 256 KiB (bit 4); the rest is the body.
//   mode 0: the rest is decoded as sent (hostile compressed streams).
//   mode 1: the rest is compressed by this target first and must come back byte for byte.
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <string>

#include "fuzz_util.h"
#include "ingest/normalize.h"

using namespace sawmill;

namespace {

constexpr const char* kEncodings[] = {"",    "identity", "gzip", "zstd",
                                      "lz4", "deflate",  "GZIP", "br"};
// The bound every decode gets; small, so that bombs show up as ResourceExhausted at once.
constexpr size_t kMaxBytes = 1 << 20;

bool Gzip(std::string_view in, std::string* out) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out->resize(deflateBound(&zs, in.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out->data());
  zs.avail_out = static_cast<uInt>(out->size());
  int rc = deflate(&zs, Z_FINISH);
  out->resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

bool Zstd(std::string_view in, std::string* out) {
  out->resize(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out->data(), out->size(), in.data(), in.size(), 1);
  if (ZSTD_isError(n)) return false;
  out->resize(n);
  return true;
}

bool Lz4(std::string_view in, std::string* out) {
  out->resize(LZ4F_compressFrameBound(in.size(), nullptr));
  size_t n = LZ4F_compressFrame(out->data(), out->size(), in.data(), in.size(), nullptr);
  if (LZ4F_isError(n)) return false;
  out->resize(n);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view encoding = kEncodings[data[0] & 7];
  const bool roundtrip = (data[0] & 8) != 0;
  std::string_view body = fuzz::AsView(data + 1, size - 1);

  if (!roundtrip) {
    auto decoded = ingest::DecodeBody(body, encoding, kMaxBytes);
    if (decoded.ok()) FUZZ_CHECK(decoded.value().size() <= kMaxBytes);
    // The server's path: bytes, lines and the memory budget checked while decoding. Bit 4
    // makes the budget refuse past 256 KiB.
    ingest::BodyLimits limits;
    limits.max_bytes = kMaxBytes;
    limits.max_lines = 10000;
    if (data[0] & 16) {
      limits.admit = [](size_t bytes, size_t newlines) {
        (void)newlines;
        return bytes <= (256u << 10);
      };
    }
    ingest::BodyLimitHit hit = ingest::BodyLimitHit::kNone;
    auto bounded = ingest::DecodeBody(body, encoding, limits, &hit);
    if (bounded.ok()) {
      FUZZ_CHECK(bounded.value().size() <= limits.max_bytes);
      FUZZ_CHECK(ingest::CountLines(bounded.value()) <= limits.max_lines);
      FUZZ_CHECK(hit == ingest::BodyLimitHit::kNone);
    } else if (bounded.status().code() == StatusCode::kResourceExhausted) {
      FUZZ_CHECK(hit != ingest::BodyLimitHit::kNone);
    }
    return 0;
  }
  std::string compressed;
  bool made = false;
  if (encoding == "gzip") made = Gzip(body, &compressed);
  if (encoding == "zstd") made = Zstd(body, &compressed);
  if (encoding == "lz4") made = Lz4(body, &compressed);
  if (!made) return 0;
  auto decoded = ingest::DecodeBody(compressed, encoding, kMaxBytes);
  FUZZ_CHECK(decoded.ok());
  FUZZ_CHECK(decoded.value() == body);
  return 0;
}
