// Who may hold a connection and send a request, decided before any handler runs: the
// per-address connection cap's key and exemptions, and the Host and Origin checks that keep
// web pages away from the server (DNS rebinding, cross-site requests to ingest and admin).
// No Beast here: plain strings and Asio addresses. The rules are documented in
// docs/operations.md ("Connections and browsers").
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::http {

// Addresses and CIDR networks ("127.0.0.0/8", "::1", "fd00::/8", "[::1]"). An IPv4-mapped
// IPv6 address ("::ffff:10.1.2.3", what a dual-stack listener sees) matches IPv4 entries.
class NetworkList {
 public:
  // Errors: InvalidArgument naming the entry that is not an address or a network.
  static Result<NetworkList> Parse(const std::vector<std::string>& entries);
  bool Contains(const boost::asio::ip::address& address) const;

 private:
  struct Network {
    boost::asio::ip::address_v6 base;  // IPv4 held as IPv4-mapped
    int prefix = 128;                  // bits of the IPv6 form
  };
  std::vector<Network> networks_;
};

// What the per-address cap counts for "remote": the IPv4 address ("10.1.2.3"), or the IPv6
// /64 ("2001:db8:1:2::/64"; one host usually has a whole /64 to pick addresses from).
std::string AddressKey(const boost::asio::ip::address& remote);

// A request as the Host and Origin checks see it.
struct RequestFacts {
  std::string_view method;                         // "POST"
  std::string_view path;                           // decoded, as the router sees it
  std::string_view host;                           // Host header; "" when absent
  std::string_view origin;                         // Origin header; "" when absent
  bool has_access_control_request_method = false;  // the header is present
  boost::asio::ip::address local;                  // the server address the connection came in on
};

struct RequestDecision {
  std::string refused;      // "" to go on, else the metric reason: "host" or "origin"
  std::string message;      // why it was refused, for the 403 body
  std::string cors_origin;  // answer with Access-Control-Allow-Origin: this (and Vary)
  bool preflight = false;   // a CORS preflight from an allowed origin: answer 204 at once
};

class RequestPolicy {
 public:
  // "port": the port the server listens on; "loopback_bound": it listens on a loopback
  // address (the Host check is on). allowed_hosts / allowed_origins as in HttpServerOptions.
  RequestPolicy(std::vector<std::string> allowed_hosts, std::vector<std::string> allowed_origins,
                std::string tail_path, uint16_t port, bool loopback_bound);

  // Refuses what a web page could send behind its user's back:
  // - when the server listens on loopback or allowed_hosts is set, a Host that does not name
  //   the server (see HostAccepted); a request without Host (HTTP/1.0 tools) passes;
  // - with an Origin that is neither the request's own (same scheme-less host and port, with a
  //   Host that names the server) nor in allowed_origins: every method but GET and HEAD, and
  //   any method on the admin routes (/api/v1/admin/...) and the tail route. A cross-origin GET
  //   elsewhere is answered without CORS headers, so the page cannot read the answer.
  // Clients that are not browsers (curl, shippers, the agent, the CLI) send no Origin.
  RequestDecision Check(const RequestFacts& request) const;

  // An allowed_hosts entry ("name" for any port, "name:port"; "*" for anything), or
  // localhost, a loopback address or "local" (the address the connection came in on), with no
  // port or the server's port. A browser always sends the port unless it is 80.
  bool HostAccepted(std::string_view host, const boost::asio::ip::address& local) const;
  bool OriginListed(std::string_view origin) const;

 private:
  std::vector<std::string> allowed_hosts_;
  std::vector<std::string> allowed_origins_;
  std::string tail_path_;
  uint16_t port_;
  bool loopback_bound_;
};

}  // namespace sawmill::http
