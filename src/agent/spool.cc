#include "agent/spool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/mutex.h"

namespace sawmill::agent {

namespace {

constexpr std::string_view kMagic = "SAWSPOL1";
constexpr std::string_view kSuffix = ".batch";

struct Header {
  SpoolBatch batch;                 // sections without data
  std::vector<uint32_t> data_lens;  // per section
  size_t body_offset = 0;           // where section data starts in the file
};

Result<Header> DecodeHeader(std::string_view data) {
  if (data.size() < kMagic.size() + 4 || data.substr(0, kMagic.size()) != kMagic) {
    return Status::DataLoss("not a spool batch (bad magic)");
  }
  uint32_t header_len = DecodeFixed32(data.data() + kMagic.size());
  size_t header_start = kMagic.size() + 4;
  if (data.size() < header_start + header_len + 4) {
    return Status::DataLoss("truncated header");
  }
  std::string_view header = data.substr(header_start, header_len);
  uint32_t stored = DecodeFixed32(data.data() + header_start + header_len);
  if (crc32c::Unmask(stored) != crc32c::Value(header)) {
    return Status::DataLoss("header checksum mismatch");
  }
  Header out;
  out.body_offset = header_start + header_len + 4;
  SpoolBatch& b = out.batch;
  uint32_t sections = 0;
  if (!GetFixed64(&header, &b.seq) ||
      !GetFixed64(&header, reinterpret_cast<uint64_t*>(&b.created_ns)) ||
      !DecodeCursors(&header, &b.cursors) || !GetVarint32(&header, &sections) || sections > 3) {
    return Status::DataLoss("malformed header");
  }
  for (uint32_t s = 0; s < sections; ++s) {
    if (header.empty()) return Status::DataLoss("malformed section header");
    BatchSection section;
    uint8_t cls = static_cast<uint8_t>(header[0]);
    header.remove_prefix(1);
    if (cls > 2) return Status::DataLoss("bad level class");
    section.cls = static_cast<LevelClass>(cls);
    uint32_t len = 0;
    if (!GetFixed32(&header, &section.lines) || !GetFixed32(&header, &section.raw_bytes)) {
      return Status::DataLoss("malformed section header");
    }
    for (int level = 0; level < kLevelCount; ++level) {
      uint32_t count = 0;
      if (!GetFixed32(&header, &count)) return Status::DataLoss("malformed section counts");
      section.counts[level] = count;
    }
    if (!GetFixed32(&header, &len)) return Status::DataLoss("malformed section header");
    out.data_lens.push_back(len);
    b.sections.push_back(std::move(section));
  }
  return out;
}

}  // namespace

LevelClass ClassOf(Level level) {
  switch (level) {
    case Level::kTrace:
    case Level::kDebug: return LevelClass::kLow;
    case Level::kWarn:
    case Level::kError:
    case Level::kFatal: return LevelClass::kHigh;
    default: return LevelClass::kInfo;
  }
}

std::string_view LevelClassName(LevelClass cls) {
  switch (cls) {
    case LevelClass::kLow: return "debug";
    case LevelClass::kInfo: return "info";
    case LevelClass::kHigh: return "warn";
  }
  return "?";
}

uint64_t SpoolBatch::Lines() const {
  uint64_t lines = 0;
  for (const auto& s : sections) lines += s.lines;
  return lines;
}

LevelCounts SpoolBatch::Counts() const {
  LevelCounts counts{};
  for (const auto& s : sections) {
    for (int level = 0; level < kLevelCount; ++level) counts[level] += s.counts[level];
  }
  return counts;
}

std::string EncodeBatch(const SpoolBatch& batch) {
  std::string header;
  PutFixed64(&header, batch.seq);
  PutFixed64(&header, static_cast<uint64_t>(batch.created_ns));
  EncodeCursors(batch.cursors, &header);
  PutVarint32(&header, static_cast<uint32_t>(batch.sections.size()));
  for (const auto& s : batch.sections) {
    header.push_back(static_cast<char>(s.cls));
    PutFixed32(&header, s.lines);
    PutFixed32(&header, s.raw_bytes);
    for (int level = 0; level < kLevelCount; ++level) {
      PutFixed32(&header, static_cast<uint32_t>(s.counts[level]));
    }
    PutFixed32(&header, static_cast<uint32_t>(s.data.size()));
  }
  std::string out(kMagic);
  PutFixed32(&out, static_cast<uint32_t>(header.size()));
  out.append(header);
  PutFixed32(&out, crc32c::Mask(crc32c::Value(header)));
  size_t body_start = out.size();
  for (const auto& s : batch.sections) out.append(s.data);
  PutFixed32(&out, crc32c::Mask(crc32c::Value(out.data() + body_start, out.size() - body_start)));
  return out;
}

Result<SpoolBatch> DecodeBatch(std::string_view data) {
  ASSIGN_OR_RETURN(Header header, DecodeHeader(data));
  size_t body_len = 0;
  for (uint32_t len : header.data_lens) body_len += len;
  if (data.size() != header.body_offset + body_len + 4) {
    return Status::DataLoss("size mismatch: " + std::to_string(data.size()) + " bytes, expected " +
                            std::to_string(header.body_offset + body_len + 4));
  }
  std::string_view body = data.substr(header.body_offset, body_len);
  if (crc32c::Unmask(DecodeFixed32(data.data() + header.body_offset + body_len)) !=
      crc32c::Value(body)) {
    return Status::DataLoss("body checksum mismatch");
  }
  size_t pos = 0;
  for (size_t s = 0; s < header.data_lens.size(); ++s) {
    header.batch.sections[s].data.assign(body.substr(pos, header.data_lens[s]));
    pos += header.data_lens[s];
  }
  return std::move(header.batch);
}

Result<std::unique_ptr<Spool>> Spool::Open(Env* env, const std::string& dir, uint64_t max_bytes) {
  RETURN_IF_ERROR(env->CreateDirs(dir));
  std::unique_ptr<Spool> spool(new Spool(env, dir, max_bytes));
  ASSIGN_OR_RETURN(std::vector<std::string> names, env->GetChildren(dir));
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string path = JoinPath(dir, name);
    if (name.ends_with(".tmp")) {
      env->RemoveFile(path).IgnoreError();
      continue;
    }
    if (!name.ends_with(kSuffix)) continue;
    auto file = env->NewRandomAccessFile(path);
    if (!file.ok()) return file.status();
    uint64_t size = (*file)->Size();
    std::string scratch(std::min<uint64_t>(size, 1 << 20), '\0');
    std::string_view prefix;
    RETURN_IF_ERROR((*file)->Read(0, scratch.size(), &prefix, scratch.data()));
    std::string big;
    if (prefix.size() >= kMagic.size() + 4) {
      uint32_t header_len = DecodeFixed32(prefix.data() + kMagic.size());
      size_t need = kMagic.size() + 8 + static_cast<size_t>(header_len);
      if (need > prefix.size() && need <= size) {
        big.resize(need);
        RETURN_IF_ERROR((*file)->Read(0, need, &prefix, big.data()));
      }
    }
    auto header = DecodeHeader(prefix);
    if (!header.ok()) {
      spdlog::error("agent spool: {}: {}; moved aside", path, header.status().message());
      spool->Quarantine(path);
      continue;
    }
    const SpoolBatch& b = header->batch;
    Entry entry;
    entry.created_ns = b.created_ns;
    entry.file_bytes = size;
    for (const auto& s : b.sections) entry.class_lines[static_cast<int>(s.cls)] += s.lines;
    entry.acked = b.sections.empty();
    {
      MutexLock l(&spool->mu_);  // not shared yet; taken for the analysis
      if (!entry.acked) spool->used_bytes_ += size;
      spool->entries_[b.seq] = entry;
    }
    spool->max_seq_ = std::max(spool->max_seq_, b.seq);
    for (const auto& c : b.cursors) MergeCursor(c, &spool->recovered_cursors_);
  }
  return spool;
}

std::string Spool::PathOf(uint64_t seq) const {
  char name[40];
  std::snprintf(name, sizeof(name), "%020llu.batch", static_cast<unsigned long long>(seq));
  return JoinPath(dir_, name);
}

void Spool::Quarantine(const std::string& path) {
  ++corrupt_files_;
  env_->RenameFile(path, path + ".corrupt").IgnoreError();
}

Status Spool::Append(const SpoolBatch& batch) {
  std::string data = EncodeBatch(batch);
  {
    MutexLock lock(&mu_);
    if (used_bytes_ + data.size() > max_bytes_ && !batch.sections.empty()) {
      return Status::ResourceExhausted("spool full: " + std::to_string(used_bytes_) + " of " +
                                       std::to_string(max_bytes_) + " bytes used");
    }
  }
  // The write and its fsyncs happen outside the lock so that sending is not held up; only the
  // pipeline thread appends, so the room checked above cannot be taken meanwhile (sending only
  // frees room).
  RETURN_IF_ERROR(WriteFileAtomically(env_, PathOf(batch.seq), data));
  MutexLock lock(&mu_);
  Entry entry;
  entry.created_ns = batch.created_ns;
  entry.file_bytes = data.size();
  for (const auto& s : batch.sections) entry.class_lines[static_cast<int>(s.cls)] += s.lines;
  entry.acked = batch.sections.empty();
  if (!entry.acked) used_bytes_ += data.size();
  entries_[batch.seq] = entry;
  max_seq_ = std::max(max_seq_, batch.seq);
  return Status::OK();
}

std::optional<SpoolDrop> Spool::DropOldest(LevelClass cls) {
  MutexLock lock(&mu_);
  for (auto& [seq, entry] : entries_) {
    if (entry.acked || entry.in_flight || entry.class_lines[static_cast<int>(cls)] == 0) continue;
    std::string path = PathOf(seq);
    std::string data;
    Status st = ReadFileToString(env_, path, &data);
    auto batch = st.ok() ? DecodeBatch(data) : Result<SpoolBatch>(st);
    if (!batch.ok()) {
      spdlog::error("agent spool: {}: {}; moved aside", path, batch.status().message());
      Quarantine(path);
      used_bytes_ -= entry.file_bytes;
      entries_.erase(seq);
      return SpoolDrop{seq, {}};
    }
    SpoolDrop drop{seq, {}};
    std::vector<BatchSection> kept;
    for (auto& s : batch->sections) {
      if (s.cls == cls) {
        drop.counts = s.counts;
      } else {
        kept.push_back(std::move(s));
      }
    }
    batch->sections = std::move(kept);
    std::string rewritten = EncodeBatch(*batch);
    Status write = WriteFileAtomically(env_, path, rewritten);
    if (!write.ok()) {
      spdlog::error("agent spool: rewriting {}: {}", path, write.ToString());
      return std::nullopt;
    }
    used_bytes_ -= entry.file_bytes;
    entry.file_bytes = rewritten.size();
    entry.class_lines[static_cast<int>(cls)] = 0;
    if (batch->sections.empty()) {
      entry.acked = true;
    } else {
      used_bytes_ += entry.file_bytes;
    }
    return drop;
  }
  return std::nullopt;
}

std::optional<uint64_t> Spool::NextToSend(Pick pick) {
  MutexLock lock(&mu_);
  auto usable = [](const Entry& e) { return !e.acked && !e.in_flight; };
  if (pick == Pick::kOldest) {
    for (auto& [seq, entry] : entries_) {
      if (usable(entry)) {
        entry.in_flight = true;
        return seq;
      }
    }
  } else {
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      if (usable(it->second)) {
        it->second.in_flight = true;
        return it->first;
      }
    }
  }
  return std::nullopt;
}

Result<SpoolBatch> Spool::Load(uint64_t seq, LevelCounts* lost) {
  std::string path = PathOf(seq);
  std::string data;
  Status st = ReadFileToString(env_, path, &data);
  auto batch = st.ok() ? DecodeBatch(data) : Result<SpoolBatch>(st);
  if (batch.ok()) return batch;
  if (batch.status().IsDataLoss()) {
    MutexLock lock(&mu_);
    spdlog::error("agent spool: {}: {}; moved aside", path, batch.status().message());
    auto it = entries_.find(seq);
    if (it != entries_.end()) {
      *lost = {};
      // The header may still be readable: count what was lost by it.
      auto header = DecodeHeader(data);
      if (header.ok()) *lost = header->batch.Counts();
      if (!it->second.acked) used_bytes_ -= it->second.file_bytes;
      entries_.erase(it);
    }
    Quarantine(path);
  }
  return batch.status();
}

void Spool::Ack(uint64_t seq) {
  MutexLock lock(&mu_);
  auto it = entries_.find(seq);
  if (it == entries_.end() || it->second.acked) return;
  it->second.acked = true;
  it->second.in_flight = false;
  used_bytes_ -= it->second.file_bytes;
}

void Spool::Release(uint64_t seq) {
  MutexLock lock(&mu_);
  auto it = entries_.find(seq);
  if (it != entries_.end()) it->second.in_flight = false;
}

std::vector<uint64_t> Spool::AckedSeqs() const {
  MutexLock lock(&mu_);
  std::vector<uint64_t> seqs;
  for (const auto& [seq, entry] : entries_) {
    if (entry.acked) seqs.push_back(seq);
  }
  return seqs;
}

void Spool::RemoveAcked(const std::vector<uint64_t>& seqs) {
  MutexLock lock(&mu_);
  for (uint64_t seq : seqs) {
    auto it = entries_.find(seq);
    if (it == entries_.end() || !it->second.acked) continue;
    env_->RemoveFile(PathOf(seq)).IgnoreError();
    entries_.erase(it);
  }
}

uint64_t Spool::UsedBytes() const {
  MutexLock lock(&mu_);
  return used_bytes_;
}

size_t Spool::PendingBatches() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [seq, entry] : entries_) n += entry.acked ? 0 : 1;
  return n;
}

std::optional<int64_t> Spool::OldestCreatedNs() const {
  MutexLock lock(&mu_);
  for (const auto& [seq, entry] : entries_) {
    if (!entry.acked) return entry.created_ns;
  }
  return std::nullopt;
}

std::array<uint64_t, kLevelClassCount> Spool::PendingLinesByClass() const {
  MutexLock lock(&mu_);
  std::array<uint64_t, kLevelClassCount> lines{};
  for (const auto& [seq, entry] : entries_) {
    if (entry.acked) continue;
    for (int c = 0; c < kLevelClassCount; ++c) lines[c] += entry.class_lines[c];
  }
  return lines;
}

}  // namespace sawmill::agent
