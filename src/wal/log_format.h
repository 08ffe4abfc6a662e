// Constants the WAL writer and reader share. Format: docs/format/wal.md.
//
// A WAL file is a sequence of 32 KiB blocks. Each logical record (one Append batch) is cut into
// one or more physical records (fragments) that never straddle a block boundary:
//
//   physical_record := checksum:fixed32 length:fixed16 type:uint8 log_number:fixed32 payload
//
// The checksum is the masked CRC32C of type, log_number and payload. The log number is the
// file's own number (its name), so bytes left over from a recycled file are rejected.
#pragma once

#include <cstdint>

namespace sawmill::wal {

enum class RecordType : uint8_t {
  // Zero is reserved for preallocated or padded space.
  kZero = 0,
  kFull = 1,
  // A record cut into fragments: FIRST, MIDDLE*, LAST.
  kFirst = 2,
  kMiddle = 3,
  kLast = 4,
};
inline constexpr uint8_t kMaxRecordType = 4;

inline constexpr uint32_t kBlockSize = 32768;

// checksum (4) + length (2) + type (1) + log number (4).
inline constexpr uint32_t kHeaderSize = 4 + 2 + 1 + 4;

// File names: DIR/wal/<log number, 6+ digits>.log
inline constexpr const char* kLogSuffix = ".log";

}  // namespace sawmill::wal
