// Reads logical records back from one WAL file (format: log_format.h, docs/format/wal.md).
//
// Damage handling, so that replay never crashes and loses as little as possible:
//  - A physical record with a bad checksum, impossible length or unknown type is skipped and
//    reported once per damaged logical record; the reader resynchronises on the next FULL or
//    FIRST fragment (orphaned MIDDLE/LAST fragments of the damaged record are dropped silently).
//  - A truncated header, payload or fragment sequence at the end of the file is a tail the reader
//    cannot use: not reported here, but valid_end() tells where the usable data ended, so that
//    the WAL manager can compare it with the size it knows was synced (acknowledged) and report
//    a truncation (docs/format/wal.md, "Reading").
//  - A record whose checksum is fine but whose log number is not this file's is a leftover of a
//    recycled file: reading stops there, as at end of file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/env.h"
#include "sawmill/status.h"

namespace sawmill::wal {

class LogReader {
 public:
  // Receives every damaged region the reader skips. Called from the reading thread.
  class Reporter {
   public:
    virtual ~Reporter() = default;
    // A damaged region starting at file offset "offset", about "bytes" long, was dropped.
    // "kind" is one of checksum, bad_length, bad_type, orphan_fragment, read_error; "reason" is
    // DataLoss with file and offset.
    virtual void Corruption(uint64_t offset, uint64_t bytes, std::string_view kind,
                            const Status& reason) = 0;
  };

  // "*reporter" may be null and must outlive the reader. "name" is used in messages only.
  LogReader(std::unique_ptr<SequentialFile> file, std::string name, uint32_t log_number,
            Reporter* reporter);

  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // Reads the next logical record into "*record". Returns false at the end of the usable data
  // (end of file, torn tail, stale bytes, or a read error, which is reported).
  bool ReadRecord(std::string* record);

  // Offset just past the last physical record returned or skipped.
  uint64_t end_offset() const { return end_of_buffer_offset_ - buffer_.size(); }
  // True when reading stopped at stale bytes of another log number.
  bool stopped_at_stale_bytes() const { return stale_; }
  // Offset just past the last logical record returned or damaged region reported: once
  // ReadRecord returned false, the bytes from here to the end of the file are an unusable tail.
  uint64_t valid_end() const { return valid_end_; }

 private:
  enum class Fragment { kRecord, kEof, kBad, kStale };
  // Reads one physical record; "*type" is its RecordType as a byte.
  Fragment ReadPhysical(std::string_view* payload, uint8_t* type);
  void Report(uint64_t offset, uint64_t bytes, std::string_view kind, const std::string& what);

  std::unique_ptr<SequentialFile> file_;
  std::string name_;
  uint32_t log_number_;
  Reporter* reporter_;
  std::unique_ptr<char[]> backing_;
  std::string_view buffer_;
  bool eof_ = false;
  bool stale_ = false;
  uint64_t end_of_buffer_offset_ = 0;  // file offset just past "buffer_"
  uint64_t valid_end_ = 0;
};

}  // namespace sawmill::wal
