#include "objstore/cold_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/hash.h"
#include "common/metrics.h"

namespace sawmill::objstore {

namespace {

// docs/format/cold-cache.md:
//   file   := header data
//   header := magic "SWCC" | version u8 (1) | name_len u32 | name | object_size u64 | offset u64
//             | length u64 | data_crc u32 (masked CRC32C of data) | header_crc u32 (masked CRC32C
//             of every header byte before it)
constexpr std::string_view kMagic = "SWCC";
constexpr uint8_t kVersion = 1;
constexpr std::string_view kSuffix = ".blk";
constexpr size_t kMaxName = 4096;
// The fixed part of a header: magic, version, name_len, object_size, offset, length, 2 CRCs.
constexpr size_t kFixedHeader = 4 + 1 + 4 + 8 + 8 + 8 + 4 + 4;

thread_local ColdReadTally* current_tally = nullptr;

struct CacheMetrics {
  prometheus::Counter* hits;
  prometheus::Counter* misses;
  prometheus::Counter* fetched_bytes;
  prometheus::Counter* evictions;
  prometheus::Counter* damaged;
  prometheus::Gauge* bytes;

  static CacheMetrics& Get() {
    static CacheMetrics m = [] {
      const auto counter = UnlabelledCounter;
      CacheMetrics c;
      c.hits = counter("sawmill_cold_cache_hits_total",
                       "Ranges of cold objects served by the local cold cache");
      c.misses = counter("sawmill_cold_cache_misses_total",
                         "Ranges of cold objects the cold cache did not hold (fetched)");
      c.fetched_bytes = counter("sawmill_cold_cache_fetched_bytes_total",
                                "Bytes fetched from the cold store on cold cache misses");
      c.evictions = counter("sawmill_cold_cache_evictions_total",
                            "Cached ranges evicted to stay within cold_cache_bytes");
      c.damaged = counter("sawmill_cold_cache_damaged_total",
                          "Cold cache files found torn or damaged (deleted, never served)");
      c.bytes = UnlabelledGauge("sawmill_cold_cache_bytes",
                                "Bytes of cold object ranges in the local cold cache");
      return c;
    }();
    return m;
  }
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string EncodeHeader(const std::string& name, uint64_t object_size, uint64_t offset,
                         std::string_view data) {
  std::string header(kMagic);
  header.push_back(static_cast<char>(kVersion));
  PutFixed32(&header, static_cast<uint32_t>(name.size()));
  header += name;
  PutFixed64(&header, object_size);
  PutFixed64(&header, offset);
  PutFixed64(&header, data.size());
  PutFixed32(&header, crc32c::Mask(crc32c::Value(data)));
  PutFixed32(&header, crc32c::Mask(crc32c::Value(header)));
  return header;
}

struct Header {
  std::string name;
  uint64_t object_size = 0, offset = 0, length = 0;
  uint32_t data_crc = 0;
  size_t size = 0;  // bytes of the header
};

// Parses and checks the header at the start of "bytes"; false when it is not a whole, valid one.
bool DecodeHeader(std::string_view bytes, Header* h) {
  if (bytes.size() < kFixedHeader || bytes.substr(0, 4) != kMagic ||
      static_cast<uint8_t>(bytes[4]) != kVersion) {
    return false;
  }
  const uint32_t name_len = DecodeFixed32(bytes.data() + 5);
  if (name_len > kMaxName || bytes.size() < kFixedHeader + name_len) return false;
  h->name.assign(bytes.data() + 9, name_len);
  const char* p = bytes.data() + 9 + name_len;
  h->object_size = DecodeFixed64(p);
  h->offset = DecodeFixed64(p + 8);
  h->length = DecodeFixed64(p + 16);
  h->data_crc = DecodeFixed32(p + 24);
  const uint32_t header_crc = DecodeFixed32(p + 28);
  h->size = kFixedHeader + name_len;
  if (crc32c::Unmask(header_crc) != crc32c::Value(bytes.data(), h->size - 4)) return false;
  return h->offset <= h->object_size && h->length <= h->object_size - h->offset;
}

// A file name of its own per range: a hash of name and offset, and the length.
std::string FileFor(const std::string& name, uint64_t offset, uint64_t length) {
  std::string key = name;
  PutFixed64(&key, offset);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%016llx-%llu", static_cast<unsigned long long>(Hash64(key)),
                static_cast<unsigned long long>(length));
  return std::string(buf) + std::string(kSuffix);
}

}  // namespace

ScopedColdReadTally::ScopedColdReadTally(ColdReadTally* tally) : previous_(current_tally) {
  current_tally = tally;
}
ScopedColdReadTally::~ScopedColdReadTally() { current_tally = previous_; }
ColdReadTally* ScopedColdReadTally::Current() { return current_tally; }

ColdCache::ColdCache(Env* env, std::string dir, uint64_t capacity)
    : env_(env), dir_(std::move(dir)), capacity_(capacity) {}

Result<std::unique_ptr<ColdCache>> ColdCache::Open(Env* env, std::string dir,
                                                   uint64_t capacity_bytes) {
  std::unique_ptr<ColdCache> cache(new ColdCache(env, std::move(dir), capacity_bytes));
  RETURN_IF_ERROR(cache->Load());
  return cache;
}

Status ColdCache::Load() {
  CacheMetrics::Get();  // the families show from the start, at zero
  RETURN_IF_ERROR(env_->CreateDirs(dir_).WithContext("cold cache " + dir_));
  ASSIGN_OR_RETURN(auto children, env_->GetChildren(dir_));
  std::sort(children.begin(), children.end());
  std::vector<std::unique_ptr<Entry>> found;
  for (const std::string& child : children) {
    const std::string path = JoinPath(dir_, child);
    if (!EndsWith(child, kSuffix)) {
      // A write in progress when the process stopped, or a stranger: never served.
      if (EndsWith(child, ".tmp")) env_->RemoveFile(path).IgnoreError();
      continue;
    }
    auto file = env_->NewRandomAccessFile(path);
    if (!file.ok()) continue;
    std::string scratch(kFixedHeader + kMaxName, '\0');
    std::string_view got;
    Header h;
    const uint64_t file_size = (*file)->Size();
    bool ok = (*file)
                  ->Read(0, std::min<uint64_t>(scratch.size(), file_size), &got, scratch.data())
                  .ok() &&
              DecodeHeader(got, &h) && file_size == h.size + h.length;
    if (!ok) {
      // Torn (a crash while it was written) or damaged: dropped now, before anyone asks.
      damaged_.fetch_add(1);
      CacheMetrics::Get().damaged->Increment();
      spdlog::warn("cold cache: {} is torn or damaged; deleted", path);
      env_->RemoveFile(path).IgnoreError();
      continue;
    }
    auto entry = std::make_unique<Entry>();
    entry->name = std::move(h.name);
    entry->object_size = h.object_size;
    entry->offset = h.offset;
    entry->length = h.length;
    entry->file = child;
    found.push_back(std::move(entry));
  }
  MutexLock l(&mu_);
  for (auto& entry : found) {
    if (bytes_ + entry->length > capacity_) {
      // The capacity shrank since the last run.
      env_->RemoveFile(JoinPath(dir_, entry->file)).IgnoreError();
      continue;
    }
    AddLocked(std::move(entry));
  }
  if (count_ > 0) {
    spdlog::info("cold cache {}: {} ranges, {} bytes from an earlier run", dir_, count_, bytes_);
  }
  return Status::OK();
}

void ColdCache::AddLocked(std::unique_ptr<Entry> entry) {
  auto& by_offset = entries_[entry->name];
  auto existing = by_offset.find(entry->offset);
  if (existing != by_offset.end()) RemoveLocked(existing->second.get(), /*delete_file=*/false);
  Entry* e = entry.get();
  lru_.push_front(e);
  e->lru = lru_.begin();
  bytes_ += e->length;
  ++count_;
  CacheMetrics::Get().bytes->Increment(static_cast<double>(e->length));
  entries_[e->name][e->offset] = std::move(entry);
}

void ColdCache::RemoveLocked(Entry* entry, bool delete_file) {
  if (delete_file) env_->RemoveFile(JoinPath(dir_, entry->file)).IgnoreError();
  lru_.erase(entry->lru);
  bytes_ -= entry->length;
  --count_;
  CacheMetrics::Get().bytes->Decrement(static_cast<double>(entry->length));
  auto it = entries_.find(entry->name);
  it->second.erase(entry->offset);
  if (it->second.empty()) entries_.erase(it);
}

Status ColdCache::ReadEntryFile(const std::string& file, const std::string& name, uint64_t offset,
                                uint64_t length, std::string* data) {
  std::string bytes;
  RETURN_IF_ERROR(ReadFileToString(env_, JoinPath(dir_, file), &bytes));
  Header h;
  if (!DecodeHeader(bytes, &h) || h.name != name || h.offset != offset || h.length != length ||
      bytes.size() != h.size + h.length) {
    return Status::DataLoss("cold cache file " + JoinPath(dir_, file) + " has a bad header");
  }
  std::string_view payload = std::string_view(bytes).substr(h.size);
  if (crc32c::Unmask(h.data_crc) != crc32c::Value(payload)) {
    return Status::DataLoss("cold cache file " + JoinPath(dir_, file) + " fails its checksum");
  }
  data->assign(payload.data(), payload.size());
  return Status::OK();
}

bool ColdCache::Lookup(const std::string& name, uint64_t offset, uint64_t length,
                       std::string* out) {
  std::string file;
  uint64_t entry_offset = 0, entry_length = 0;
  {
    MutexLock l(&mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) {
      // The cached range starting at or before "offset" that ends furthest: it holds the range
      // if any does (ranges of one object rarely overlap: a plan reads each block once).
      auto next = it->second.upper_bound(offset);
      for (auto e = next; e != it->second.begin();) {
        --e;
        Entry* entry = e->second.get();
        if (entry->offset + entry->length >= offset + length) {
          lru_.splice(lru_.begin(), lru_, entry->lru);
          file = entry->file;
          entry_offset = entry->offset;
          entry_length = entry->length;
          break;
        }
        if (offset - entry->offset > (64ull << 20)) break;  // far behind: stop looking
      }
    }
  }
  if (file.empty()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    CacheMetrics::Get().misses->Increment();
    return false;
  }
  std::string data;
  Status s = ReadEntryFile(file, name, entry_offset, entry_length, &data);
  if (!s.ok()) {
    if (s.IsDataLoss()) {
      damaged_.fetch_add(1);
      CacheMetrics::Get().damaged->Increment();
    }
    spdlog::warn("cold cache: {}; dropping the range", s.ToString());
    MutexLock l(&mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) {
      auto e = it->second.find(entry_offset);
      if (e != it->second.end() && e->second->file == file) RemoveLocked(e->second.get(), true);
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    CacheMetrics::Get().misses->Increment();
    return false;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  CacheMetrics::Get().hits->Increment();
  if (entry_offset == offset && entry_length == length) {
    *out = std::move(data);
  } else {
    out->assign(data, offset - entry_offset, length);
  }
  return true;
}

bool ColdCache::KnownSize(const std::string& name, uint64_t* size) {
  MutexLock l(&mu_);
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.empty()) return false;
  *size = it->second.begin()->second->object_size;
  return true;
}

void ColdCache::Insert(const std::string& name, uint64_t object_size, uint64_t offset,
                       std::string_view data, uint64_t epoch) {
  if (data.empty() || data.size() > capacity_ / 4 || name.size() > kMaxName) return;
  if (epoch != forget_epoch_.load()) return;
  const std::string file = FileFor(name, offset, data.size());
  const std::string path = JoinPath(dir_, file);
  // Room first, so the cache never holds more than its capacity, even for a moment.
  {
    MutexLock l(&mu_);
    auto it = entries_.find(name);
    if (it != entries_.end() && it->second.count(offset) &&
        it->second[offset]->length == data.size()) {
      return;  // another query cached it meanwhile
    }
    while (bytes_ + data.size() > capacity_ && !lru_.empty()) {
      RemoveLocked(lru_.back(), /*delete_file=*/true);
      evictions_.fetch_add(1, std::memory_order_relaxed);
      CacheMetrics::Get().evictions->Increment();
    }
  }
  // Written under a temporary name and renamed: a reader never opens a file being written. Not
  // synced: a crash may leave it torn, which its checksums reveal (it is then deleted).
  const std::string tmp = path + "." + std::to_string(next_tmp_.fetch_add(1)) + ".tmp";
  Status s;
  {
    auto out = env_->NewWritableFile(tmp);
    s = out.status();
    if (s.ok()) s = (*out)->Append(EncodeHeader(name, object_size, offset, data));
    if (s.ok()) s = (*out)->Append(data);
    if (out.ok()) {
      Status closed = (*out)->Close();
      if (s.ok()) s = closed;
    }
  }
  if (s.ok()) s = env_->RenameFile(tmp, path);
  if (!s.ok()) {
    env_->RemoveFile(tmp).IgnoreError();
    spdlog::warn("cold cache: cannot write {}: {}", path, s.ToString());
    return;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->object_size = object_size;
  entry->offset = offset;
  entry->length = data.size();
  entry->file = file;
  MutexLock l(&mu_);
  if (epoch != forget_epoch_.load()) {
    // Forgotten while it was fetched or written: maybe bytes of a replaced object.
    env_->RemoveFile(path).IgnoreError();
    return;
  }
  while (bytes_ + data.size() > capacity_ && !lru_.empty()) {
    Entry* victim = lru_.back();
    RemoveLocked(victim, /*delete_file=*/victim->file != file);
    evictions_.fetch_add(1, std::memory_order_relaxed);
    CacheMetrics::Get().evictions->Increment();
  }
  AddLocked(std::move(entry));
}

void ColdCache::Forget(const std::string& name) {
  MutexLock l(&mu_);
  forget_epoch_.fetch_add(1);
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  std::vector<Entry*> victims;
  for (auto& [offset, entry] : it->second) victims.push_back(entry.get());
  for (Entry* entry : victims) RemoveLocked(entry, /*delete_file=*/true);
}

ColdCache::Stats ColdCache::stats() const {
  Stats s;
  s.hits = hits_.load();
  s.misses = misses_.load();
  s.evictions = evictions_.load();
  s.damaged = damaged_.load();
  MutexLock l(&mu_);
  s.bytes = bytes_;
  s.entries = count_;
  return s;
}

// A reader whose ranges come from the cache, else from the remote object (then cached).
class CachedObjectReader final : public ObjectReader {
 public:
  CachedObjectReader(CachingObjectStore* store, std::string name, uint64_t size,
                     std::unique_ptr<ObjectReader> remote)
      : store_(store), name_(std::move(name)), size_(size), remote_(std::move(remote)) {}
  uint64_t size() const override { return size_; }
  Status ReadRange(uint64_t offset, uint64_t length, std::string* out) const override {
    RETURN_IF_ERROR(CheckRange(store_->Location(name_), size_, offset, length));
    Status s = store_->ReadThrough(name_, size_, remote_.get(), offset, length, out);
    if (s.IsNotFound()) {
      return Status::NotFound(store_->Location(name_) + " was deleted after it was opened");
    }
    return s;
  }

 private:
  CachingObjectStore* const store_;
  const std::string name_;
  const uint64_t size_;
  const std::unique_ptr<ObjectReader> remote_;  // null when opened from the cache alone
};

CachingObjectStore::CachingObjectStore(std::shared_ptr<ObjectStore> remote,
                                       std::shared_ptr<ColdCache> cache)
    : ForwardingObjectStore(std::move(remote)), cache_(std::move(cache)) {}

Status CachingObjectStore::Put(std::string_view name, std::string_view data) {
  return PutWithin(name, data, 0);
}

// The caller's deadline goes to the remote store (a wrapper that dropped it would let the WAL
// writer's deadline be overshot by the remote's retry budget); 0 is none.
Status CachingObjectStore::PutWithin(std::string_view name, std::string_view data,
                                     int64_t budget_ns) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  // Before and after: a read that raced with the Put may have fetched the old bytes; the second
  // Forget keeps them out (ColdCache::epoch).
  cache_->Forget(std::string(name));
  Status s = budget_ns > 0 ? target()->PutWithin(name, data, budget_ns) : target()->Put(name, data);
  cache_->Forget(std::string(name));
  return s;
}

namespace {

// The remote store's writer; the cache forgets the name when it is committed.
class ForgettingObjectWriter final : public ObjectWriter {
 public:
  ForgettingObjectWriter(std::unique_ptr<ObjectWriter> remote, std::shared_ptr<ColdCache> cache,
                         std::string name)
      : remote_(std::move(remote)), cache_(std::move(cache)), name_(std::move(name)) {}
  Status Append(std::string_view data) override { return remote_->Append(data); }
  Status Commit() override {
    cache_->Forget(name_);
    Status s = remote_->Commit();
    cache_->Forget(name_);
    return s;
  }
  uint64_t bytes() const override { return remote_->bytes(); }

 private:
  const std::unique_ptr<ObjectWriter> remote_;
  const std::shared_ptr<ColdCache> cache_;
  const std::string name_;
};

}  // namespace

Result<std::unique_ptr<ObjectWriter>> CachingObjectStore::NewWriter(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectWriter> remote, target()->NewWriter(name));
  return std::unique_ptr<ObjectWriter>(
      new ForgettingObjectWriter(std::move(remote), cache_, std::string(name)));
}

Result<uint64_t> CachingObjectStore::Size(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  uint64_t size = 0;
  if (cache_->KnownSize(std::string(name), &size)) return size;
  return target()->Size(name);
}

Status CachingObjectStore::ReadThrough(const std::string& name, uint64_t object_size,
                                       const ObjectReader* reader, uint64_t offset, uint64_t length,
                                       std::string* out) {
  ColdReadTally* tally = ScopedColdReadTally::Current();
  if (length == 0) {
    out->clear();
    return Status::OK();
  }
  if (cache_->Lookup(name, offset, length, out)) {
    if (tally != nullptr) {
      tally->bytes_from_cache.fetch_add(length, std::memory_order_relaxed);
      tally->cache_hits.fetch_add(1, std::memory_order_relaxed);
    }
    return Status::OK();
  }
  const uint64_t epoch = cache_->epoch();
  Status s = reader != nullptr ? reader->ReadRange(offset, length, out)
                               : target()->GetRange(name, offset, length, out);
  RETURN_IF_ERROR(s);
  CacheMetrics::Get().fetched_bytes->Increment(static_cast<double>(out->size()));
  if (tally != nullptr) {
    tally->bytes_fetched.fetch_add(out->size(), std::memory_order_relaxed);
    tally->fetches.fetch_add(1, std::memory_order_relaxed);
  }
  cache_->Insert(name, object_size, offset, *out, epoch);
  return Status::OK();
}

Status CachingObjectStore::GetRange(std::string_view name, uint64_t offset, uint64_t length,
                                    std::string* out) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  const std::string key(name);
  uint64_t size = 0;
  if (!cache_->KnownSize(key, &size)) {
    // The remote store checks the range, and its answer is cached with the size it learns.
    ASSIGN_OR_RETURN(size, target()->Size(name));
  }
  RETURN_IF_ERROR(CheckRange(Location(name), size, offset, length));
  return ReadThrough(key, size, nullptr, offset, length, out);
}

Result<std::unique_ptr<ObjectReader>> CachingObjectStore::Open(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  const std::string key(name);
  uint64_t size = 0;
  if (cache_->KnownSize(key, &size)) {
    return std::unique_ptr<ObjectReader>(new CachedObjectReader(this, key, size, nullptr));
  }
  ASSIGN_OR_RETURN(auto remote, target()->Open(name));
  size = remote->size();
  return std::unique_ptr<ObjectReader>(new CachedObjectReader(this, key, size, std::move(remote)));
}

Status CachingObjectStore::Delete(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  cache_->Forget(std::string(name));
  Status s = target()->Delete(name);
  cache_->Forget(std::string(name));
  return s;
}

}  // namespace sawmill::objstore
