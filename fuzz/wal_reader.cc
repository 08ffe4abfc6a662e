// Fuzz target: an arbitrary byte string read as a WAL file by LogReader, and every logical
// record it returns decoded as a record batch, as replay after a crash does.
// Input: byte 0 is the mode; the rest is the file.
//   bit 0 clear: the file as it is (torn tails, garbage, a recycled file's leftovers).
//   bit 0 set: every physical record header that fits gets this file's log number and a
//     correct checksum first, so that mutations reach the fragment assembly and the batch
//     decoder instead of stopping at the CRC.
#include <memory>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/fault_env.h"
#include "fuzz_util.h"
#include "wal/log_format.h"
#include "wal/log_reader.h"
#include "wal/record_batch.h"

using namespace sawmill;
using namespace sawmill::wal;

namespace {

constexpr uint32_t kLogNumber = 42;

void FixChecksums(std::string* file) {
  size_t pos = 0;
  while (pos + kHeaderSize <= file->size()) {
    size_t left_in_block = kBlockSize - pos % kBlockSize;
    if (left_in_block < kHeaderSize) {
      pos += left_in_block;
      continue;
    }
    char* header = file->data() + pos;
    size_t length = static_cast<uint8_t>(header[4]) | (static_cast<uint8_t>(header[5]) << 8);
    if (length > left_in_block - kHeaderSize || length > file->size() - pos - kHeaderSize) {
      pos += left_in_block;  // not a record that fits: try the next block
      continue;
    }
    EncodeFixed32(header + 7, kLogNumber);
    uint32_t crc = crc32c::Value(header + 6, 1 + 4);
    crc = crc32c::Extend(crc, header + kHeaderSize, length);
    EncodeFixed32(header, crc32c::Mask(crc));
    pos += kHeaderSize + length;
  }
}

class CountingReporter : public LogReader::Reporter {
 public:
  void Corruption(uint64_t offset, uint64_t bytes, std::string_view kind,
                  const Status& reason) override {
    FUZZ_CHECK(!reason.ok());
    FUZZ_CHECK(!kind.empty());
    FUZZ_CHECK(offset + bytes <= file_size);  // damage is made of the file's bytes
    ++count;
  }
  uint64_t file_size = 0;
  int count = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string file(fuzz::AsView(data + 1, size - 1));
  if (data[0] & 1) FixChecksums(&file);

  static FaultInjectionEnv* env = new FaultInjectionEnv();
  const std::string path = "/fuzz/wal/000042.log";
  FUZZ_CHECK(env->SetContents(path, file).ok());
  auto seq = env->NewSequentialFile(path);
  FUZZ_CHECK(seq.ok());
  CountingReporter reporter;
  reporter.file_size = file.size();
  LogReader reader(std::move(seq.value()), path, kLogNumber, &reporter);
  std::string record;
  uint64_t total = 0;
  while (reader.ReadRecord(&record)) {
    total += record.size();
    FUZZ_CHECK(total <= file.size());  // records are made of the file's bytes
    FUZZ_CHECK(reader.end_offset() <= file.size());
    std::vector<Record> records;
    Status s = DecodeBatch(record, &records);
    if (!s.ok()) FUZZ_CHECK(s.code() == StatusCode::kDataLoss);
  }
  FUZZ_CHECK(reader.end_offset() <= file.size());
  FUZZ_CHECK(reader.valid_end() <= file.size());  // the unusable tail is never negative
  return 0;
}
