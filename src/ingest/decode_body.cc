// Request bodies by Content-Encoding, with a bound on the decoded size and errors that say why
// and at which byte of the compressed body decoding stopped.
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <string>
#include <vector>

#include "ingest/normalize.h"

namespace sawmill::ingest {

namespace {

constexpr size_t kChunk = 64 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status TooBig(std::string_view codec, size_t max_bytes) {
  return Status::ResourceExhausted(std::string(codec) + ": decoded body exceeds the limit of " +
                                   std::to_string(max_bytes) + " bytes");
}

// Appends up to "n" bytes of "chunk" to "out", failing when the total would pass "max_bytes".
bool Append(std::string* out, const char* chunk, size_t n, size_t max_bytes) {
  if (n > max_bytes - out->size()) return false;
  out->append(chunk, n);
  return true;
}

// gzip (RFC 1952, several members allowed) or zlib/raw deflate for "deflate".
Result<std::string> Inflate(std::string_view body, bool gzip, size_t max_bytes) {
  const char* codec = gzip ? "gzip" : "deflate";
  if (body.empty()) return Status::InvalidArgument(std::string(codec) + ": empty body");
  // "deflate" is zlib-wrapped by the standard, raw by some clients: look at the header.
  int window_bits = 15 + 32;  // auto-detect gzip or zlib
  if (!gzip) {
    bool zlib_header =
        body.size() >= 2 && (static_cast<unsigned char>(body[0]) & 0x0F) == 8 &&
        ((static_cast<unsigned char>(body[0]) << 8) | static_cast<unsigned char>(body[1])) % 31 ==
            0;
    window_bits = zlib_header ? 15 : -15;
  } else if (body.size() < 2 || static_cast<unsigned char>(body[0]) != 0x1f ||
             static_cast<unsigned char>(body[1]) != 0x8b) {
    return Status::InvalidArgument("gzip: not a gzip stream (bad magic bytes) at byte 0");
  }
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Status::Internal("gzip: inflateInit failed");
  std::unique_ptr<z_stream, void (*)(z_stream*)> guard(&zs, [](z_stream* z) { inflateEnd(z); });
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  std::string out;
  std::vector<char> buf(kChunk);
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = buf.size() - zs.avail_out;
    if (!Append(&out, buf.data(), produced, max_bytes)) return TooBig(codec, max_bytes);
    const size_t at = body.size() - zs.avail_in;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Another gzip member may follow (concatenated gzip files are valid gzip).
      if (gzip && zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      return Status::InvalidArgument(std::string(codec) +
                                     ": unexpected data after the end of "
                                     "the compressed stream at byte " +
                                     std::to_string(at));
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      return Status::InvalidArgument(std::string(codec) +
                                     ": truncated stream: input ended at byte " +
                                     std::to_string(at) + " before the end of the data");
    }
    std::string why = zs.msg != nullptr ? zs.msg : "corrupt data";
    return Status::InvalidArgument(std::string(codec) + ": " + why + " at byte " +
                                   std::to_string(at));
  }
  return out;
}

Result<std::string> Zstd(std::string_view body, size_t max_bytes) {
  if (body.empty()) return Status::InvalidArgument("zstd: empty body");
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return Status::Internal("zstd: out of memory");
  // Bound the window a hostile frame can make us allocate (128 MiB, zstd's --long maximum).
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 27);
  ZSTD_inBuffer in{body.data(), body.size(), 0};
  std::string out;
  std::vector<char> buf(kChunk);
  size_t last = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    size_t before = in.pos;
    last = ZSTD_decompressStream(dctx.get(), &ob, &in);
    if (ZSTD_isError(last)) {
      return Status::InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(last) + " at byte " +
                                     std::to_string(in.pos > before ? in.pos : before));
    }
    if (!Append(&out, buf.data(), ob.pos, max_bytes)) return TooBig("zstd", max_bytes);
  }
  // Drain what the decoder still holds (input consumed, output buffer was full).
  while (last != 0) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(dctx.get(), &ob, &in);
    if (ZSTD_isError(last)) {
      return Status::InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(last) + " at byte " +
                                     std::to_string(in.pos));
    }
    if (!Append(&out, buf.data(), ob.pos, max_bytes)) return TooBig("zstd", max_bytes);
    if (ob.pos == 0 && last != 0) {
      return Status::InvalidArgument("zstd: truncated frame: input ended at byte " +
                                     std::to_string(in.pos) + " before the end of the frame");
    }
  }
  return out;
}

Result<std::string> Lz4(std::string_view body, size_t max_bytes) {
  if (body.empty()) return Status::InvalidArgument("lz4: empty body");
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return Status::Internal("lz4: out of memory");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> dctx(raw,
                                                                    LZ4F_freeDecompressionContext);
  std::string out;
  std::vector<char> buf(kChunk);
  size_t pos = 0;
  size_t hint = 1;
  while (true) {
    size_t dst_size = buf.size();
    size_t src_size = body.size() - pos;
    hint =
        LZ4F_decompress(dctx.get(), buf.data(), &dst_size, body.data() + pos, &src_size, nullptr);
    if (LZ4F_isError(hint)) {
      return Status::InvalidArgument(std::string("lz4: ") + LZ4F_getErrorName(hint) + " at byte " +
                                     std::to_string(pos + src_size));
    }
    pos += src_size;
    if (!Append(&out, buf.data(), dst_size, max_bytes)) return TooBig("lz4", max_bytes);
    if (hint == 0) {
      // End of a frame; another may follow.
      if (pos == body.size()) break;
      continue;
    }
    if (dst_size == 0 && (pos == body.size() || src_size == 0)) {
      return Status::InvalidArgument("lz4: truncated frame: input ended at byte " +
                                     std::to_string(pos) + " before the end of the frame");
    }
  }
  return out;
}

Result<std::string> DecodeOne(std::string_view body, std::string_view encoding, size_t max_bytes) {
  if (encoding.empty() || encoding == "identity") {
    if (body.size() > max_bytes) return TooBig("body", max_bytes);
    return std::string(body);
  }
  if (encoding == "gzip" || encoding == "x-gzip") return Inflate(body, /*gzip=*/true, max_bytes);
  if (encoding == "deflate") return Inflate(body, /*gzip=*/false, max_bytes);
  if (encoding == "zstd") return Zstd(body, max_bytes);
  if (encoding == "lz4") return Lz4(body, max_bytes);
  return Status::InvalidArgument("unsupported Content-Encoding '" + std::string(encoding) +
                                 "' (supported: identity, gzip, deflate, zstd, lz4)");
}

}  // namespace

Result<std::string> DecodeBody(std::string_view body, std::string_view content_encoding,
                               size_t max_bytes) {
  // "gzip, zstd" means gzip was applied first: decode from the last one.
  std::vector<std::string> codings;
  std::string_view rest = content_encoding;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view one = Trim(rest.substr(0, comma));
    if (!one.empty()) codings.push_back(Lower(one));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (codings.empty()) return DecodeOne(body, "", max_bytes);
  if (codings.size() > 4)
    return Status::InvalidArgument("Content-Encoding lists more than 4 codings");
  ASSIGN_OR_RETURN(std::string current, DecodeOne(body, codings.back(), max_bytes));
  for (auto it = codings.rbegin() + 1; it != codings.rend(); ++it) {
    ASSIGN_OR_RETURN(current, DecodeOne(current, *it, max_bytes));
  }
  return current;
}

}  // namespace sawmill::ingest
