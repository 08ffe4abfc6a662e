// Request bodies by Content-Encoding, with a bound on the decoded size and errors that say why
// and at which byte of the compressed body decoding stopped.
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
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

// Where decoded chunks go: enforces the byte bound and, when asked, the line bound as each chunk
// arrives, so that nothing past a bound is ever held. The body is kept in pieces of up to
// kPiece bytes and joined once at the end: growing one string by doubling would hold the old and
// the new buffer at once (1.5 times the bound) just before refusing.
class Output {
 public:
  Output(const BodyLimits& limits, bool count_lines)
      : limits_(limits), max_lines_(count_lines ? limits.max_lines : 0) {}

  // Appends "n" bytes; false (and hit() set) when a bound would be passed.
  bool Add(const char* chunk, size_t n) {
    if (n > limits_.max_bytes - size_) {
      hit_ = BodyLimitHit::kBytes;
      return false;
    }
    if (max_lines_ > 0) {
      newlines_ += static_cast<size_t>(std::count(chunk, chunk + n, '\n'));
      if (newlines_ > max_lines_) {
        hit_ = BodyLimitHit::kLines;
        return false;
      }
    }
    while (n > 0) {
      if (pieces_.empty() || pieces_.back().size() == kPiece) {
        if (limits_.admit && !limits_.admit(size_ + kPiece, newlines_)) {
          hit_ = BodyLimitHit::kAdmission;
          return false;
        }
        pieces_.emplace_back();
        pieces_.back().reserve(std::min(kPiece, limits_.max_bytes - size_));
      }
      size_t take = std::min(n, kPiece - pieces_.back().size());
      pieces_.back().append(chunk, take);
      chunk += take;
      n -= take;
      size_ += take;
    }
    return true;
  }

  // Checks the final unterminated line.
  bool Finish() {
    if (max_lines_ > 0 &&
        newlines_ + (size_ > 0 && pieces_.back().back() != '\n' ? 1 : 0) > max_lines_) {
      hit_ = BodyLimitHit::kLines;
      return false;
    }
    return true;
  }

  Status TooBig(std::string_view codec) const {
    switch (hit_) {
      case BodyLimitHit::kLines:
        return Status::ResourceExhausted(std::string(codec) + ": decoded body has more than " +
                                         std::to_string(max_lines_) + " lines");
      case BodyLimitHit::kAdmission:
        return Status::ResourceExhausted(std::string(codec) +
                                         ": no memory budget left for the decoded body");
      default:
        return Status::ResourceExhausted(std::string(codec) +
                                         ": decoded body exceeds the limit of " +
                                         std::to_string(limits_.max_bytes) + " bytes");
    }
  }

  BodyLimitHit hit() const { return hit_; }

  std::string Take() {
    if (pieces_.size() == 1) return std::move(pieces_.front());
    std::string out;
    out.reserve(size_);
    for (std::string& piece : pieces_) {
      out += piece;
      std::string().swap(piece);
    }
    return out;
  }

 private:
  static constexpr size_t kPiece = 1 << 20;
  const BodyLimits& limits_;
  const size_t max_lines_;
  size_t size_ = 0;
  size_t newlines_ = 0;
  BodyLimitHit hit_ = BodyLimitHit::kNone;
  std::vector<std::string> pieces_;
};

// gzip (RFC 1952, several members allowed) or zlib/raw deflate for "deflate".
Status Inflate(std::string_view body, bool gzip, Output* out) {
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
  std::vector<char> buf(kChunk);
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = buf.size() - zs.avail_out;
    if (!out->Add(buf.data(), produced)) return out->TooBig(codec);
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
  return Status::OK();
}

Status Zstd(std::string_view body, Output* out) {
  if (body.empty()) return Status::InvalidArgument("zstd: empty body");
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return Status::Internal("zstd: out of memory");
  // Bound the window a hostile frame can make us allocate (128 MiB, zstd's --long maximum).
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 27);
  ZSTD_inBuffer in{body.data(), body.size(), 0};
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
    if (!out->Add(buf.data(), ob.pos)) return out->TooBig("zstd");
  }
  // Drain what the decoder still holds (input consumed, output buffer was full).
  while (last != 0) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(dctx.get(), &ob, &in);
    if (ZSTD_isError(last)) {
      return Status::InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(last) + " at byte " +
                                     std::to_string(in.pos));
    }
    if (!out->Add(buf.data(), ob.pos)) return out->TooBig("zstd");
    if (ob.pos == 0 && last != 0) {
      return Status::InvalidArgument("zstd: truncated frame: input ended at byte " +
                                     std::to_string(in.pos) + " before the end of the frame");
    }
  }
  return Status::OK();
}

Status Lz4(std::string_view body, Output* out) {
  if (body.empty()) return Status::InvalidArgument("lz4: empty body");
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return Status::Internal("lz4: out of memory");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> dctx(raw,
                                                                    LZ4F_freeDecompressionContext);
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
    if (!out->Add(buf.data(), dst_size)) return out->TooBig("lz4");
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
  return Status::OK();
}

Status DecodeOne(std::string_view body, std::string_view encoding, Output* out) {
  if (encoding.empty() || encoding == "identity") {
    if (!out->Add(body.data(), body.size())) return out->TooBig("body");
    return Status::OK();
  }
  if (encoding == "gzip" || encoding == "x-gzip") return Inflate(body, /*gzip=*/true, out);
  if (encoding == "deflate") return Inflate(body, /*gzip=*/false, out);
  if (encoding == "zstd") return Zstd(body, out);
  if (encoding == "lz4") return Lz4(body, out);
  return Status::InvalidArgument("unsupported Content-Encoding '" + std::string(encoding) +
                                 "' (supported: identity, gzip, deflate, zstd, lz4)");
}

// Decodes one layer; lines are counted only on the last (innermost) one.
Result<std::string> DecodeLayer(std::string_view body, std::string_view encoding,
                                const BodyLimits& limits, bool last, BodyLimitHit* hit) {
  Output out(limits, last);
  Status status = DecodeOne(body, encoding, &out);
  if (status.ok() && !out.Finish()) status = out.TooBig(encoding.empty() ? "body" : encoding);
  if (!status.ok()) {
    if (hit != nullptr) *hit = out.hit();
    return status;
  }
  return out.Take();
}

}  // namespace

size_t CountLines(std::string_view body) {
  if (body.empty()) return 0;
  // memchr is vectorised in glibc; std::count over chars was a byte loop here (3.5% of the
  // server's instructions per ingested line under callgrind: it runs on every body, twice).
  size_t lines = 0;
  const char* p = body.data();
  const char* const end = p + body.size();
  while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
    ++lines;
    p = static_cast<const char*>(nl) + 1;
  }
  return body.back() == '\n' ? lines : lines + 1;
}

Result<std::string> DecodeBody(std::string_view body, std::string_view content_encoding,
                               size_t max_bytes) {
  return DecodeBody(body, content_encoding, BodyLimits{max_bytes, 0, nullptr}, nullptr);
}

Result<std::string> DecodeBody(std::string_view body, std::string_view content_encoding,
                               const BodyLimits& limits, BodyLimitHit* hit) {
  if (hit != nullptr) *hit = BodyLimitHit::kNone;
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
  if (codings.empty()) return DecodeLayer(body, "", limits, /*last=*/true, hit);
  if (codings.size() > 4)
    return Status::InvalidArgument("Content-Encoding lists more than 4 codings");
  ASSIGN_OR_RETURN(std::string current,
                   DecodeLayer(body, codings.back(), limits, codings.size() == 1, hit));
  for (auto it = codings.rbegin() + 1; it != codings.rend(); ++it) {
    ASSIGN_OR_RETURN(current, DecodeLayer(current, *it, limits, it + 1 == codings.rend(), hit));
  }
  return current;
}

}  // namespace sawmill::ingest
