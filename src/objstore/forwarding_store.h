// An ObjectStore that forwards every call to another one: a wrapper overrides only what it
// changes (ReadAheadStore its readers; a test store the Puts it fails or records), and a call
// added to ObjectStore later (as PutWithin was) reaches the store underneath without each
// wrapper having to forward it by hand.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "objstore/object_store.h"

namespace sawmill::objstore {

class ForwardingObjectStore : public ObjectStore {
 public:
  explicit ForwardingObjectStore(std::shared_ptr<ObjectStore> target)
      : target_(std::move(target)) {}

  const std::shared_ptr<ObjectStore>& target() const { return target_; }

  Status Put(std::string_view name, std::string_view data) override {
    return target_->Put(name, data);
  }
  Status PutWithin(std::string_view name, std::string_view data, int64_t budget_ns) override {
    return target_->PutWithin(name, data, budget_ns);
  }
  Result<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view name) override {
    return target_->NewWriter(name);
  }
  Result<std::vector<std::string>> ListIncomplete(std::string_view prefix) override {
    return target_->ListIncomplete(prefix);
  }
  Status DeleteIncomplete(std::string_view incomplete) override {
    return target_->DeleteIncomplete(incomplete);
  }
  Result<uint64_t> Size(std::string_view name) override { return target_->Size(name); }
  Status GetRange(std::string_view name, uint64_t offset, uint64_t length,
                  std::string* out) override {
    return target_->GetRange(name, offset, length, out);
  }
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view name) override {
    return target_->Open(name);
  }
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    return target_->List(prefix);
  }
  Status Delete(std::string_view name) override { return target_->Delete(name); }
  std::string Location(std::string_view name) const override { return target_->Location(name); }

 private:
  const std::shared_ptr<ObjectStore> target_;
};

}  // namespace sawmill::objstore
