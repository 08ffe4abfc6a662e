#include "common/env.h"

namespace sawmill {

Status ReadFileToString(Env* env, const std::string& path, std::string* out) {
  out->clear();
  ASSIGN_OR_RETURN(auto file, env->NewSequentialFile(path));
  std::string scratch(64 * 1024, '\0');
  while (true) {
    std::string_view chunk;
    RETURN_IF_ERROR(file->Read(scratch.size(), &chunk, scratch.data()));
    if (chunk.empty()) break;
    out->append(chunk);
  }
  return Status::OK();
}

Status WriteFileAtomically(Env* env, const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  {
    ASSIGN_OR_RETURN(auto file, env->NewWritableFile(tmp));
    Status s = file->Append(data);
    if (s.ok()) s = file->Sync();
    Status c = file->Close();
    if (s.ok()) s = c;
    if (!s.ok()) {
      env->RemoveFile(tmp).IgnoreError();
      return s;
    }
  }
  RETURN_IF_ERROR(env->RenameFile(tmp, path));
  return env->SyncDir(DirName(path));
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out.append(name);
  return out;
}

}  // namespace sawmill
