// The default ObjectStore: objects are files under one directory (the data directory), through
// an Env (so crash and fault tests run it on FaultInjectionEnv). Contract: object_store.h.
//
//   object NAME          file ROOT/NAME
//   Put or writer        file ROOT/NAME.<pid>-<n>.tmp, written (a writer: piece by piece, never
//   in progress          the whole object in memory), synced, renamed over ROOT/NAME, then the
//                        directory synced. Every directory above it is synced in its parent by
//                        the first Put of this store that goes through it (created or found:
//                        a directory a crashed process created may not be durable yet), and
//                        again after a failed sync.
//   Delete               unlink, then the directory synced
//
// A crash during a Put can leave a "*.tmp" file behind; List never shows it, and Put never
// accepts a name ending in ".tmp", so it cannot be mistaken for an object. ListIncomplete lists
// them and DeleteIncomplete removes them (for segments: catalog reconciliation at start-up).
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/mutex.h"
#include "objstore/object_store.h"

namespace sawmill::objstore {

class LocalDirectoryStore final : public ObjectStore {
 public:
  // "*env" must outlive the store. "root" need not exist yet (Put creates it); "" means names
  // are paths relative to the working directory.
  LocalDirectoryStore(Env* env, std::string root);

  Status Put(std::string_view name, std::string_view data) override;
  Result<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view name) override;
  Result<std::vector<std::string>> ListIncomplete(std::string_view prefix) override;
  Status DeleteIncomplete(std::string_view incomplete) override;
  Result<uint64_t> Size(std::string_view name) override;
  Status GetRange(std::string_view name, uint64_t offset, uint64_t length,
                  std::string* out) override;
  // Keeps the file open: one open() per object, then one pread per range.
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view name) override;
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  Status Delete(std::string_view name) override;
  std::string Location(std::string_view name) const override;

  const std::string& root() const { return root_; }

 private:
  // Creates the directories above "name" that do not exist yet and makes each durable in its
  // parent (once per store, see above).
  Status EnsureParents(std::string_view name);
  // Appends to "*out" the objects (or, with "incomplete", the "*.tmp" files) under the
  // directory "rel" ("" for the root) that may match "prefix".
  Status Walk(const std::string& rel, std::string_view prefix, bool incomplete,
              std::vector<std::string>* out);

  Env* const env_;
  const std::string root_;
  std::atomic<uint64_t> next_tmp_{0};
  Mutex dirs_mu_;
  std::set<std::string> synced_dirs_ GUARDED_BY(dirs_mu_);  // durable in their parent
};

// Opens the file "path" as an object, whatever its name (a "*.tmp" file that reconciliation
// inspects, a file given on the command line): the ranged reads of a local store without its
// naming rules. Errors: NotFound "object PATH does not exist"; IOError.
Result<std::unique_ptr<ObjectReader>> OpenLocalFile(Env* env, const std::string& path);

}  // namespace sawmill::objstore
