#include "wal/log_reader.h"

#include <algorithm>

#include "common/coding.h"
#include "common/crc32c.h"
#include "wal/log_format.h"

namespace sawmill::wal {

LogReader::LogReader(std::unique_ptr<SequentialFile> file, std::string name, uint32_t log_number,
                     Reporter* reporter)
    : file_(std::move(file)),
      name_(std::move(name)),
      log_number_(log_number),
      reporter_(reporter),
      backing_(new char[kBlockSize]) {}

void LogReader::Report(uint64_t offset, uint64_t bytes, std::string_view kind,
                       const std::string& what) {
  valid_end_ = std::max(valid_end_, offset + bytes);
  if (reporter_ == nullptr) return;
  reporter_->Corruption(
      offset, bytes, kind,
      Status::DataLoss(name_ + ": " + what + " at offset " + std::to_string(offset)));
}

LogReader::Fragment LogReader::ReadPhysical(std::string_view* payload, uint8_t* type) {
  while (true) {
    if (buffer_.size() < kHeaderSize) {
      if (eof_) {
        // A partial header at the end of the file: the writer died mid-write.
        buffer_ = {};
        return Fragment::kEof;
      }
      // The rest of a block shorter than a header is zero padding.
      buffer_ = {};
      Status s = file_->Read(kBlockSize, &buffer_, backing_.get());
      end_of_buffer_offset_ += buffer_.size();
      if (!s.ok()) {
        buffer_ = {};
        eof_ = true;
        Report(end_of_buffer_offset_, kBlockSize, "read_error", "read error: " + s.ToString());
        return Fragment::kEof;
      }
      if (buffer_.size() < kBlockSize) eof_ = true;
      continue;
    }
    const char* header = buffer_.data();
    const uint64_t offset = end_offset();
    const uint32_t length = static_cast<uint8_t>(header[4]) |
                            (static_cast<uint32_t>(static_cast<uint8_t>(header[5])) << 8);
    const uint8_t record_type = static_cast<uint8_t>(header[6]);
    if (record_type == static_cast<uint8_t>(RecordType::kZero) && length == 0 &&
        DecodeFixed32(header) == 0) {
      // Zeroed space (preallocation): nothing more in this block.
      buffer_ = {};
      continue;
    }
    if (kHeaderSize + length > buffer_.size()) {
      const uint64_t dropped = buffer_.size();
      buffer_ = {};
      if (eof_) return Fragment::kEof;  // torn tail
      Report(offset, dropped, "bad_length", "bad record length " + std::to_string(length));
      return Fragment::kBad;
    }
    const uint32_t expected = crc32c::Unmask(DecodeFixed32(header));
    uint32_t actual = crc32c::Value(header + 6, 1 + 4);
    actual = crc32c::Extend(actual, header + kHeaderSize, length);
    if (actual != expected) {
      // Trust the length to skip just this record: a damaged length leads to further checksum
      // failures inside this block, which the caller reports once per logical record.
      Report(offset, kHeaderSize + length, "checksum", "bad record checksum");
      buffer_.remove_prefix(kHeaderSize + length);
      return Fragment::kBad;
    }
    if (DecodeFixed32(header + 7) != log_number_) {
      buffer_ = {};
      stale_ = true;
      eof_ = true;
      return Fragment::kStale;
    }
    if (record_type == 0 || record_type > kMaxRecordType) {
      Report(offset, kHeaderSize + length, "bad_type",
             "unknown record type " + std::to_string(record_type));
      buffer_.remove_prefix(kHeaderSize + length);
      return Fragment::kBad;
    }
    *payload = std::string_view(header + kHeaderSize, length);
    *type = record_type;
    buffer_.remove_prefix(kHeaderSize + length);
    return Fragment::kRecord;
  }
}

bool LogReader::ReadRecord(std::string* record) {
  record->clear();
  bool in_fragmented = false;
  // After a damaged fragment, the rest of its logical record is dropped without a second report.
  bool skipping_damaged = false;
  std::string_view fragment;
  uint8_t type = 0;
  uint64_t record_start = end_offset();
  // A dropped fragment: the reported damage or the rest of a damaged record, so not a tail.
  auto dropped = [&] { valid_end_ = std::max(valid_end_, end_offset()); };
  while (true) {
    const uint64_t fragment_start = end_offset();
    Fragment f = ReadPhysical(&fragment, &type);
    if (f == Fragment::kEof || f == Fragment::kStale) {
      record->clear();  // a record cut off by the end of the file is a torn tail
      return false;
    }
    if (f == Fragment::kBad) {
      // ReadPhysical reported it; whatever was being assembled is lost with it.
      in_fragmented = false;
      record->clear();
      skipping_damaged = true;
      continue;
    }
    switch (static_cast<RecordType>(type)) {
      case RecordType::kFull:
        if (in_fragmented) {
          Report(record_start, fragment_start - record_start, "orphan_fragment",
                 "fragmented record without its last part");
        }
        record->assign(fragment);
        valid_end_ = std::max(valid_end_, end_offset());
        return true;
      case RecordType::kFirst:
        if (in_fragmented) {
          Report(record_start, fragment_start - record_start, "orphan_fragment",
                 "fragmented record without its last part");
        }
        record->assign(fragment);
        record_start = fragment_start;
        in_fragmented = true;
        skipping_damaged = false;
        break;
      case RecordType::kMiddle:
        if (in_fragmented) {
          record->append(fragment);
        } else if (!skipping_damaged) {
          Report(fragment_start, end_offset() - fragment_start, "orphan_fragment",
                 "middle fragment without a first part");
          skipping_damaged = true;
        } else {
          dropped();
        }
        break;
      case RecordType::kLast:
        if (in_fragmented) {
          record->append(fragment);
          valid_end_ = std::max(valid_end_, end_offset());
          return true;
        }
        if (!skipping_damaged) {
          Report(fragment_start, end_offset() - fragment_start, "orphan_fragment",
                 "last fragment without a first part");
        } else {
          dropped();
        }
        skipping_damaged = false;
        break;
      case RecordType::kZero: break;
    }
  }
}

}  // namespace sawmill::wal
