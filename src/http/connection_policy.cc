#include "http/connection_policy.h"

#include <algorithm>
#include <cctype>

namespace sawmill::http {

namespace ip = boost::asio::ip;

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

ip::address Unmapped(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

ip::address_v6 AsV6(const ip::address& address) {
  if (address.is_v4()) return ip::make_address_v6(ip::v4_mapped, address.to_v4());
  return address.to_v6();
}

// Splits a Host header value or an origin's authority ("name", "name:port", "[::1]:port")
// into a lower-case name without brackets or a final dot, and a port (0 when absent).
// False when malformed.
bool SplitHost(std::string_view value, std::string* name, int* port) {
  std::string_view host = value;
  std::string_view port_text;
  if (!value.empty() && value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos) return false;
    host = value.substr(1, close - 1);
    std::string_view rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || rest.size() == 1) return false;
      port_text = rest.substr(1);
    }
  } else if (size_t colon = value.find(':'); colon != std::string_view::npos) {
    host = value.substr(0, colon);
    port_text = value.substr(colon + 1);
    if (port_text.empty() || port_text.find(':') != std::string_view::npos) return false;
  }
  if (host.empty() || port_text.size() > 5) return false;
  *port = 0;
  for (char c : port_text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    *port = *port * 10 + (c - '0');
  }
  if (*port > 65535) return false;
  *name = Lower(host);
  if (name->size() > 1 && name->back() == '.') name->pop_back();  // "localhost."
  return true;
}

// An http(s) origin's name and port, the scheme's default port made explicit. False for
// anything else ("null", "file://").
bool SplitOrigin(std::string_view origin, std::string* name, int* port) {
  std::string lower = Lower(origin);
  std::string_view authority;
  int default_port = 0;
  if (lower.rfind("http://", 0) == 0) {
    authority = std::string_view(lower).substr(7);
    default_port = 80;
  } else if (lower.rfind("https://", 0) == 0) {
    authority = std::string_view(lower).substr(8);
    default_port = 443;
  } else {
    return false;
  }
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (!SplitHost(authority, name, port)) return false;
  if (*port == 0) *port = default_port;
  return true;
}

std::string WithoutTrailingSlash(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

}  // namespace

Result<NetworkList> NetworkList::Parse(const std::vector<std::string>& entries) {
  NetworkList list;
  for (const std::string& text : entries) {
    std::string_view address_text = text;
    int prefix = -1;
    if (size_t slash = text.find('/'); slash != std::string::npos) {
      address_text = std::string_view(text).substr(0, slash);
      std::string_view digits = std::string_view(text).substr(slash + 1);
      bool ok = !digits.empty() && digits.size() <= 3;
      prefix = 0;
      for (char c : digits) {
        ok = ok && std::isdigit(static_cast<unsigned char>(c));
        prefix = prefix * 10 + (c - '0');
      }
      if (!ok) prefix = 1000;
    }
    if (address_text.size() >= 2 && address_text.front() == '[' && address_text.back() == ']') {
      address_text = address_text.substr(1, address_text.size() - 2);
    }
    boost::system::error_code ec;
    ip::address address = ip::make_address(std::string(address_text), ec);
    if (ec) {
      return Status::InvalidArgument("'" + text +
                                     "' is not an IP address or a CIDR network like 10.0.0.0/8");
    }
    address = Unmapped(address);
    const int bits = address.is_v4() ? 32 : 128;
    if (prefix < 0) prefix = bits;
    if (prefix > bits) {
      return Status::InvalidArgument("'" + text + "': the prefix length must be 0 to " +
                                     std::to_string(bits));
    }
    list.networks_.push_back({AsV6(address), address.is_v4() ? 96 + prefix : prefix});
  }
  return list;
}

bool NetworkList::Contains(const ip::address& address) const {
  const auto bytes = AsV6(Unmapped(address)).to_bytes();
  for (const Network& network : networks_) {
    const auto base = network.base.to_bytes();
    bool match = true;
    int bits = network.prefix;
    for (size_t i = 0; i < bytes.size() && bits > 0 && match; ++i, bits -= 8) {
      auto mask = static_cast<uint8_t>(bits >= 8 ? 0xff : 0xff << (8 - bits));
      match = (bytes[i] & mask) == (base[i] & mask);
    }
    if (match) return true;
  }
  return false;
}

std::string AddressKey(const ip::address& remote) {
  ip::address address = Unmapped(remote);
  if (address.is_v4()) return address.to_string();
  auto bytes = address.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return ip::address_v6(bytes).to_string() + "/64";
}

RequestPolicy::RequestPolicy(std::vector<std::string> allowed_hosts,
                             std::vector<std::string> allowed_origins, std::string tail_path,
                             uint16_t port, bool loopback_bound)
    : allowed_hosts_(std::move(allowed_hosts)),
      allowed_origins_(std::move(allowed_origins)),
      tail_path_(std::move(tail_path)),
      port_(port),
      loopback_bound_(loopback_bound) {}

bool RequestPolicy::HostAccepted(std::string_view host, const ip::address& local) const {
  std::string name;
  int port = 0;
  if (!SplitHost(host, &name, &port)) return false;
  for (const std::string& entry : allowed_hosts_) {
    if (entry == "*") return true;
    std::string entry_name;
    int entry_port = 0;
    if (SplitHost(entry, &entry_name, &entry_port) && entry_name == name &&
        (entry_port == 0 || entry_port == port)) {
      return true;
    }
  }
  if (port != 0 && port != port_) return false;
  if (name == "localhost") return true;
  boost::system::error_code ec;
  ip::address address = ip::make_address(name, ec);
  if (ec) return false;
  address = Unmapped(address);
  return address.is_loopback() || (!local.is_unspecified() && address == Unmapped(local));
}

bool RequestPolicy::OriginListed(std::string_view origin) const {
  const std::string wanted = WithoutTrailingSlash(Lower(origin));
  for (const std::string& entry : allowed_origins_) {
    if (entry == "*" || WithoutTrailingSlash(Lower(entry)) == wanted) return true;
  }
  return false;
}

RequestDecision RequestPolicy::Check(const RequestFacts& request) const {
  RequestDecision decision;
  const bool check_host = loopback_bound_ || !allowed_hosts_.empty();
  if (check_host && !request.host.empty() && !HostAccepted(request.host, request.local)) {
    const std::string port = std::to_string(port_);
    decision.refused = "host";
    decision.message =
        "the Host '" + std::string(request.host) + "' does not name this server: " +
        (loopback_bound_ ? "it listens on loopback and answers only localhost, 127.0.0.1 and "
                           "[::1] on port " +
                               port
                         : "it answers only localhost and its own addresses on port " + port) +
        ", and the names in allowed_hosts (protection against DNS rebinding); add the name to "
        "allowed_hosts to serve it";
    return decision;
  }
  if (request.origin.empty()) return decision;
  const bool listed = OriginListed(request.origin);
  bool same = false;
  std::string origin_name, host_name;
  int origin_port = 0, host_port = 0;
  if (!request.host.empty() && SplitOrigin(request.origin, &origin_name, &origin_port) &&
      SplitHost(request.host, &host_name, &host_port) &&
      HostAccepted(request.host, request.local)) {
    if (host_port == 0) host_port = origin_port;
    same = origin_name == host_name && origin_port == host_port;
  }
  if (same) return decision;
  if (listed) {
    decision.cors_origin = std::string(request.origin);
    decision.preflight = request.method == "OPTIONS" && request.has_access_control_request_method;
    return decision;
  }
  const bool read_only = request.method == "GET" || request.method == "HEAD";
  const bool admin =
      request.path == "/api/v1/admin" || request.path.rfind("/api/v1/admin/", 0) == 0;
  if (read_only && !admin && request.path != tail_path_) return decision;
  decision.refused = "origin";
  decision.message = "cross-origin request refused: the Origin '" + std::string(request.origin) +
                     "' is not this server and not in allowed_origins (" +
                     std::string(request.method) + " " + std::string(request.path) +
                     (read_only ? " is an admin or tail route)" : " changes state)");
  return decision;
}

}  // namespace sawmill::http
