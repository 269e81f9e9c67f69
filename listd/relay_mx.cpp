// relay_mx.cpp - see relay_mx.hpp.
#include "listd/relay_mx.hpp"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace listd {
namespace {

// One resolver state per lookup batch; res_nclose frees it.
struct ResState {
  struct __res_state st {};
  bool ok = false;
  ResState(const std::string& host, std::uint16_t port) {
    ok = res_ninit(&st) == 0;
    if (!ok || host.empty()) return;
    in_addr a{};
    if (::inet_pton(AF_INET, host.c_str(), &a) != 1) {
      ok = false;
      return;
    }
    st.nscount = 1;
    st.nsaddr_list[0].sin_family = AF_INET;
    st.nsaddr_list[0].sin_addr = a;
    st.nsaddr_list[0].sin_port = htons(port);
    st.retrans = 2;
    st.retry = 2;
  }
  ~ResState() {
    if (ok) res_nclose(&st);
  }
};

enum class Q { ok, nxdomain, nodata, temp };

struct Rr {
  std::string text;  // MX: host; A/AAAA: numeric address
  int pref = 0;
  std::uint32_t ttl = 0;
};

Q query(ResState& rs, const std::string& name, int type, std::vector<Rr>& out) {
  std::vector<unsigned char> buf(8192);
  int n = res_nquery(&rs.st, name.c_str(), ns_c_in, type, buf.data(), static_cast<int>(buf.size()));
  if (n < 0) {
    switch (rs.st.res_h_errno) {
      case HOST_NOT_FOUND: return Q::nxdomain;
      case NO_DATA: return Q::nodata;
      default: return Q::temp;
    }
  }
  ns_msg msg;
  if (ns_initparse(buf.data(), n, &msg) < 0) return Q::temp;
  int count = ns_msg_count(msg, ns_s_an);
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) return Q::temp;
    if (ns_rr_type(rr) != type) continue;  // CNAMEs on the way
    Rr r;
    r.ttl = ns_rr_ttl(rr);
    const unsigned char* rd = ns_rr_rdata(rr);
    if (type == ns_t_mx) {
      if (ns_rr_rdlen(rr) < 3) return Q::temp;
      r.pref = (rd[0] << 8) | rd[1];
      char host[NS_MAXDNAME];
      if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), rd + 2, host, sizeof host) < 0) return Q::temp;
      r.text = host;
    } else if (type == ns_t_a && ns_rr_rdlen(rr) == 4) {
      char a[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, rd, a, sizeof a);
      r.text = a;
    } else if (type == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
      char a[INET6_ADDRSTRLEN];
      ::inet_ntop(AF_INET6, rd, a, sizeof a);
      r.text = a;
    } else if (type == ns_t_txt) {
      // RFC 1035 §3.3.14: one or more <length><bytes> strings, joined.
      std::size_t len = ns_rr_rdlen(rr), off = 0;
      while (off < len) {
        std::size_t n = rd[off];
        if (off + 1 + n > len) return Q::temp;
        r.text.append(reinterpret_cast<const char*>(rd) + off + 1, n);
        off += 1 + n;
      }
    } else {
      continue;
    }
    out.push_back(std::move(r));
  }
  return out.empty() ? Q::nodata : Q::ok;
}

}  // namespace

MxResolver::MxResolver(std::string server_host, std::uint16_t server_port)
    : host_(std::move(server_host)), port_(server_port) {}

MxAnswer MxResolver::resolve(const std::string& domain) {
  auto now = std::chrono::steady_clock::now();
  auto it = cache_.find(domain);
  if (it != cache_.end() && it->second.expires > now) return it->second.answer;
  MxAnswer a = lookup(domain);
  if (a.status != MxAnswer::Status::temporary) {
    std::uint32_t ttl = a.status == MxAnswer::Status::ok ? std::min(a.ttl, kMaxTtl) : kNegativeTtl;
    cache_[domain] = {a, now + std::chrono::seconds(ttl)};
  } else if (it != cache_.end()) {
    cache_.erase(it);
  }
  return a;
}

MxAnswer MxResolver::lookup(const std::string& domain) {
  MxAnswer ans;
  ResState rs(host_, port_);
  if (!rs.ok) {
    ans.error = "451 4.4.3 resolver unavailable";
    return ans;
  }
  std::vector<Rr> mx;
  Q q = query(rs, domain, ns_t_mx, mx);
  if (q == Q::temp) {
    ans.error = "451 4.4.3 MX lookup for " + domain + " failed temporarily";
    return ans;
  }
  if (q == Q::nxdomain) {
    ans.status = MxAnswer::Status::permanent;
    ans.error = "550 5.1.2 domain " + domain + " does not exist";
    return ans;
  }
  if (q == Q::nodata) mx.push_back({domain, 0, kMaxTtl});  // RFC 5321 5.1: implicit MX
  // RFC 7505: a single MX "." with preference 0 says the domain takes no mail.
  if (mx.size() == 1 && (mx[0].text.empty() || mx[0].text == ".")) {
    ans.status = MxAnswer::Status::permanent;
    ans.error = "556 5.1.10 domain " + domain + " publishes a null MX";
    return ans;
  }
  std::stable_sort(mx.begin(), mx.end(), [](const Rr& a, const Rr& b) { return a.pref < b.pref; });
  std::uint32_t ttl = kMaxTtl;
  bool temp = false;
  for (auto& m : mx) {
    ttl = std::min(ttl, m.ttl);
    for (int type : {ns_t_a, ns_t_aaaa}) {
      std::vector<Rr> addrs;
      Q qa = query(rs, m.text, type, addrs);
      if (qa == Q::temp) temp = true;
      for (auto& a : addrs) {
        ttl = std::min(ttl, a.ttl);
        ans.targets.push_back({a.text, m.pref, m.text});
      }
    }
  }
  if (ans.targets.empty()) {
    ans.status = temp ? MxAnswer::Status::temporary : MxAnswer::Status::permanent;
    ans.error = temp ? "451 4.4.3 address lookup for the MX hosts of " + domain + " failed temporarily"
                     : "550 5.1.2 no address for any mail host of " + domain;
    return ans;
  }
  ans.status = MxAnswer::Status::ok;
  ans.ttl = ttl;
  return ans;
}

TxtAnswer dns_txt(const std::string& server_host, std::uint16_t server_port, const std::string& name) {
  ResState rs(server_host, server_port);
  if (!rs.ok) return {TxtAnswer::Status::temporary, {}, 0};
  std::vector<Rr> rrs;
  switch (query(rs, name, ns_t_txt, rrs)) {
    case Q::ok: break;
    case Q::nxdomain:
    case Q::nodata: return {TxtAnswer::Status::none, {}, MxResolver::kNegativeTtl};
    case Q::temp: return {TxtAnswer::Status::temporary, {}, 0};
  }
  TxtAnswer a{TxtAnswer::Status::found, {}, MxResolver::kMaxTtl};
  for (auto& r : rrs) {
    a.records.push_back(std::move(r.text));
    a.ttl = std::min(a.ttl, r.ttl);
  }
  return a;
}

}  // namespace listd
