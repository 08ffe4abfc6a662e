// Codec::kZstd: one zstd frame, magicless, without content size, checksum or dictionary id (the
// footer holds the raw size and the block trailer a CRC, so the frame need not). Its state is
// one compression and one decompression context, made on first use.
#include "segment/block_codec.h"
// For ZSTD_c_format / ZSTD_d_format (magicless frames); the functions used are stable.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>

namespace sawmill::segment {

namespace {

struct Contexts {
  ZSTD_CCtx* cctx = nullptr;
  ZSTD_DCtx* dctx = nullptr;
  ~Contexts() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};

Contexts* StateOf(void** state) {
  if (*state == nullptr) *state = new Contexts;
  return static_cast<Contexts*>(*state);
}

// The hash table log for "level" on a block of "size" bytes; 0 keeps zstd's own. For blocks of
// 0.5 to 2 MiB (the hot tier's message blocks: 8,192 rows) zstd gives levels 5 to 12 (the text
// is level 9) a table of 2^21 or 2^22 slots, twice the positions of the window: at level 9 a
// context of 13-14 MiB per writer, 10 of them table. 2^20 slots (a 4 MiB table) lose 0.07 % of
// the bytes on the corpus's message blocks and fill faster (fewer cache misses): 25-30 % less
// time at level 9 (docs/performance.md "The flush's memory"). The warm tier's levels (16 and up:
// binary-tree match finders, larger blocks, written rarely) keep zstd's sizes.
constexpr unsigned kHotMaxHashLog = 20;

unsigned HashLogFor(int level, size_t size) {
  if (level >= 16) return 0;
  const ZSTD_compressionParameters p = ZSTD_getCParams(level, size, 0);
  return p.hashLog > kHotMaxHashLog ? kHotMaxHashLog : 0;
}

bool Compress(std::string_view raw, int level, void** state, std::string* out) {
  Contexts* ctx = StateOf(state);
  if (ctx->cctx == nullptr) {
    ctx->cctx = ZSTD_createCCtx();
    // Bytes per block count for segments of many small field columns.
    ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
    ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_dictIDFlag, 0);
  }
  ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_compressionLevel, level);
  // zstd turns its block splitter (a block's literals and sequences cut where their statistics
  // change, each part with its own entropy tables) on by itself only for windows of 128 KiB and
  // more, and a small input gets a smaller window; on for every block at the warm tier's levels
  // (16 and up, the optimal parsers it works with): blocks of mixed content (the word
  // postings' words, gaps and run lengths) shrink by about 5 %, with no change for a reader
  // (docs/storage.md "Warm encoding: measured").
  ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_useBlockSplitter,
                         level >= 16 ? ZSTD_ps_enable : ZSTD_ps_auto);
  ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_hashLog,
                         static_cast<int>(HashLogFor(level, raw.size())));
  size_t start = out->size();
  size_t bound = ZSTD_compressBound(raw.size());
  out->resize(start + bound);
  size_t n = ZSTD_compress2(ctx->cctx, out->data() + start, bound, raw.data(), raw.size());
  if (ZSTD_isError(n)) return false;
  out->resize(start + n);
  return true;
}

Status Decompress(std::string_view payload, std::string* raw, void** state) {
  Contexts* ctx = StateOf(state);
  if (ctx->dctx == nullptr) {
    ctx->dctx = ZSTD_createDCtx();
    ZSTD_DCtx_setParameter(ctx->dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
  }
  size_t n =
      ZSTD_decompressDCtx(ctx->dctx, raw->data(), raw->size(), payload.data(), payload.size());
  if (ZSTD_isError(n)) return Status::DataLoss(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != raw->size()) {
    return Status::DataLoss("zstd block decompressed to " + std::to_string(n) +
                            " bytes, expected " + std::to_string(raw->size()));
  }
  return Status::OK();
}

// Block by block, straight into "*raw" (zstd's buffer-less API: each block is decoded where it
// belongs, with the bytes before it as its history), as far as "need" asks: zstd decodes a block
// (at most 128 KiB of output) at a time, so it stops within a block of what is needed. "*raw" is
// sized to the whole block first and cut back at the end, so a reused buffer is zero-filled only
// where it grows past what it held before (that filling is not free at 1 MiB a block: it is
// left at that size, "*got" saying how much of it was decompressed), and no block is copied out
// of a window buffer (docs/performance.md "Reading a few rows of a block", "Session 17: the rare
// word at 10 M").
Status DecompressPrefix(std::string_view payload, uint64_t raw_size, std::string* raw,
                        const std::function<uint64_t(std::string_view)>& need, void** state,
                        size_t* got) {
  *got = 0;
  Contexts* ctx = StateOf(state);
  if (ctx->dctx == nullptr) {
    ctx->dctx = ZSTD_createDCtx();
    ZSTD_DCtx_setParameter(ctx->dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
  }
  const size_t total = static_cast<size_t>(raw_size);
  raw->resize(total);
  size_t begun = ZSTD_decompressBegin(ctx->dctx);
  if (ZSTD_isError(begun)) {
    raw->clear();
    return Status::DataLoss(std::string("zstd: ") + ZSTD_getErrorName(begun));
  }
  size_t in = 0, out = 0;
  Status result;
  for (;;) {
    const size_t next = ZSTD_nextSrcSizeToDecompress(ctx->dctx);
    if (next == 0) {  // the frame is complete
      if (out != total) {
        result = Status::DataLoss("zstd block decompressed to " + std::to_string(out) +
                                  " bytes, expected " + std::to_string(total));
      }
      break;
    }
    if (out == total || (out > 0 && need(std::string_view(raw->data(), out)) <= out)) break;
    if (next > payload.size() - in) {
      result = Status::DataLoss("zstd block ends early (" + std::to_string(out) + " of " +
                                std::to_string(total) + " bytes)");
      break;
    }
    const size_t n = ZSTD_decompressContinue(ctx->dctx, raw->data() + out, total - out,
                                             payload.data() + in, next);
    if (ZSTD_isError(n)) {
      result = Status::DataLoss(std::string("zstd: ") + ZSTD_getErrorName(n));
      break;
    }
    in += next;
    out += n;
  }
  *got = result.ok() ? out : 0;
  return result;
}

void FreeState(void* state) { delete static_cast<Contexts*>(state); }

size_t StateBytes(const void* state) {
  const auto* ctx = static_cast<const Contexts*>(state);
  return ZSTD_sizeof_CCtx(ctx->cctx) + ZSTD_sizeof_DCtx(ctx->dctx);
}

}  // namespace

extern const BlockCodecKind kZstdCodec;  // registered in block_codec.cc
const BlockCodecKind kZstdCodec{Codec::kZstd,      "zstd",     &Compress, &Decompress, &FreeState,
                                &DecompressPrefix, &StateBytes};

}  // namespace sawmill::segment
