// relay_mx.hpp - MX lookup for relay.mode = mx (RFC 5321 5.1): MX records by preference,
// then each host's A/AAAA records; no MX means the domain itself (implicit MX); a null MX
// (RFC 7505) or NXDOMAIN is a permanent failure; a server failure or timeout is temporary.
//
// Uses libresolv's res_nquery on a private resolver state, asking relay.resolver when set
// (tests run dnsmasq on a loopback port) else /etc/resolv.conf. Answers are cached with
// their TTL (positive) or kNegativeTtl (NXDOMAIN / no address); temporary failures are not
// cached. Blocking: called from the delivery thread (listd/relay.cpp), never the event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace listd {

struct MxTarget {
  std::string address;  // numeric IPv4 or IPv6
  int preference = 0;
  std::string host;  // the MX host name (for logs and TLS SNI)
};

struct MxAnswer {
  enum class Status { ok, temporary, permanent } status = Status::temporary;
  std::vector<MxTarget> targets;  // ordered by preference, then as the server listed them
  std::string error;              // why, for the recipient's last_reply
  std::uint32_t ttl = 0;
};

class MxResolver {
 public:
  static constexpr std::uint32_t kNegativeTtl = 300;
  static constexpr std::uint32_t kMaxTtl = 86400;
  // server_host/server_port: DNS server (numeric IPv4); empty host = system resolvers.
  MxResolver(std::string server_host, std::uint16_t server_port);
  MxAnswer resolve(const std::string& domain);
  std::size_t cache_size() const { return cache_.size(); }

 private:
  MxAnswer lookup(const std::string& domain);
  std::string host_;
  std::uint16_t port_;
  struct Entry {
    MxAnswer answer;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Entry> cache_;
};

// dns_txt - the TXT records of `name` (each record's strings joined), asking server_host:port
// (empty host: the system resolvers). Blocking; used for DMARC policies (listd/dmarc.cpp).
struct TxtAnswer {
  enum class Status { found, none, temporary } status = Status::none;
  std::vector<std::string> records;
  std::uint32_t ttl = 0;
};
TxtAnswer dns_txt(const std::string& server_host, std::uint16_t server_port, const std::string& name);

}  // namespace listd
