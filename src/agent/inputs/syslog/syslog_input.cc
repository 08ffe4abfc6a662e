#include "agent/inputs/syslog/syslog_input.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "agent/pushed_input.h"
#include "common/clock.h"
#include "ingest/shipper_record.h"
#include "ingest/syslog_framing.h"
#include "ingest/syslog_parser.h"

namespace sawmill::agent {

const std::vector<OptionSpec>& SyslogInputOptionTable() {
  static const std::vector<OptionSpec> kTable = [] {
    std::vector<OptionSpec> table = CommonInputOptions();
    table.push_back(
        {"address", OptionType::kString, "127.0.0.1:5514", "IPv4 address and port to listen on"});
    table.push_back(
        {"protocol", OptionType::kEnum, "udp", "transport to listen on", "udp|tcp|both"});
    return table;
  }();
  return kTable;
}

Record ParseSyslogInputMessage(std::string_view message, bool truncated,
                               const InputContext& context, uint64_t max_line_bytes,
                               int64_t now_ns) {
  ingest::ShipperContext shipper;
  shipper.defaults.service = context.service;
  shipper.defaults.level = context.level;
  shipper.defaults.zone = context.zone;
  shipper.options.max_line_bytes = max_line_bytes;
  shipper.now_ns = now_ns;
  Record record = ingest::ParseSyslogMessage(message, shipper);
  if (truncated) record.flags |= kFlagTruncated;
  if (context.parser->kind() != ParserKind::kAuto) {
    ingest::NormalizeOptions normalize;
    normalize.max_line_bytes = max_line_bytes;
    Record body;
    ingest::Defaults defaults;
    defaults.zone = context.zone;
    if (context.parser->Parse(record.message, defaults, normalize, now_ns, &body)) {
      record.message = std::move(body.message);
      for (auto& field : body.fields) record.fields.push_back(std::move(field));
      record.flags |= body.flags;
    }
  }
  return record;
}

namespace {

constexpr size_t kMaxClients = 256;
// Bytes a TCP frame may have beyond max_line_bytes for its header and structured data; past
// that the frame is cut and flagged truncated.
constexpr size_t kHeaderAllowance = 4096;

class SyslogInput final : public PushedInput {
 public:
  SyslogInput(std::unique_ptr<InputContext> context, uint64_t max_line_bytes, int udp, int tcp)
      : PushedInput(std::move(context), 8 << 20),
        max_line_bytes_(max_line_bytes),
        udp_(udp),
        tcp_(tcp) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SyslogInput() override {
    Stop();
    thread_.join();
    if (udp_ >= 0) ::close(udp_);
    if (tcp_ >= 0) ::close(tcp_);
    for (auto& c : clients_) ::close(c.fd);
  }

 private:
  struct Client {
    int fd;
    // Splits the client's byte stream into messages.
    std::unique_ptr<ingest::SyslogFrameDecoder> decoder;
  };

  void Deliver(std::string_view message, bool truncated) {
    PushRecord(ParseSyslogInputMessage(message, truncated, *context(), max_line_bytes_,
                                       Clock::Real()->NowNanos()));
  }

  void Run() {
    std::string datagram(65536, '\0');
    while (!stopping()) {
      std::vector<pollfd> fds;
      if (udp_ >= 0) fds.push_back({udp_, POLLIN, 0});
      if (tcp_ >= 0) fds.push_back({tcp_, POLLIN, 0});
      for (auto& c : clients_) fds.push_back({c.fd, POLLIN, 0});
      int ready = ::poll(fds.data(), fds.size(), 200);
      if (ready <= 0) continue;
      size_t index = 0;
      if (udp_ >= 0) {
        if (fds[index].revents & POLLIN) {
          ssize_t n = ::recv(udp_, datagram.data(), datagram.size(), 0);
          if (n > 0) Deliver(std::string_view(datagram.data(), static_cast<size_t>(n)), false);
        }
        ++index;
      }
      bool accept = false;
      if (tcp_ >= 0) {
        accept = (fds[index].revents & POLLIN) != 0;
        ++index;
      }
      std::vector<Client> alive;
      for (size_t c = 0; index + c < fds.size(); ++c) {
        Client& client = clients_[c];
        bool keep = true;
        if (fds[index + c].revents & (POLLIN | POLLHUP | POLLERR)) {
          ssize_t n = ::recv(client.fd, datagram.data(), datagram.size(), 0);
          auto emit = [this](std::string_view frame, bool truncated) { Deliver(frame, truncated); };
          if (n <= 0) {
            keep = false;
            client.decoder->Finish(emit);
          } else {
            client.decoder->Feed(std::string_view(datagram.data(), static_cast<size_t>(n)), emit);
          }
        }
        if (keep) {
          alive.push_back(std::move(client));
        } else {
          ::close(client.fd);
        }
      }
      if (accept) {
        int fd = ::accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0 && alive.size() < kMaxClients) {
          alive.push_back({fd, std::make_unique<ingest::SyslogFrameDecoder>(max_line_bytes_ +
                                                                            kHeaderAllowance)});
        } else if (fd >= 0) {
          ::close(fd);
        }
      }
      clients_ = std::move(alive);
    }
  }

  const uint64_t max_line_bytes_;
  int udp_;
  int tcp_;
  std::vector<Client> clients_;  // owned by the listener thread
  std::thread thread_;
};

Result<sockaddr_in> ParseAddress(const std::string& address, const std::string& key) {
  size_t colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos ||
      ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return Status::InvalidArgument(key + ": expected IPv4 address:port, got '" + address + "'");
  }
  char* end = nullptr;
  long port = std::strtol(address.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) {
    return Status::InvalidArgument(key + ": expected a port 1-65535, got '" + address + "'");
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

Result<int> Bind(const sockaddr_in& addr, int type, const std::string& what) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(what + ": socket: " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      (type == SOCK_STREAM && ::listen(fd, 64) != 0)) {
    std::string reason = std::strerror(errno);
    ::close(fd);
    return Status::Unavailable(what + ": cannot listen: " + reason);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<Input>> CreateSyslogInput(const OptionValues& values,
                                                 std::unique_ptr<InputContext> context,
                                                 uint64_t max_line_bytes) {
  std::string key = values.path() + ".address";
  ASSIGN_OR_RETURN(sockaddr_in addr, ParseAddress(values.String("address"), key));
  const std::string& protocol = values.String("protocol");
  int udp = -1;
  int tcp = -1;
  if (protocol == "udp" || protocol == "both") {
    ASSIGN_OR_RETURN(udp, Bind(addr, SOCK_DGRAM, key + " (udp)"));
  }
  if (protocol == "tcp" || protocol == "both") {
    auto bound = Bind(addr, SOCK_STREAM, key + " (tcp)");
    if (!bound.ok()) {
      if (udp >= 0) ::close(udp);
      return bound.status();
    }
    tcp = *bound;
  }
  return std::unique_ptr<Input>(new SyslogInput(std::move(context), max_line_bytes, udp, tcp));
}

}  // namespace sawmill::agent
