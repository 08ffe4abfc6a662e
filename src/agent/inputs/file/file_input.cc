#include "agent/inputs/file/file_input.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

#include "agent/inputs/file/container_log.h"
#include "common/hash.h"

namespace sawmill::agent {

const std::vector<OptionSpec>& FileInputOptionTable() {
  static const std::vector<OptionSpec> kTable = [] {
    std::vector<OptionSpec> table = CommonInputOptions();
    std::vector<OptionSpec> own = {
        {"paths", OptionType::kStringList, "required", "glob patterns of the files to tail"},
        {"exclude", OptionType::kStringList, "", "glob patterns of paths to skip"},
        {"start_at", OptionType::kEnum, "beginning",
         "where to start in files found at the agent's first start (later: the checkpoint)",
         "end|beginning"},
        {"scan_interval", OptionType::kDuration, "1s", "how often the globs are re-evaluated"},
        {"rotate_wait", OptionType::kDuration, "1s",
         "a rotated or deleted file is closed after being idle at its end this long"},
        {"partial_line_timeout", OptionType::kDuration, "1s",
         "a last line without newline is shipped after being idle this long"},
        {"max_open_files", OptionType::kInt, "1024", "most files tailed at once"},
        {"format", OptionType::kEnum, "plain",
         "how lines are written: plain, or by a container runtime: cri (containerd, CRI-O), "
         "docker (json-file), container (either, told apart line by line)",
         "plain|cri|docker|container"},
        {"kubernetes", OptionType::kBool, "true",
         "with a container format: namespace, pod and container from "
         "/var/log/containers/<pod>_<namespace>_<container>-<id>.log file names"},
    };
    table.insert(table.end(), own.begin(), own.end());
    return table;
  }();
  return kTable;
}

std::vector<std::string> MatchingFiles(const std::vector<std::string>& paths,
                                       const std::vector<std::string>& exclude) {
  std::vector<std::string> files;
  for (const auto& pattern : paths) {
    glob_t g;
    std::memset(&g, 0, sizeof(g));
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        std::string path = g.gl_pathv[i];
        struct stat st;
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        bool skip = false;
        for (const auto& ex : exclude) skip = skip || ::fnmatch(ex.c_str(), path.c_str(), 0) == 0;
        if (!skip) files.push_back(path);
      }
    }
    ::globfree(&g);
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

bool FingerprintFd(int fd, uint32_t len, uint64_t* fingerprint) {
  char buf[kFingerprintBytes];
  if (len > kFingerprintBytes) return false;
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf + got, len - got, static_cast<off_t>(got));
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  *fingerprint = Hash64(std::string_view(buf, len));
  return true;
}

namespace {

constexpr size_t kChunk = 64 * 1024;

struct Tracked {
  FileCursor id;  // identity and path; id.offset unused
  int fd = -1;
  uint64_t read_offset = 0;  // next byte to read
  std::string buf;           // the current line so far (at most max_line_bytes)
  bool skipping = false;     // past max_line_bytes in the current line
  uint64_t committed = 0;    // offset after the last record handed over
  std::unique_ptr<MultilineJoiner> joiner;
  bool rotated = false;
  int64_t last_change_ns = 0;
  uint64_t last_size = 0;

  // Container formats only. A line the runtime split into partial lines, joined so far.
  bool partial_open = false;
  std::string partial;
  bool partial_truncated = false;
  int64_t partial_ts = 0;
  std::string partial_stream;
  // The runtime's time and stream of each line handed to the joiner and not yet out of it.
  struct LineMeta {
    uint64_t end_offset;
    int64_t ts;
    std::string stream;
  };
  std::deque<LineMeta> metas;
  // From the file name: k8s.namespace.name, k8s.pod.name, k8s.container.name.
  std::vector<std::pair<std::string, std::string>> pod_fields;
  std::string pod_container;
  bool warned_format = false;

  FileCursor Cursor() const {
    FileCursor c = id;
    c.offset = committed;
    return c;
  }
};

class FileInput final : public Input {
 public:
  FileInput(const FileInputOptions& options, std::unique_ptr<InputContext> context,
            const std::vector<FileCursor>& known, bool first_start)
      : options_(options), context_(std::move(context)), known_(known), first_start_(first_start) {}

  ~FileInput() override {
    for (auto& [key, file] : files_) ::close(file->fd);
  }

  size_t Poll(int64_t now_ns, size_t max_records, size_t max_bytes,
              std::vector<SourceRecord>* out) override {
    now_ns_ = now_ns;
    bool verify = false;
    if (!scanned_ || now_ns - last_scan_ns_ >= options_.scan_interval_ns) {
      Scan();
      last_scan_ns_ = now_ns;
      scanned_ = true;
      verify = true;
    }
    // Rotated files first, so that a rotated file is finished before its successor.
    std::vector<Tracked*> order;
    for (auto& [key, file] : files_) order.push_back(file.get());
    std::stable_sort(order.begin(), order.end(),
                     [](const Tracked* a, const Tracked* b) { return a->rotated > b->rotated; });
    size_t bytes = 0;
    size_t start_records = out->size();
    std::vector<std::pair<uint64_t, uint64_t>> to_close;
    for (Tracked* file : order) {
      if (out->size() - start_records >= max_records || bytes >= max_bytes) break;
      CheckTruncation(file, verify, out);
      bytes += ReadFile(file, start_records + max_records, max_bytes - bytes, out);
      struct stat st;
      uint64_t size = ::fstat(file->fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
      bool at_end = file->read_offset >= size;
      bool idle = now_ns - file->last_change_ns >= options_.partial_line_timeout_ns;
      if (at_end && idle && (!file->buf.empty() || file->skipping)) {
        EmitLine(file, file->read_offset, out);
      }
      if (at_end && idle && file->partial_open) FlushPartial(file, file->read_offset, out);
      std::vector<JoinedLine> joined;
      file->joiner->Flush(now_ns, false, &joined);
      Hand(file, &joined, out);
      if (file->rotated && at_end && now_ns - file->last_change_ns >= options_.rotate_wait_ns) {
        if (!file->buf.empty() || file->skipping) EmitLine(file, file->read_offset, out);
        if (file->partial_open) FlushPartial(file, file->read_offset, out);
        file->joiner->Flush(now_ns, true, &joined);
        Hand(file, &joined, out);
        to_close.emplace_back(file->id.dev, file->id.ino);
      }
    }
    for (const auto& key : to_close) Close(key);
    return bytes;
  }

  void Drain(std::vector<SourceRecord>* out) override {
    for (auto& [key, file] : files_) {
      if (file->partial_open) FlushPartial(file.get(), file->read_offset, out);
      std::vector<JoinedLine> joined;
      file->joiner->Flush(now_ns_, true, &joined);
      Hand(file.get(), &joined, out);
    }
  }

  void Cursors(std::vector<FileCursor>* out) const override {
    for (const auto& c : closed_) out->push_back(c);
    for (const auto& [key, file] : files_) out->push_back(file->Cursor());
  }

 private:
  using Key = std::pair<uint64_t, uint64_t>;

  bool Excluded(const std::string& path) const {
    for (const auto& pattern : options_.exclude) {
      if (::fnmatch(pattern.c_str(), path.c_str(), 0) == 0) return true;
    }
    return false;
  }

  void Scan() {
    std::map<Key, std::string> seen;
    for (const auto& pattern : options_.paths) {
      glob_t g;
      std::memset(&g, 0, sizeof(g));
      if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          std::string path = g.gl_pathv[i];
          if (Excluded(path)) continue;
          struct stat st;
          if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
          seen.emplace(Key(st.st_dev, st.st_ino), path);
        }
      }
      ::globfree(&g);
    }
    for (auto& [key, file] : files_) {
      auto it = seen.find(key);
      if (it == seen.end()) {
        file->rotated = true;
      } else {
        file->rotated = false;
        file->id.path = it->second;
      }
    }
    for (const auto& [key, path] : seen) {
      if (files_.count(key)) continue;
      if (files_.size() >= options_.max_open_files) {
        if (!warned_open_files_) {
          spdlog::warn("agent {}: more than {} files match; not tailing {}", context_->name,
                       options_.max_open_files, path);
          warned_open_files_ = true;
        }
        continue;
      }
      Open(key, path);
    }
    initial_scan_done_ = true;
  }

  void Open(const Key& key, const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      spdlog::warn("agent {}: cannot open {}: {}", context_->name, path, std::strerror(errno));
      return;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0 || Key(st.st_dev, st.st_ino) != key) {
      ::close(fd);
      return;
    }
    auto file = std::make_unique<Tracked>();
    file->fd = fd;
    file->id.dev = key.first;
    file->id.ino = key.second;
    file->id.path = path;
    if (options_.format != LineFormat::kPlain && options_.kubernetes) {
      if (std::optional<PodFileName> pod = ParsePodFileName(path)) {
        file->pod_fields = {{"k8s.namespace.name", pod->namespace_name},
                            {"k8s.pod.name", pod->pod},
                            {"k8s.container.name", pod->container}};
        file->pod_container = pod->container;
      }
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    SetFingerprint(file.get(), size);
    // Where to start: the furthest known position of this very file.
    bool found = false;
    uint64_t offset = 0;
    for (const auto& c : known_) {
      if (c.dev != key.first || c.ino != key.second) continue;
      uint64_t fp = 0;
      if (c.fp_len > size || !FingerprintFd(fd, c.fp_len, &fp) || fp != c.fingerprint) continue;
      found = true;
      offset = std::max(offset, c.offset);
    }
    if (found) {
      if (offset > size) offset = 0;  // shrank while the agent was down
    } else if (options_.start_at_end && first_start_ && !initial_scan_done_) {
      offset = size;
    }
    file->read_offset = offset;
    file->committed = offset;
    file->last_change_ns = now_ns_;
    file->last_size = size;
    auto joiner = MultilineJoiner::Create(context_->multiline);
    file->joiner = joiner.ok() ? std::move(joiner).value() : nullptr;
    if (file->joiner == nullptr) {
      MultilineOptions plain;
      file->joiner = std::move(MultilineJoiner::Create(plain)).value();
    }
    spdlog::info("agent {}: tailing {} from offset {}", context_->name, path, offset);
    files_[key] = std::move(file);
  }

  void SetFingerprint(Tracked* file, uint64_t size) {
    file->id.fp_len = static_cast<uint32_t>(std::min<uint64_t>(size, kFingerprintBytes));
    file->id.fingerprint = 0;
    if (!FingerprintFd(file->fd, file->id.fp_len, &file->id.fingerprint)) {
      file->id.fp_len = 0;
      file->id.fingerprint = Hash64({});
    }
  }

  void Close(const Key& key) {
    auto it = files_.find(key);
    if (it == files_.end()) return;
    RememberClosed(it->second->Cursor());
    ::close(it->second->fd);
    spdlog::info("agent {}: finished {}", context_->name, it->second->id.path);
    files_.erase(it);
  }

  void RememberClosed(const FileCursor& cursor) {
    closed_.push_back(cursor);
    if (closed_.size() > 1024) closed_.erase(closed_.begin());
  }

  // Detects copy-truncate (the file shrank, or its first bytes changed) and restarts at 0 after
  // finishing the unread tail from the copy when one can be found.
  void CheckTruncation(Tracked* file, bool verify, std::vector<SourceRecord>* out) {
    struct stat st;
    if (::fstat(file->fd, &st) != 0) return;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size != file->last_size) {
      file->last_size = size;
      file->last_change_ns = now_ns_;
    }
    bool truncated = size < file->read_offset;
    if (!truncated && (verify || file->id.fp_len < kFingerprintBytes) && file->id.fp_len > 0) {
      uint64_t fp = 0;
      truncated = !FingerprintFd(file->fd, file->id.fp_len, &fp) || fp != file->id.fingerprint;
    }
    if (!truncated) {
      if (file->id.fp_len < kFingerprintBytes && size > file->id.fp_len) {
        // The file grew past a short fingerprint: extend it (same file, longer proof).
        SetFingerprint(file, size);
      }
      return;
    }
    spdlog::info("agent {}: {} was truncated at offset {}", context_->name, file->id.path,
                 file->read_offset);
    FinishFromCopy(file, out);
    if (!file->buf.empty() || file->skipping) EmitLine(file, file->read_offset, out);
    std::vector<JoinedLine> joined;
    file->joiner->Flush(now_ns_, true, &joined);
    Hand(file, &joined, out);
    RememberClosed(file->Cursor());
    file->read_offset = 0;
    file->committed = 0;
    file->buf.clear();
    file->skipping = false;
    SetFingerprint(file, size);
  }

  void FinishFromCopy(Tracked* file, std::vector<SourceRecord>* out) {
    std::string dir = file->id.path;
    size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "." : dir.substr(0, slash);
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return;
    int copy_fd = -1;
    while (dirent* entry = ::readdir(d)) {
      std::string path = dir + "/" + entry->d_name;
      struct stat st;
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (st.st_ino == file->id.ino && st.st_dev == file->id.dev) continue;
      if (static_cast<uint64_t>(st.st_size) <= file->read_offset) continue;
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      uint64_t fp = 0;
      if (FingerprintFd(fd, file->id.fp_len, &fp) && fp == file->id.fingerprint) {
        copy_fd = fd;
        spdlog::info("agent {}: finishing {} from its copy {}", context_->name, file->id.path,
                     path);
        break;
      }
      ::close(fd);
    }
    ::closedir(d);
    if (copy_fd < 0) return;
    int live_fd = file->fd;
    file->fd = copy_fd;
    ReadFile(file, SIZE_MAX, SIZE_MAX, out);
    file->fd = live_fd;
    ::close(copy_fd);
  }

  // Reads from read_offset to the end of the file (or the limits). Returns bytes read.
  size_t ReadFile(Tracked* file, size_t record_limit, size_t max_bytes,
                  std::vector<SourceRecord>* out) {
    size_t total = 0;
    std::string chunk(kChunk, '\0');
    while (total < max_bytes && out->size() < record_limit) {
      ssize_t n = ::pread(file->fd, chunk.data(), kChunk, static_cast<off_t>(file->read_offset));
      if (n <= 0) break;
      const char* data = chunk.data();
      size_t len = static_cast<size_t>(n);
      size_t pos = 0;
      uint64_t base = file->read_offset;
      bool stopped = false;
      while (pos < len) {
        const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', len - pos));
        size_t line_end = nl ? static_cast<size_t>(nl - data) : len;
        if (!file->skipping) {
          size_t room = options_.max_line_bytes - file->buf.size();
          size_t take = line_end - pos;
          if (take > room) {
            take = room;
            file->skipping = true;
          }
          file->buf.append(data + pos, take);
        }
        if (nl == nullptr) {
          pos = len;
          break;
        }
        pos = line_end + 1;
        EmitLine(file, base + pos, out);
        if (out->size() >= record_limit) {
          stopped = true;
          break;
        }
      }
      file->read_offset = base + pos;
      total += pos;
      file->last_change_ns = now_ns_;
      if (stopped) break;
    }
    return total;
  }

  void EmitLine(Tracked* file, uint64_t end_offset, std::vector<SourceRecord>* out) {
    std::string_view line(file->buf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool skipped = file->skipping;
    if (options_.format != LineFormat::kPlain) {
      EmitContainerLine(file, line, skipped, end_offset, out);
      file->buf.clear();
      file->skipping = false;
      return;
    }
    JoinLine(file, line, skipped, end_offset, 0, {}, out);
    file->buf.clear();
    file->skipping = false;
  }

  // One physical line of a container log: a partial line is kept until its last part; a full
  // line goes to the joiner with the runtime's time and stream. A line that is not in the format
  // is kept as it is (nothing is lost) and reported once per file.
  void EmitContainerLine(Tracked* file, std::string_view line, bool skipped, uint64_t end_offset,
                         std::vector<SourceRecord>* out) {
    ContainerLine parsed;
    std::string error;
    if (!ParseContainerLine(line, options_.format, &parsed, &error)) {
      if (!file->warned_format) {
        spdlog::warn("agent {}: {}: {} (kept as it is; further such lines are not reported)",
                     context_->name, file->id.path, error);
        file->warned_format = true;
      }
      if (file->partial_open) FlushPartial(file, end_offset, out);
      JoinLine(file, line, skipped, end_offset, 0, {}, out);
      return;
    }
    if (!file->partial_open) {
      file->partial_open = true;
      file->partial.clear();
      file->partial_truncated = false;
      file->partial_ts = parsed.ts;
      file->partial_stream = parsed.stream;
    }
    // A line the runtime split is joined up to max_line_bytes; the rest is dropped and flagged.
    const size_t room = options_.max_line_bytes > file->partial.size()
                            ? options_.max_line_bytes - file->partial.size()
                            : 0;
    if (parsed.text.size() > room) {
      file->partial.append(parsed.text, 0, room);
      file->partial_truncated = true;
    } else {
      file->partial.append(parsed.text);
    }
    file->partial_truncated |= skipped;
    if (parsed.partial) return;  // more to come; the committed position stays before it
    FlushPartial(file, end_offset, out);
  }

  void FlushPartial(Tracked* file, uint64_t end_offset, std::vector<SourceRecord>* out) {
    std::string text = std::move(file->partial);
    file->partial.clear();
    file->partial_open = false;
    JoinLine(file, text, file->partial_truncated, end_offset, file->partial_ts,
             std::move(file->partial_stream), out);
    file->partial_stream.clear();
  }

  void JoinLine(Tracked* file, std::string_view line, bool truncated, uint64_t end_offset,
                int64_t ts, std::string stream, std::vector<SourceRecord>* out) {
    if (options_.format != LineFormat::kPlain) {
      file->metas.push_back({end_offset, ts, std::move(stream)});
    }
    std::vector<JoinedLine> joined;
    file->joiner->Add(line, end_offset, truncated, now_ns_, &joined);
    Hand(file, &joined, out);
    // Without a pending multi-line record, everything up to here has been handed over.
    if (!file->joiner->HasPending()) file->committed = end_offset;
  }

  void Hand(Tracked* file, std::vector<JoinedLine>* joined, std::vector<SourceRecord>* out) {
    for (auto& j : *joined) {
      SourceRecord record;
      record.text = std::move(j.text);
      record.truncated = j.truncated;
      record.context = context_.get();
      if (options_.format != LineFormat::kPlain) {
        // The time and stream of a joined record are those of its first line.
        bool first = true;
        while (!file->metas.empty() && file->metas.front().end_offset <= j.end_offset) {
          if (first) {
            if (file->metas.front().ts != 0) record.ts = file->metas.front().ts;
            if (!file->metas.front().stream.empty()) {
              record.fields.emplace_back("stream", file->metas.front().stream);
            }
            first = false;
          }
          file->metas.pop_front();
        }
        for (const auto& field : file->pod_fields) record.fields.push_back(field);
        if (options_.service_from_pod) record.service = file->pod_container;
      }
      out->push_back(std::move(record));
      file->committed = std::max(file->committed, j.end_offset);
    }
    joined->clear();
  }

  FileInputOptions options_;
  std::unique_ptr<InputContext> context_;
  std::vector<FileCursor> known_;
  bool first_start_;
  bool initial_scan_done_ = false;
  bool scanned_ = false;
  bool warned_open_files_ = false;
  int64_t now_ns_ = 0;
  int64_t last_scan_ns_ = 0;
  std::map<Key, std::unique_ptr<Tracked>> files_;
  std::vector<FileCursor> closed_;
};

}  // namespace

std::unique_ptr<Input> NewFileInput(const FileInputOptions& options,
                                    std::unique_ptr<InputContext> context,
                                    const std::vector<FileCursor>& known, bool first_start) {
  return std::make_unique<FileInput>(options, std::move(context), known, first_start);
}

Result<std::unique_ptr<Input>> CreateFileInput(const OptionValues& values,
                                               std::unique_ptr<InputContext> context,
                                               uint64_t max_line_bytes,
                                               const std::vector<FileCursor>& known,
                                               bool first_start) {
  FileInputOptions options;
  options.paths = values.List("paths");
  if (options.paths.empty()) {
    return Status::InvalidArgument(values.path() + ".paths: expected at least one glob pattern");
  }
  options.exclude = values.List("exclude");
  options.start_at_end = values.String("start_at") == "end";
  options.scan_interval_ns = values.DurationNs("scan_interval");
  options.rotate_wait_ns = values.DurationNs("rotate_wait");
  options.partial_line_timeout_ns = values.DurationNs("partial_line_timeout");
  options.max_open_files = static_cast<size_t>(values.Int("max_open_files"));
  options.max_line_bytes = max_line_bytes;
  options.format = LineFormatFromName(values.String("format")).value_or(LineFormat::kPlain);
  options.kubernetes = values.Bool("kubernetes");
  options.service_from_pod = values.String("service").empty();
  return NewFileInput(options, std::move(context), known, first_start);
}

}  // namespace sawmill::agent
