#include "objstore/object_store.h"

#include <algorithm>

namespace sawmill::objstore {

namespace {

constexpr std::string_view kTmpSuffix = ".tmp";

// Reads ranges of one object with one GetRange each: the reader of stores without handles.
class RangeObjectReader final : public ObjectReader {
 public:
  RangeObjectReader(ObjectStore* store, std::string name, uint64_t size)
      : store_(store), name_(std::move(name)), size_(size) {}
  uint64_t size() const override { return size_; }
  Status ReadRange(uint64_t offset, uint64_t length, std::string* out) const override {
    RETURN_IF_ERROR(CheckRange(store_->Location(name_), size_, offset, length));
    return store_->GetRange(name_, offset, length, out);
  }

 private:
  ObjectStore* const store_;
  const std::string name_;
  const uint64_t size_;
};

// The default writer: the pieces in memory, one Put on Commit.
class BufferedObjectWriter final : public ObjectWriter {
 public:
  BufferedObjectWriter(ObjectStore* store, std::string name)
      : store_(store), name_(std::move(name)) {}
  Status Append(std::string_view data) override {
    data_.append(data);
    return Status::OK();
  }
  Status Commit() override { return store_->Put(name_, data_); }
  uint64_t bytes() const override { return data_.size(); }

 private:
  ObjectStore* const store_;
  const std::string name_;
  std::string data_;
};

}  // namespace

Result<std::unique_ptr<ObjectWriter>> ObjectStore::NewWriter(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  return std::unique_ptr<ObjectWriter>(new BufferedObjectWriter(this, std::string(name)));
}

Result<uint64_t> CopyObject(ObjectStore* source, std::string_view from, ObjectStore* target,
                            std::string_view to, const std::function<bool()>& stop) {
  constexpr uint64_t kPiece = 1 << 20;
  ASSIGN_OR_RETURN(auto reader, source->Open(from));
  ASSIGN_OR_RETURN(auto writer, target->NewWriter(to));
  std::string piece;
  for (uint64_t offset = 0; offset < reader->size(); offset += kPiece) {
    if (stop && stop()) {
      return Status::Unavailable("copy to " + target->Location(to) + " abandoned after " +
                                 std::to_string(offset) + " of " + std::to_string(reader->size()) +
                                 " bytes: stopping");
    }
    RETURN_IF_ERROR(reader->ReadRange(offset, std::min(kPiece, reader->size() - offset), &piece));
    RETURN_IF_ERROR(writer->Append(piece));
  }
  RETURN_IF_ERROR(writer->Commit());
  return reader->size();
}

Result<std::unique_ptr<ObjectReader>> ObjectStore::Open(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  ASSIGN_OR_RETURN(uint64_t size, Size(name));
  return std::unique_ptr<ObjectReader>(new RangeObjectReader(this, std::string(name), size));
}

Status ValidateObjectName(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("object name '" + std::string(name) + "' " + std::string(why));
  };
  if (name.empty()) return Status::InvalidArgument("object name is empty");
  if (name.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  if (name.front() == '/') return bad("is absolute (names are relative to the store)");
  if (name.back() == '/') return bad("ends with '/'");
  if (name.size() >= kTmpSuffix.size() &&
      name.substr(name.size() - kTmpSuffix.size()) == kTmpSuffix) {
    return bad("ends in \".tmp\", which is reserved for puts in progress");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(start, slash - start);
    if (part.empty()) return bad("has an empty path component");
    if (part == "." || part == "..") return bad("has a '" + std::string(part) + "' component");
    start = slash + 1;
  }
  return Status::OK();
}

Status CheckRange(std::string_view where, uint64_t size, uint64_t offset, uint64_t length) {
  if (offset <= size && length <= size - offset) return Status::OK();
  return Status::InvalidArgument("range [" + std::to_string(offset) + ", " +
                                 std::to_string(offset + length) + ") is past the end of " +
                                 std::string(where) + " (" + std::to_string(size) + " bytes)");
}

}  // namespace sawmill::objstore
