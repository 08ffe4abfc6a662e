#include "objstore/read_ahead.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "objstore/forwarding_store.h"

namespace sawmill::objstore {
namespace {

class ReadAheadReader final : public ObjectReader {
 public:
  ReadAheadReader(std::unique_ptr<ObjectReader> inner, uint64_t window)
      : inner_(std::move(inner)), window_(window) {}

  uint64_t size() const override { return inner_->size(); }

  Status ReadRange(uint64_t offset, uint64_t length, std::string* out) const override {
    const uint64_t size = inner_->size();
    // Outside the object (the store's own error) or longer than a window: read as asked.
    if (offset > size || length > size - offset || length > window_) {
      return inner_->ReadRange(offset, length, out);
    }
    MutexLock l(&mu_);
    if (offset < start_ || offset + length > start_ + data_.size()) {
      const uint64_t span = std::min(window_, size);
      const uint64_t start = std::min(offset, size - span);
      std::string data;
      RETURN_IF_ERROR(inner_->ReadRange(start, span, &data));
      start_ = start;
      data_ = std::move(data);
    }
    out->assign(data_, offset - start_, length);
    return Status::OK();
  }

 private:
  const std::unique_ptr<ObjectReader> inner_;
  const uint64_t window_;
  mutable Mutex mu_;
  mutable uint64_t start_ GUARDED_BY(mu_) = 0;
  mutable std::string data_ GUARDED_BY(mu_);  // the bytes [start_, start_ + size)
};

class ReadAheadStore final : public ForwardingObjectStore {
 public:
  ReadAheadStore(std::shared_ptr<ObjectStore> store, uint64_t window)
      : ForwardingObjectStore(std::move(store)), window_(std::max<uint64_t>(window, 1)) {}

  Result<std::unique_ptr<ObjectReader>> Open(std::string_view name) override {
    ASSIGN_OR_RETURN(auto inner, target()->Open(name));
    return std::unique_ptr<ObjectReader>(new ReadAheadReader(std::move(inner), window_));
  }

 private:
  const uint64_t window_;
};

}  // namespace

std::unique_ptr<ObjectStore> ReadAhead(std::shared_ptr<ObjectStore> store, uint64_t window) {
  return std::make_unique<ReadAheadStore>(std::move(store), window);
}

}  // namespace sawmill::objstore
