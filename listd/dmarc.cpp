// dmarc.cpp - see dmarc.hpp.
#include "listd/dmarc.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

#include "listd/fsutil.hpp"
#include "listd/log.hpp"
#include "listd/moderation_mail.hpp"
#include "listd/relay_mx.hpp"
#include "listd/subscription.hpp"

#include "listd/text.hpp"

namespace listd {

const char* to_string(DmarcPolicy p) {
  switch (p) {
    case DmarcPolicy::none: return "none";
    case DmarcPolicy::quarantine: return "quarantine";
    case DmarcPolicy::reject: return "reject";
  }
  return "none";
}

namespace {

std::string organizational_domain(const std::string& domain) {
  std::vector<std::string> labels;
  std::size_t start = 0;
  for (;;) {
    auto dot = domain.find('.', start);
    labels.push_back(domain.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (labels.size() <= 2) return domain;
  std::size_t keep = 2;
  const std::string& sld = labels[labels.size() - 2];
  if (labels.back().size() == 2 &&
      (sld == "co" || sld == "com" || sld == "org" || sld == "net" || sld == "ac" || sld == "gov" || sld == "edu"))
    keep = 3;  // co.uk, com.ar, ...: a short public suffix
  std::string out;
  for (std::size_t i = labels.size() - std::min(keep, labels.size()); i < labels.size(); ++i)
    out += (out.empty() ? "" : ".") + labels[i];
  return out;
}

struct CacheEntry {
  DmarcPolicy policy;
  std::chrono::steady_clock::time_point expires;
};
std::mutex g_mu;
std::map<std::string, CacheEntry> g_cache;
constexpr std::size_t kMaxCache = 10000;

// lookup - (found a DMARC record, its policy, ttl)
bool lookup(const Config& cfg, const std::string& name, bool subdomain, DmarcPolicy& policy, std::uint32_t& ttl) {
  auto a = dns_txt(cfg.relay.resolver.host, cfg.relay.resolver.port == 0 ? 53 : cfg.relay.resolver.port, name);
  ttl = a.ttl;
  if (a.status != TxtAnswer::Status::found) return false;
  for (auto& r : a.records) {
    if (lower(trim(r)).rfind("v=dmarc1", 0) != 0) continue;
    policy = dmarc_parse(r, subdomain);
    return true;
  }
  return false;
}

}  // namespace

DmarcPolicy dmarc_parse(std::string_view record, bool subdomain) {
  std::string rec = lower(record);
  if (trim(rec).rfind("v=dmarc1", 0) != 0) return DmarcPolicy::none;
  DmarcPolicy p = DmarcPolicy::none, sp = DmarcPolicy::none;
  bool have_sp = false;
  std::size_t pos = 0;
  while (pos <= rec.size()) {
    auto semi = rec.find(';', pos);
    std::string tag = trim(rec.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos));
    auto eq = tag.find('=');
    if (eq != std::string::npos) {
      std::string k = trim(tag.substr(0, eq)), v = trim(tag.substr(eq + 1));
      DmarcPolicy val = v == "reject"       ? DmarcPolicy::reject
                        : v == "quarantine" ? DmarcPolicy::quarantine
                                            : DmarcPolicy::none;
      if (k == "p") p = val;
      if (k == "sp") {
        sp = val;
        have_sp = true;
      }
    }
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  return subdomain && have_sp ? sp : p;
}

DmarcPolicy dmarc_policy(const Config& cfg, const std::string& domain_in) {
  std::string domain = lower(domain_in);
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(g_mu);
    if (auto it = g_cache.find(domain); it != g_cache.end() && it->second.expires > now) return it->second.policy;
  }
  DmarcPolicy policy = DmarcPolicy::none;
  std::uint32_t ttl = MxResolver::kNegativeTtl;
  if (!lookup(cfg, "_dmarc." + domain, false, policy, ttl)) {
    std::string org = organizational_domain(domain);
    if (org != domain && !lookup(cfg, "_dmarc." + org, true, policy, ttl)) policy = DmarcPolicy::none;
  }
  if (ttl == 0) return policy;  // a temporary failure: not cached
  std::lock_guard lock(g_mu);
  if (g_cache.size() >= kMaxCache) g_cache.clear();
  g_cache[domain] = {policy, now + std::chrono::seconds(std::min<std::uint32_t>(ttl, 86400))};
  return policy;
}

std::string dmarc_mitigate(const Config& cfg, const ListRow& list, const MessageInfo& info, std::string_view message) {
  const auto& mode = list.settings.dmarc_mitigation;
  if (mode == "none" || info.from_address.empty()) return std::string(message);
  auto at = info.from_address.rfind('@');
  if (at == std::string::npos) return std::string(message);
  DmarcPolicy p = dmarc_policy(cfg, info.from_address.substr(at + 1));
  if (p == DmarcPolicy::none) return std::string(message);
  log_event(LogLevel::info, "dmarc-mitigation",
            {{"list", list.address()}, {"from", info.from_address}, {"policy", to_string(p)}, {"mode", mode}});
  std::string who = info.from_name.empty() ? info.from_address : info.from_name;
  std::string from = "From: \"" + rfc2047_encode(who + " via " + list.name) + "\" <" + list.address() + ">\n";
  std::string original_from = info.from_name.empty()
                                  ? info.from_address
                                  : "\"" + rfc2047_encode(info.from_name) + "\" <" + info.from_address + ">";
  std::string reply_to = "Reply-To: " + original_from + (info.reply_to.empty() ? "" : ", " + info.reply_to) + "\n";
  if (mode == "wrap_message") {
    // The whole post, untouched, inside a message from the list (RFC 2046 message/rfc822).
    std::string boundary = "=_listd_dmarc_" + random_hex(8);
    std::string subject = rfc2047_encode(info.subject);
    return from + reply_to + "To: " + list.address() + "\nSubject: " + subject +
           "\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"" + boundary + "\"\nList-Id: <" + list.name +
           "." + list.host + ">\nList-Post: <mailto:" + list.address() + ">\nX-BeenThere: " + list.address() +
           "\nPrecedence: list\n\n--" + boundary +
           "\nContent-Type: text/plain; charset=utf-8\n\nThe original message from " + info.from_address +
           " is attached: its domain's DMARC policy does not allow the list to send it as written.\n\n--" + boundary +
           "\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n" + std::string(message) +
           (message.empty() || message.back() == '\n' ? "" : "\n") + "\n--" + boundary + "--\n";
  }
  // munge_from: new From and Reply-To first, the old ones removed.
  return from + reply_to + strip_fields(message, {"from", "reply-to"});
}

}  // namespace listd
