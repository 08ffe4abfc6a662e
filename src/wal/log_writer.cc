#include "wal/log_writer.h"

#include <algorithm>

#include "common/coding.h"
#include "common/crc32c.h"
#include "wal/log_format.h"

namespace sawmill::wal {

LogWriter::LogWriter(WritableFile* dest, uint32_t log_number, uint64_t dest_length)
    : dest_(dest),
      log_number_(log_number),
      block_offset_(static_cast<uint32_t>(dest_length % kBlockSize)),
      file_size_(dest_length) {}

void LogWriter::Encode(std::string_view payload, std::string* out) {
  const char* ptr = payload.data();
  size_t left = payload.size();
  bool begin = true;
  // Invariant: a fragment is emitted even for an empty payload, so that every logical record has
  // at least one physical record.
  do {
    const uint32_t leftover = kBlockSize - block_offset_;
    if (leftover < kHeaderSize) {
      // Not even a header fits: pad the block's tail with zeros, which the reader skips.
      out->append(leftover, '\0');
      file_size_ += leftover;
      block_offset_ = 0;
    }
    const size_t avail = kBlockSize - block_offset_ - kHeaderSize;
    const size_t fragment = std::min(left, avail);
    const bool end = (left == fragment);
    RecordType type;
    if (begin && end) {
      type = RecordType::kFull;
    } else if (begin) {
      type = RecordType::kFirst;
    } else if (end) {
      type = RecordType::kLast;
    } else {
      type = RecordType::kMiddle;
    }
    EmitPhysical(static_cast<uint8_t>(type), ptr, fragment, out);
    ptr += fragment;
    left -= fragment;
    begin = false;
  } while (left > 0);
}

void LogWriter::EmitPhysical(uint8_t type, const char* data, size_t n, std::string* out) {
  char header[kHeaderSize];
  header[4] = static_cast<char>(n & 0xff);
  header[5] = static_cast<char>(n >> 8);
  header[6] = static_cast<char>(type);
  EncodeFixed32(header + 7, log_number_);
  uint32_t crc = crc32c::Value(header + 6, 1 + 4);
  crc = crc32c::Extend(crc, data, n);
  EncodeFixed32(header, crc32c::Mask(crc));
  out->append(header, kHeaderSize);
  out->append(data, n);
  block_offset_ += static_cast<uint32_t>(kHeaderSize + n);
  file_size_ += kHeaderSize + n;
}

Status LogWriter::Write(std::string_view encoded) { return dest_->Append(encoded); }

Status LogWriter::AddRecord(std::string_view payload) {
  scratch_.clear();
  Encode(payload, &scratch_);
  return Write(scratch_);
}

Status LogWriter::Sync() { return dest_->Sync(); }

}  // namespace sawmill::wal
