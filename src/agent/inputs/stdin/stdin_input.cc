#include "agent/inputs/stdin/stdin_input.h"

#include <unistd.h>

#include <cstring>
#include <thread>

#include "agent/pushed_input.h"
#include "common/clock.h"

namespace sawmill::agent {

const std::vector<OptionSpec>& StdinInputOptionTable() { return CommonInputOptions(); }

namespace {

class StdinInput final : public PushedInput {
 public:
  StdinInput(std::unique_ptr<InputContext> context, uint64_t max_line_bytes, int fd)
      : PushedInput(std::move(context), 8 << 20), max_line_bytes_(max_line_bytes), fd_(fd) {
    thread_ = std::thread([this] { Run(); });
  }
  ~StdinInput() override {
    Stop();
    // A blocked read() on a terminal cannot be interrupted portably; detach in that case.
    if (thread_.joinable()) thread_.detach();
  }

 private:
  void Run() {
    auto joiner = std::move(MultilineJoiner::Create(context()->multiline)).value();
    std::vector<JoinedLine> joined;
    std::string line;
    bool skipping = false;
    std::string chunk(64 * 1024, '\0');
    auto flush_joined = [&]() {
      for (auto& j : joined) {
        if (!Push(std::move(j.text), j.truncated, std::nullopt)) return false;
      }
      joined.clear();
      return true;
    };
    while (!stopping()) {
      ssize_t n = ::read(fd_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      size_t pos = 0;
      size_t len = static_cast<size_t>(n);
      while (pos < len) {
        const char* nl = static_cast<const char*>(std::memchr(chunk.data() + pos, '\n', len - pos));
        size_t end = nl ? static_cast<size_t>(nl - chunk.data()) : len;
        if (!skipping) {
          size_t take = std::min<size_t>(end - pos, max_line_bytes_ - line.size());
          if (take < end - pos) skipping = true;
          line.append(chunk.data() + pos, take);
        }
        if (nl == nullptr) break;
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        joiner->Add(line, 0, skipping, Clock::Real()->MonotonicNanos(), &joined);
        line.clear();
        skipping = false;
      }
      joiner->Flush(Clock::Real()->MonotonicNanos(), false, &joined);
      if (!flush_joined()) return;
    }
    if (!line.empty()) joiner->Add(line, 0, skipping, 0, &joined);
    joiner->Flush(0, true, &joined);
    flush_joined();
    MarkFinished();
  }

  const uint64_t max_line_bytes_;
  const int fd_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Input>> CreateStdinInput(const OptionValues&,
                                                std::unique_ptr<InputContext> context,
                                                uint64_t max_line_bytes, int fd) {
  return std::unique_ptr<Input>(new StdinInput(std::move(context), max_line_bytes, fd));
}

}  // namespace sawmill::agent
