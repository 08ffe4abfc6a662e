// For tests: the real S3 API that the ctest fixture "s3_store" starts (OpenStack Swift with its
// s3api middleware on loopback, through ../shared/scripts/s3-swift.sh; see
// scripts/s3-test-store.sh), and a TCP proxy in front of it that injects the failures a network
// and a loaded store produce: 503 answers, connections cut mid-request, answers that never come.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "objstore/s3_store.h"

namespace sawmill::objstore::testing_s3 {

// The options of the fixture's store ($SAWMILL_S3_TEST_DIR, else the build's s3-test-store/;
// credentials from `s3-swift.sh env`),
// with bucket "bucket" and prefix "prefix". Fails (a test that cannot reach a real S3 API must
// fail, never pass) when the fixture did not run.
Result<S3Options> FixtureOptions(const std::string& bucket, const std::string& prefix);

// A unique prefix for one test ("t<pid>-<n>-<name>"), so tests share the bucket safely.
std::string UniquePrefix(const std::string& name);

// A loopback TCP proxy to "upstream_port". Faults apply to the connections accepted while they
// are armed; each fault counter counts down per connection.
class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port);
  ~FaultProxy();
  int port() const { return port_; }

  // The next "n" connections get "HTTP/1.1 503" (S3 code ServiceUnavailable) after their
  // request headers, then are closed.
  std::atomic<int> fail_503{0};
  // The next "n" connections read the request and never answer (until the client gives up).
  std::atomic<int> stall{0};
  // While >= 0: every connection is cut (both sides closed) once this many bytes went from the
  // client to the store; "cut_connections" limits how many connections (-1: all).
  std::atomic<int64_t> cut_after_bytes{-1};
  std::atomic<int> cut_connections{-1};
  std::atomic<int> accepted{0};

  // Cuts every open connection (kept-alive ones included, whose requests would otherwise bypass
  // faults armed after they were accepted), so the next request opens a new one. Call after
  // arming a fault.
  void DropConnections();

 private:
  void AcceptLoop();
  void Serve(int client);

  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> generation_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

}  // namespace sawmill::objstore::testing_s3
