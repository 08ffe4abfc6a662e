// The cold read cache: byte ranges of remote objects (cold segments in S3) kept in files on local
// disk, so a second query over cold data reads nothing from the remote store. Bounded (LRU by
// bytes), crash-safe (every file carries CRC32Cs of its header and its bytes, checked on every
// read: a torn or damaged file is deleted and counted, never served), and it survives restarts
// (the files are indexed again at Open). File format: docs/format/cold-cache.md.
//
// CachingObjectStore puts it in front of a remote ObjectStore: reads go through the cache,
// writes, lists and deletes go to the remote store (a delete also drops the object's ranges).
// It relies on the contract's rule that a name never gets different bytes while readers may hold
// it (segment names carry ids never reused): a cached range is valid as long as its object exists.
//
// Per-query accounting: a query that wants to know what it fetched sets a ColdReadTally for the
// threads reading for it (ScopedColdReadTally); the caching store adds to the current one.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/env.h"
#include "common/mutex.h"
#include "objstore/forwarding_store.h"
#include "objstore/object_store.h"

namespace sawmill::objstore {

// What the reads of one query (or any unit of work) cost in cold data. Thread-safe.
struct ColdReadTally {
  std::atomic<uint64_t> bytes_fetched{0};     // read from the remote store (cache misses)
  std::atomic<uint64_t> bytes_from_cache{0};  // served by the local cache
  std::atomic<uint64_t> fetches{0};           // ranged reads sent to the remote store
  std::atomic<uint64_t> cache_hits{0};
};

// While alive, the caching store's reads on this thread add to "*tally" (nullptr: to none).
// Nests: the previous tally is restored at the end of the scope.
class ScopedColdReadTally {
 public:
  explicit ScopedColdReadTally(ColdReadTally* tally);
  ~ScopedColdReadTally();
  ScopedColdReadTally(const ScopedColdReadTally&) = delete;
  ScopedColdReadTally& operator=(const ScopedColdReadTally&) = delete;
  // The tally of this thread, or nullptr.
  static ColdReadTally* Current();

 private:
  ColdReadTally* previous_;
};

class ColdCache {
 public:
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t bytes = 0;    // bytes of cached ranges on disk now
    uint64_t entries = 0;  // cached ranges now
    uint64_t evictions = 0;
    uint64_t damaged = 0;  // files found torn or damaged (deleted, never served)
  };

  // Opens the cache in directory "dir" (created if missing), holding at most "capacity_bytes"
  // of ranges; indexes the files left by an earlier run (damaged ones and temporary files are
  // deleted). "*env" must outlive the cache. Errors: IOError when "dir" cannot be created or
  // listed.
  static Result<std::unique_ptr<ColdCache>> Open(Env* env, std::string dir,
                                                 uint64_t capacity_bytes);

  // Fills "*out" with [offset, offset + length) of object "name" and returns true when a cached
  // range holds it and its file verifies; false otherwise (a damaged file is dropped then).
  bool Lookup(const std::string& name, uint64_t offset, uint64_t length, std::string* out);
  // The size of object "name" if some cached range of it recorded it.
  bool KnownSize(const std::string& name, uint64_t* size);
  // Take before fetching what Insert will cache: a Forget in between (the object was replaced
  // or deleted meanwhile, so the fetched bytes may be stale) makes that Insert a no-op.
  uint64_t epoch() const { return forget_epoch_.load(); }
  // Caches "data" as bytes [offset, offset + data.size()) of object "name" of "object_size"
  // bytes, fetched after epoch() returned "epoch", evicting the least recently used ranges to
  // make room. A range larger than a quarter of the capacity is not cached (one scan must not
  // flush everything). Failures to write are logged, never returned: the cache is only a cache.
  void Insert(const std::string& name, uint64_t object_size, uint64_t offset, std::string_view data,
              uint64_t epoch);
  // Drops every cached range of "name" (the object is being replaced or deleted).
  void Forget(const std::string& name);

  Stats stats() const;
  uint64_t capacity() const { return capacity_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Entry {
    std::string name;
    uint64_t object_size = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    std::string file;  // file name in dir_
    std::list<Entry*>::iterator lru;
  };

  ColdCache(Env* env, std::string dir, uint64_t capacity);
  Status Load();
  void AddLocked(std::unique_ptr<Entry> entry) REQUIRES(mu_);
  void RemoveLocked(Entry* entry, bool delete_file) REQUIRES(mu_);
  // Reads and verifies the file of a cached range; DataLoss when torn or damaged.
  Status ReadEntryFile(const std::string& file, const std::string& name, uint64_t offset,
                       uint64_t length, std::string* data);

  Env* const env_;
  const std::string dir_;
  const uint64_t capacity_;
  std::atomic<uint64_t> next_tmp_{0};
  std::atomic<uint64_t> forget_epoch_{0};

  mutable Mutex mu_;
  // name -> offset -> entry (owned here).
  std::unordered_map<std::string, std::map<uint64_t, std::unique_ptr<Entry>>> entries_
      GUARDED_BY(mu_);
  std::list<Entry*> lru_ GUARDED_BY(mu_);  // front: most recently used
  uint64_t bytes_ GUARDED_BY(mu_) = 0;
  uint64_t count_ GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> hits_{0}, misses_{0}, evictions_{0}, damaged_{0};
};

// An ObjectStore that reads "remote" through "cache". Thread-safe. What it does not override
// (List, Location, the unfinished writes: nothing is cached for them) goes to "remote".
class CachingObjectStore final : public ForwardingObjectStore {
 public:
  CachingObjectStore(std::shared_ptr<ObjectStore> remote, std::shared_ptr<ColdCache> cache);

  Status Put(std::string_view name, std::string_view data) override;
  Status PutWithin(std::string_view name, std::string_view data, int64_t budget_ns) override;
  // The remote store's writer (an S3 store streams it as a multipart upload), the name forgotten
  // by the cache before and after the commit, as Put does.
  Result<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view name) override;
  // From the cache when a cached range recorded the size; else the remote store's.
  Result<uint64_t> Size(std::string_view name) override;
  Status GetRange(std::string_view name, uint64_t offset, uint64_t length,
                  std::string* out) override;
  // Opens without a request when the size is cached; each range then comes from the cache or
  // one ranged read of the remote store, which is cached.
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view name) override;
  Status Delete(std::string_view name) override;

  const std::shared_ptr<ObjectStore>& remote() const { return target(); }
  const std::shared_ptr<ColdCache>& cache() const { return cache_; }

 private:
  friend class CachedObjectReader;
  // The range from the cache, else from "reader" (or the remote store when null), then cached.
  Status ReadThrough(const std::string& name, uint64_t object_size, const ObjectReader* reader,
                     uint64_t offset, uint64_t length, std::string* out);

  const std::shared_ptr<ColdCache> cache_;
};

// The store under a CachingObjectStore ("store" itself otherwise): for reads that must reach
// the store and must not fill the cache, such as the tier mover's read-back of a segment it just
// uploaded (a transition of many segments would otherwise evict what queries use).
inline std::shared_ptr<ObjectStore> Uncached(const std::shared_ptr<ObjectStore>& store) {
  if (auto* caching = dynamic_cast<CachingObjectStore*>(store.get()); caching != nullptr) {
    return caching->remote();
  }
  return store;
}

}  // namespace sawmill::objstore
