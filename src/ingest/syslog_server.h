// The syslog listener of `sawmill server --syslog HOST:PORT`: TCP (RFC 6587 octet counting and
// LF framing) and UDP on the same port, every message parsed by ParseSyslogMessage and handed
// to the ingest pipeline in batches (one batch per TCP read or per burst of datagrams). With
// SyslogServerOptions::tls it is the listener of `--syslog-tls`: syslog over TLS (RFC 5425),
// TCP only, on its own port.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/tls.h"
#include "ingest/pipeline.h"
#include "sawmill/status.h"

namespace sawmill::ingest {

struct SyslogServerOptions {
  std::string tenant = "default";  // syslog carries no credentials
  // Longer frames and datagrams are cut and flagged `truncated` (the framing bound; the stored
  // message is also bounded by the pipeline's max_line, like every door's).
  size_t max_message_bytes = size_t{64} * 1024;
  size_t max_connections = 1024;  // further TCP connections are closed at once
  // TCP connections from one address past which new ones from it are closed at once (counted
  // in sawmill_syslog_refused_connections_total): one address cannot take every slot. 0: off.
  size_t max_connections_per_address = 256;
  size_t max_batch = 512;  // records per Pipeline::Submit from a TCP read (UDP: up to 8,192)
  int threads = 1;
  // SO_RCVBUF asked for on the UDP socket: a burst larger than this is dropped by the kernel
  // (counted from SO_RXQ_OVFL in sawmill_syslog_dropped_total{reason="kernel_buffer"}). The
  // kernel caps it at net.core.rmem_max unless the process may use SO_RCVBUFFORCE.
  size_t udp_receive_buffer_bytes = size_t{8} << 20;
  int drop_log_interval_ms = 10'000;  // kernel drops are logged at most once per interval
  // Syslog over TLS (RFC 5425): every TCP connection speaks TLS with the context tls->Current()
  // gives at its accept (so a reload serves new connections the new certificate), and no UDP
  // socket is opened. Null: plain TCP and UDP.
  std::shared_ptr<tls::ServerTls> tls;
  // A TLS handshake must end within this from the accept, or the connection is closed.
  int tls_handshake_timeout_ms = 10'000;
};

class SyslogServer {
 public:
  // Binds TCP and UDP on "addr" ("127.0.0.1:5514", "[::1]:5514", ":5514" for all interfaces;
  // port 0 picks a free port, the same for both, see port()) and starts serving on its own
  // thread; with options.tls, TCP only, over TLS. "*pipeline" must outlive the server.
  // Errors: InvalidArgument for a malformed address; Unavailable when the port cannot be bound.
  static Result<std::unique_ptr<SyslogServer>> Start(const std::string& addr, Pipeline* pipeline,
                                                     SyslogServerOptions options = {});

  // Stops listening, closes connections and joins the threads. Idempotent.
  void Stop();

  // The bound port (TCP and UDP).
  uint16_t port() const;

  // The UDP receive buffer the kernel granted (SO_RCVBUF as read back, which counts the
  // kernel's bookkeeping and is about twice what was asked for).
  size_t udp_receive_buffer_bytes() const;

  // UDP datagrams the kernel dropped since Start() (the socket's receive buffer was full).
  uint64_t udp_kernel_drops() const;

  ~SyslogServer();
  SyslogServer(const SyslogServer&) = delete;
  SyslogServer& operator=(const SyslogServer&) = delete;

  struct Impl;

 private:
  explicit SyslogServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sawmill::ingest
