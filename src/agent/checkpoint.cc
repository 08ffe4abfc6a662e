#include "agent/checkpoint.h"

#include "common/coding.h"
#include "common/crc32c.h"

namespace sawmill::agent {

namespace {
constexpr std::string_view kMagic = "SAWCKPT1";
}

void EncodeCursors(const std::vector<FileCursor>& cursors, std::string* dst) {
  PutVarint32(dst, static_cast<uint32_t>(cursors.size()));
  for (const auto& c : cursors) {
    PutFixed64(dst, c.dev);
    PutFixed64(dst, c.ino);
    PutFixed64(dst, c.fingerprint);
    PutFixed32(dst, c.fp_len);
    PutFixed64(dst, c.offset);
    PutLengthPrefixed(dst, c.path);
  }
}

bool DecodeCursors(std::string_view* input, std::vector<FileCursor>* cursors) {
  uint32_t count = 0;
  if (!GetVarint32(input, &count)) return false;
  for (uint32_t i = 0; i < count; ++i) {
    FileCursor c;
    std::string_view path;
    if (!GetFixed64(input, &c.dev) || !GetFixed64(input, &c.ino) ||
        !GetFixed64(input, &c.fingerprint) || !GetFixed32(input, &c.fp_len) ||
        !GetFixed64(input, &c.offset) || !GetLengthPrefixed(input, &path)) {
      return false;
    }
    c.path.assign(path);
    cursors->push_back(std::move(c));
  }
  return true;
}

Status WriteCheckpoint(Env* env, const std::string& path, const Checkpoint& checkpoint) {
  std::string data(kMagic);
  PutFixed64(&data, checkpoint.next_seq);
  EncodeCursors(checkpoint.files, &data);
  PutFixed32(&data, crc32c::Mask(crc32c::Value(data)));
  return WriteFileAtomically(env, path, data);
}

Result<Checkpoint> ReadCheckpoint(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return Status::NotFound("no checkpoint at " + path);
  std::string data;
  RETURN_IF_ERROR(ReadFileToString(env, path, &data));
  if (data.size() < kMagic.size() + 12 || std::string_view(data).substr(0, 8) != kMagic) {
    return Status::DataLoss(path + ": not a checkpoint file");
  }
  uint32_t stored = DecodeFixed32(data.data() + data.size() - 4);
  if (crc32c::Unmask(stored) != crc32c::Value(data.data(), data.size() - 4)) {
    return Status::DataLoss(path + ": checksum mismatch");
  }
  std::string_view input(data.data() + kMagic.size(), data.size() - kMagic.size() - 4);
  Checkpoint checkpoint;
  if (!GetFixed64(&input, &checkpoint.next_seq) || !DecodeCursors(&input, &checkpoint.files)) {
    return Status::DataLoss(path + ": truncated record");
  }
  return checkpoint;
}

void MergeCursor(const FileCursor& cursor, std::vector<FileCursor>* cursors) {
  for (auto& c : *cursors) {
    if (c.SameFile(cursor)) {
      if (cursor.offset > c.offset) {
        c.offset = cursor.offset;
        c.path = cursor.path;
      }
      return;
    }
  }
  cursors->push_back(cursor);
}

}  // namespace sawmill::agent
