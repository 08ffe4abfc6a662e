// Appends logical records to one WAL file in the block format of log_format.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/env.h"
#include "sawmill/status.h"

namespace sawmill::wal {

// Not thread-safe: one writer thread at a time (the WAL manager's group-commit leader).
class LogWriter {
 public:
  // "*dest" must remain live while this LogWriter is in use. "dest_length" is the number of
  // bytes the file already holds (0 for a new file).
  LogWriter(WritableFile* dest, uint32_t log_number, uint64_t dest_length = 0);

  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Encodes "payload" as one logical record into "*out" (appended), advancing the block
  // position as if "*out" had been written. Use with Write() to hand many records to the file in
  // one call. An empty payload is a valid record.
  void Encode(std::string_view payload, std::string* out);

  // Appends bytes produced by Encode() to the file (not synced).
  // Errors: as WritableFile::Append. After an error the file's contents are unknown and this
  // writer must not be used again.
  Status Write(std::string_view encoded);

  // Encode + Write.
  Status AddRecord(std::string_view payload);

  // Makes everything written so far durable.
  Status Sync();

  uint32_t log_number() const { return log_number_; }
  // Bytes of the file, as encoded so far.
  uint64_t size() const { return file_size_; }

 private:
  void EmitPhysical(uint8_t type, const char* data, size_t n, std::string* out);

  WritableFile* dest_;
  uint32_t log_number_;
  uint32_t block_offset_;  // position inside the current block
  uint64_t file_size_;
  std::string scratch_;
};

}  // namespace sawmill::wal
