#include "objstore/s3_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sawmill::objstore::testing_s3 {

namespace {

// Runs "command" and returns its standard output.
Result<std::string> Capture(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return Status::IOError("cannot run " + command);
  std::string out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  int rc = ::pclose(pipe);
  if (rc != 0) return Status::IOError(command + " failed (" + std::to_string(rc) + ")");
  return out;
}

void WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    data += w;
    n -= static_cast<size_t>(w);
  }
}

// Reads from "fd" until the end of the request headers (or the peer closes, or 5 s).
void ReadHeaders(int fd) {
  std::string seen;
  char buffer[4096];
  while (seen.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    ssize_t r = ::recv(fd, buffer, sizeof(buffer), 0);
    if (r <= 0) return;
    seen.append(buffer, static_cast<size_t>(r));
  }
}

bool TakeOne(std::atomic<int>* counter) {
  int n = counter->load();
  while (n > 0) {
    if (counter->compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

}  // namespace

Result<S3Options> FixtureOptions(const std::string& bucket, const std::string& prefix) {
  const char* dir = std::getenv("SAWMILL_S3_TEST_DIR");
  if (dir == nullptr || *dir == '\0') dir = SAWMILL_S3_TEST_DIR;
  const char* shared = std::getenv("SAWMILL_SHARED_DIR");
  std::string script =
      std::string(shared != nullptr ? shared : SAWMILL_SHARED_DIR) + "/scripts/s3-swift.sh";
  auto env_lines = Capture("bash '" + script + "' env '" + dir + "' 2>&1");
  if (!env_lines.ok()) {
    return Status::FailedPrecondition(
        "no S3 API under " + std::string(dir) + " (" + env_lines.status().message() +
        "): run this test through ctest, whose fixture s3_store starts one "
        "(scripts/s3-test-store.sh), or start it by hand");
  }
  const std::string& env = *env_lines;
  S3Options options;
  std::istringstream lines(env);
  std::string line;
  while (std::getline(lines, line)) {
    auto value = [&](const std::string& name) -> std::string {
      const std::string start = "export " + name + "=";
      if (line.rfind(start, 0) != 0) return "";
      std::string v = line.substr(start.size());
      if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') v = v.substr(1, v.size() - 2);
      return v;
    };
    if (auto v = value("AWS_ACCESS_KEY_ID"); !v.empty()) options.access_key = v;
    if (auto v = value("AWS_SECRET_ACCESS_KEY"); !v.empty()) options.secret_key = v;
    if (auto v = value("AWS_REGION"); !v.empty()) options.region = v;
    if (auto v = value("AWS_ENDPOINT_URL"); !v.empty()) options.endpoint = v;
  }
  if (options.endpoint.empty() || options.access_key.empty()) {
    return Status::FailedPrecondition("`s3-swift.sh env " + std::string(dir) +
                                      "` printed no endpoint or key:\n" + env);
  }
  options.bucket = bucket;
  options.prefix = prefix;
  return options;
}

std::string UniquePrefix(const std::string& name) {
  static std::atomic<int> next{0};
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(next++) + "-" + name;
}

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listen_fd_, 64);
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  for (auto& worker : workers_) worker.join();
}

void FaultProxy::DropConnections() {
  ++generation_;
  // Forwarders look at the generation at least every 100 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

void FaultProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    ++accepted;
    workers_.emplace_back([this, client] { Serve(client); });
  }
}

void FaultProxy::Serve(int client) {
  if (TakeOne(&fail_503)) {
    ReadHeaders(client);
    const std::string body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>ServiceUnavailable</Code>"
        "<Message>Please reduce your request rate.</Message></Error>";
    const std::string answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml"
        "\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    WriteAll(client, answer.data(), answer.size());
    ::shutdown(client, SHUT_WR);
    // Drain what the client still sends, so closing does not reset the answer away.
    char buffer[65536];
    for (int i = 0; i < 200 && !stop_; ++i) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 10) > 0 && ::recv(client, buffer, sizeof(buffer), 0) <= 0) break;
    }
    ::close(client);
    return;
  }
  if (TakeOne(&stall)) {
    // Read everything, answer nothing, until the client gives up or the proxy stops.
    char buffer[65536];
    while (!stop_) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0 && ::recv(client, buffer, sizeof(buffer), 0) <= 0) break;
    }
    ::close(client);
    return;
  }
  int64_t cut_at = -1;
  if (cut_after_bytes.load() >= 0) {
    int n = cut_connections.load();
    if (n < 0 || TakeOne(&cut_connections)) cut_at = cut_after_bytes.load();
  }
  int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(upstream_port_));
  if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(upstream);
    ::close(client);
    return;
  }
  int64_t sent = 0;
  char buffer[65536];
  const int generation = generation_.load();
  while (!stop_ && generation_.load() == generation) {
    pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (::poll(p, 2, 100) <= 0) continue;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      size_t want = sizeof(buffer);
      if (cut_at >= 0) want = std::min<int64_t>(want, std::max<int64_t>(1, cut_at - sent));
      ssize_t r = ::recv(client, buffer, want, 0);
      if (r <= 0) break;
      WriteAll(upstream, buffer, static_cast<size_t>(r));
      sent += r;
      if (cut_at >= 0 && sent >= cut_at) break;  // the connection is lost mid-request
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::recv(upstream, buffer, sizeof(buffer), 0);
      if (r <= 0) break;
      WriteAll(client, buffer, static_cast<size_t>(r));
    }
  }
  // A hard close (RST) on both sides, as a lost connection looks.
  linger hard{1, 0};
  ::setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  ::setsockopt(upstream, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  ::close(client);
  ::close(upstream);
}

}  // namespace sawmill::objstore::testing_s3
