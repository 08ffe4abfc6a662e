#include "objstore/local_directory_store.h"

#include <unistd.h>

#include <algorithm>

namespace sawmill::objstore {

namespace {

class LocalObjectReader final : public ObjectReader {
 public:
  LocalObjectReader(std::string path, std::unique_ptr<RandomAccessFile> file)
      : path_(std::move(path)), file_(std::move(file)), size_(file_->Size()) {}
  uint64_t size() const override { return size_; }
  Status ReadRange(uint64_t offset, uint64_t length, std::string* out) const override {
    RETURN_IF_ERROR(CheckRange(path_, size_, offset, length));
    out->resize(length);
    std::string_view got;
    RETURN_IF_ERROR(file_->Read(offset, length, &got, out->data()));
    if (got.size() != length) {
      // The file shrank under an open reader: only someone writing into the store by hand.
      return Status::IOError(path_ + ": read " + std::to_string(got.size()) + " of " +
                             std::to_string(length) + " bytes at offset " + std::to_string(offset) +
                             " (the file is shorter than when opened)");
    }
    if (got.data() != out->data()) out->assign(got.data(), got.size());
    return Status::OK();
  }

 private:
  const std::string path_;
  const std::unique_ptr<RandomAccessFile> file_;
  const uint64_t size_;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

LocalDirectoryStore::LocalDirectoryStore(Env* env, std::string root)
    : env_(env), root_(std::move(root)) {}

std::string LocalDirectoryStore::Location(std::string_view name) const {
  return root_.empty() ? std::string(name) : JoinPath(root_, name);
}

Status LocalDirectoryStore::EnsureParents(std::string_view name) {
  // Top down from the root: each directory is synced in its parent before an object in it is
  // published, so a crash cannot lose a directory that holds a durable object. The root is
  // synced in its parent only when this store created it.
  if (!root_.empty() && !env_->FileExists(root_)) {
    RETURN_IF_ERROR(env_->CreateDirs(root_));
    RETURN_IF_ERROR(env_->SyncDir(DirName(root_)));
  }
  for (size_t slash = name.find('/'); slash != std::string_view::npos;
       slash = name.find('/', slash + 1)) {
    const std::string dir = Location(name.substr(0, slash));
    {
      MutexLock l(&dirs_mu_);
      if (synced_dirs_.count(dir)) continue;
    }
    if (!env_->FileExists(dir)) RETURN_IF_ERROR(env_->CreateDirs(dir));
    RETURN_IF_ERROR(env_->SyncDir(DirName(dir)));
    MutexLock l(&dirs_mu_);
    synced_dirs_.insert(dir);
  }
  return Status::OK();
}

namespace {

// A Put in pieces: a temporary file of its own, renamed over the object on Commit.
class LocalObjectWriter final : public ObjectWriter {
 public:
  LocalObjectWriter(Env* env, std::string path, std::string tmp, std::unique_ptr<WritableFile> file)
      : env_(env), path_(std::move(path)), tmp_(std::move(tmp)), file_(std::move(file)) {}
  ~LocalObjectWriter() override {
    if (committed_) return;
    if (file_ != nullptr) file_->Close().IgnoreError();
    env_->RemoveFile(tmp_).IgnoreError();
  }
  Status Append(std::string_view data) override {
    if (file_ == nullptr) return Status::FailedPrecondition("put " + path_ + " is finished");
    Status s = file_->Append(data);
    if (!s.ok()) return s.WithContext("put " + path_);
    bytes_ += data.size();
    return Status::OK();
  }
  Status Commit() override {
    if (file_ == nullptr) return Status::FailedPrecondition("put " + path_ + " is finished");
    Status s = file_->Sync();
    Status closed = file_->Close();
    file_.reset();
    if (s.ok()) s = closed;
    if (s.ok()) s = env_->RenameFile(tmp_, path_);
    if (!s.ok()) return s.WithContext("put " + path_);
    committed_ = true;  // renamed: the temporary file is gone, the object is there
    return env_->SyncDir(DirName(path_)).WithContext("put " + path_);
  }
  uint64_t bytes() const override { return bytes_; }

 private:
  Env* const env_;
  const std::string path_;
  const std::string tmp_;
  std::unique_ptr<WritableFile> file_;
  uint64_t bytes_ = 0;
  bool committed_ = false;
};

}  // namespace

Result<std::unique_ptr<ObjectWriter>> LocalDirectoryStore::NewWriter(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  RETURN_IF_ERROR(EnsureParents(name));
  const std::string path = Location(name);
  // A name of its own per writer, so that concurrent Puts of one name (or two processes sharing
  // the directory) never write into the same temporary file.
  std::string tmp = path + "." + std::to_string(::getpid()) + "-" +
                    std::to_string(next_tmp_.fetch_add(1)) + ".tmp";
  auto file = env_->NewWritableFile(tmp);
  if (!file.ok()) return file.status().WithContext("put " + path);
  return std::unique_ptr<ObjectWriter>(
      new LocalObjectWriter(env_, path, std::move(tmp), std::move(file).value()));
}

Status LocalDirectoryStore::Put(std::string_view name, std::string_view data) {
  ASSIGN_OR_RETURN(auto writer, NewWriter(name));
  RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit();
}

Result<std::vector<std::string>> LocalDirectoryStore::ListIncomplete(std::string_view prefix) {
  std::vector<std::string> out;
  RETURN_IF_ERROR(Walk("", prefix, /*incomplete=*/true, &out));
  std::sort(out.begin(), out.end());
  return out;
}

Status LocalDirectoryStore::DeleteIncomplete(std::string_view incomplete) {
  if (!EndsWith(incomplete, ".tmp") || incomplete.empty() || incomplete.front() == '/' ||
      incomplete.find("..") != std::string_view::npos) {
    return Status::InvalidArgument("'" + std::string(incomplete) +
                                   "' is not an incomplete write of this store");
  }
  const std::string path = Location(incomplete);
  Status s = env_->RemoveFile(path);
  if (s.IsNotFound()) return Status::NotFound("incomplete write " + path + " does not exist");
  RETURN_IF_ERROR(s);
  return env_->SyncDir(DirName(path));
}

Result<uint64_t> LocalDirectoryStore::Size(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  const std::string path = Location(name);
  auto size = env_->GetFileSize(path);
  if (!size.ok() && size.status().IsNotFound()) {
    return Status::NotFound("object " + path + " does not exist");
  }
  return size;
}

Result<std::unique_ptr<ObjectReader>> OpenLocalFile(Env* env, const std::string& path) {
  auto file = env->NewRandomAccessFile(path);
  if (!file.ok()) {
    if (file.status().IsNotFound()) return Status::NotFound("object " + path + " does not exist");
    return file.status();
  }
  return std::unique_ptr<ObjectReader>(new LocalObjectReader(path, std::move(file).value()));
}

Result<std::unique_ptr<ObjectReader>> LocalDirectoryStore::Open(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  return OpenLocalFile(env_, Location(name));
}

Status LocalDirectoryStore::GetRange(std::string_view name, uint64_t offset, uint64_t length,
                                     std::string* out) {
  ASSIGN_OR_RETURN(auto reader, Open(name));
  return reader->ReadRange(offset, length, out);
}

Status LocalDirectoryStore::Walk(const std::string& rel, std::string_view prefix, bool incomplete,
                                 std::vector<std::string>* out) {
  auto children = env_->GetChildren(rel.empty() ? (root_.empty() ? "." : root_) : Location(rel));
  if (!children.ok()) {
    // The root not existing yet just means an empty store.
    if (children.status().IsNotFound()) return Status::OK();
    return children.status();
  }
  for (const std::string& child : *children) {
    std::string name = rel.empty() ? child : rel + "/" + child;
    // Only what can still match: a name the prefix starts with (a directory on the way to it),
    // or a name that starts with the prefix.
    const bool under = name.size() >= prefix.size() && name.compare(0, prefix.size(), prefix) == 0;
    const bool on_the_way = prefix.size() > name.size() &&
                            prefix.compare(0, name.size(), name) == 0 && prefix[name.size()] == '/';
    if (!under && !on_the_way) continue;
    auto grandchildren = env_->GetChildren(Location(name));
    if (grandchildren.ok()) {
      RETURN_IF_ERROR(Walk(name, prefix, incomplete, out));
    } else if (under && EndsWith(name, ".tmp") == incomplete) {
      out->push_back(std::move(name));
    }
  }
  return Status::OK();
}

Result<std::vector<std::string>> LocalDirectoryStore::List(std::string_view prefix) {
  std::vector<std::string> out;
  RETURN_IF_ERROR(Walk("", prefix, /*incomplete=*/false, &out));
  std::sort(out.begin(), out.end());
  return out;
}

Status LocalDirectoryStore::Delete(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  const std::string path = Location(name);
  Status s = env_->RemoveFile(path);
  if (s.IsNotFound()) return Status::NotFound("object " + path + " does not exist");
  RETURN_IF_ERROR(s);
  return env_->SyncDir(DirName(path));
}

}  // namespace sawmill::objstore
