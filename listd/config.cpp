// config.cpp - see config.hpp.
#include "listd/config.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace listd {
namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// Inline comment: ';' or '#' at line start or preceded by whitespace.
std::string strip_comment(const std::string& line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((line[i] == ';' || line[i] == '#') && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t'))
      return line.substr(0, i);
  }
  return line;
}

struct Ctx {
  std::string where;  // "FILE:LINE"
  std::string key;
  [[noreturn]] void fail(const std::string& why) const { throw ConfigError(where + ": key '" + key + "': " + why); }
};

std::uint64_t parse_uint(const Ctx& c, const std::string& v, std::uint64_t min, std::uint64_t max) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) c.fail("expected a whole number, got '" + v + "'");
  if (n < min || n > max)
    c.fail("value " + v + " out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return n;
}

Endpoint parse_endpoint(const Ctx& c, const std::string& v) {
  // host:port, [v6]:port
  std::string host, port;
  if (!v.empty() && v.front() == '[') {
    auto close = v.find(']');
    if (close == std::string::npos || close + 1 >= v.size() || v[close + 1] != ':')
      c.fail("expected [ADDRESS]:PORT, got '" + v + "'");
    host = v.substr(1, close - 1);
    port = v.substr(close + 2);
  } else {
    auto colon = v.rfind(':');
    if (colon == std::string::npos || v.find(':') != colon) c.fail("expected HOST:PORT, got '" + v + "'");
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
  }
  if (host.empty()) c.fail("missing host in '" + v + "'");
  Endpoint e;
  e.host = host;
  e.port = static_cast<std::uint16_t>(parse_uint(c, port, 1, 65535));
  return e;
}

template <class E>
E parse_enum(const Ctx& c, const std::string& v, std::initializer_list<std::pair<const char*, E>> options) {
  std::string names;
  for (auto& [name, value] : options) {
    if (v == name) return value;
    names += (names.empty() ? "" : " | ") + std::string(name);
  }
  c.fail("expected " + names + ", got '" + v + "'");
}

std::filesystem::path resolve(const std::filesystem::path& origin, const std::string& v) {
  std::filesystem::path p(v);
  if (p.is_absolute() || origin.empty()) return p;
  return (origin.parent_path().empty() ? std::filesystem::path(".") : origin.parent_path()) / p;
}

using Setter = std::function<void(Config&, const Ctx&, const std::string&)>;

void add_listener(std::map<std::string, Setter>& t, const std::string& sec, Listener Config::*l,
                  const std::filesystem::path& origin) {
  t[sec + ".listen"] = [l](Config& cfg, const Ctx& c, const std::string& v) { (cfg.*l).listen = parse_endpoint(c, v); };
  t[sec + ".tls_listen"] = [l](Config& cfg, const Ctx& c, const std::string& v) {
    (cfg.*l).tls_listen = v.empty() ? Endpoint{} : parse_endpoint(c, v);
  };
  t[sec + ".tls_cert"] = [l, origin](Config& cfg, const Ctx&, const std::string& v) {
    (cfg.*l).tls_cert = resolve(origin, v).string();
  };
  t[sec + ".tls_key"] = [l, origin](Config& cfg, const Ctx&, const std::string& v) {
    (cfg.*l).tls_key = resolve(origin, v).string();
  };
}

std::map<std::string, Setter> key_table(const std::filesystem::path& origin) {
  std::map<std::string, Setter> t;
  t["data_dir"] = [origin](Config& cfg, const Ctx& c, const std::string& v) {
    if (v.empty()) c.fail("must not be empty");
    cfg.data_dir = resolve(origin, v);
  };
  t["hostname"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    if (v.empty() || v.find_first_of(" /@\\") != std::string::npos) c.fail("not a host name: '" + v + "'");
    cfg.hostname = v;
    for (auto& ch : cfg.hostname) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  };
  t["base_url"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) c.fail("must start with http:// or https://");
    cfg.base_url = v;
    while (!cfg.base_url.empty() && cfg.base_url.back() == '/') cfg.base_url.pop_back();
  };
  t["user"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    if (v.empty()) c.fail("must not be empty");
    cfg.user = v;
  };
  t["templates_dir"] = [origin](Config& cfg, const Ctx&, const std::string& v) {
    cfg.templates_dir = v.empty() ? std::filesystem::path() : resolve(origin, v);
  };
  t["log_level"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    parse_enum<int>(c, v, {{"error", 0}, {"warn", 1}, {"info", 2}, {"debug", 3}, {"trace", 4}});
    cfg.log_level = v;
  };
  add_listener(t, "smtp", &Config::smtp, origin);
  add_listener(t, "lmtp", &Config::lmtp, origin);
  add_listener(t, "http", &Config::http, origin);
  add_listener(t, "imap", &Config::imap, origin);
  add_listener(t, "pop3", &Config::pop3, origin);
  t["smtp.max_message_size"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.smtp_max_message_size = parse_uint(c, v, 1024, 1ull << 34);
  };
  t["lmtp.max_message_size"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.lmtp_max_message_size = parse_uint(c, v, 1024, 1ull << 34);
  };
  for (const char* sec : {"smtp", "lmtp"}) {
    auto limits = std::string(sec) == "smtp" ? &Config::smtp_limits : &Config::lmtp_limits;
    auto lim_key = [&t, sec, limits](const std::string& k, unsigned Config::ReceiverLimits::*f, std::uint64_t lo,
                                     std::uint64_t hi) {
      t[std::string(sec) + "." + k] = [limits, f, lo, hi](Config& cfg, const Ctx& c, const std::string& v) {
        (cfg.*limits).*f = static_cast<unsigned>(parse_uint(c, v, lo, hi));
      };
    };
    lim_key("max_recipients", &Config::ReceiverLimits::max_recipients, 1, 100000);
    lim_key("max_command_line", &Config::ReceiverLimits::max_command_line, 512, 65536);
    lim_key("max_text_line", &Config::ReceiverLimits::max_text_line, 1000, 1048576);
    lim_key("command_timeout", &Config::ReceiverLimits::command_timeout, 1, 3600);
    lim_key("data_timeout", &Config::ReceiverLimits::data_timeout, 1, 3600);
    lim_key("max_connections", &Config::ReceiverLimits::max_connections, 1, 100000);
    lim_key("max_connections_per_ip", &Config::ReceiverLimits::max_connections_per_ip, 1, 100000);
    lim_key("max_errors", &Config::ReceiverLimits::max_errors, 1, 10000);
    lim_key("max_received", &Config::ReceiverLimits::max_received, 10, 1000);
    lim_key("commit_threads", &Config::ReceiverLimits::commit_threads, 1, 64);
    lim_key("max_header_size", &Config::ReceiverLimits::max_header_size, 1024, 1u << 30);
    lim_key("max_header_fields", &Config::ReceiverLimits::max_header_fields, 10, 1000000);
    lim_key("max_header_field_size", &Config::ReceiverLimits::max_header_field_size, 1000, 1u << 30);
    lim_key("greet_pause_ms", &Config::ReceiverLimits::greet_pause_ms, 0, 60000);
  }
  t["relay.mode"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.relay.mode = parse_enum<RelayMode>(
        c, v, {{"smarthost", RelayMode::smarthost}, {"mx", RelayMode::mx}, {"maildir", RelayMode::maildir}});
  };
  t["relay.host"] = [](Config& cfg, const Ctx& c, const std::string& v) { cfg.relay.host = parse_endpoint(c, v); };
  t["relay.tls"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.relay.tls = parse_enum<RelayTls>(c, v,
                                         {{"none", RelayTls::none},
                                          {"opportunistic", RelayTls::opportunistic},
                                          {"required", RelayTls::required},
                                          {"verify", RelayTls::verify}});
  };
  auto uint_key = [&t](const std::string& k, unsigned Config::Relay::*f, std::uint64_t lo, std::uint64_t hi) {
    t[k] = [f, lo, hi](Config& cfg, const Ctx& c, const std::string& v) {
      cfg.relay.*f = static_cast<unsigned>(parse_uint(c, v, lo, hi));
    };
  };
  uint_key("relay.connections", &Config::Relay::connections, 1, 1000);
  uint_key("relay.max_recipients", &Config::Relay::max_recipients, 1, 10000);
  uint_key("relay.retry_initial", &Config::Relay::retry_initial, 1, 86400);
  uint_key("relay.retry_max", &Config::Relay::retry_max, 1, 7 * 86400);
  uint_key("relay.max_queue_age", &Config::Relay::max_queue_age, 60, 30 * 86400);
  uint_key("relay.per_destination", &Config::Relay::per_destination, 1, 1000);
  uint_key("relay.command_timeout", &Config::Relay::command_timeout, 1, 3600);
  uint_key("relay.keep_delivered", &Config::Relay::keep_delivered, 0, 365 * 86400);
  t["relay.auth_user"] = [](Config& cfg, const Ctx&, const std::string& v) { cfg.relay.auth_user = v; };
  t["relay.auth_password"] = [](Config& cfg, const Ctx&, const std::string& v) { cfg.relay.auth_password = v; };
  t["relay.resolver"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.relay.resolver = v.empty() ? Endpoint{} : parse_endpoint(c, v);
    in_addr a{};
    if (!v.empty() && ::inet_pton(AF_INET, cfg.relay.resolver.host.c_str(), &a) != 1)
      c.fail("expected a numeric IPv4 ADDRESS:PORT, got '" + v + "'");
  };
  t["relay.mx_port"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.relay.mx_port = static_cast<std::uint16_t>(parse_uint(c, v, 1, 65535));
  };
  t["auth.plaintext"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.plaintext_auth = parse_enum<PlaintextAuth>(
        c, v, {{"no", PlaintextAuth::no}, {"loopback", PlaintextAuth::loopback}, {"yes", PlaintextAuth::yes}});
  };
  t["http.hsts_max_age"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.http_hsts_max_age = parse_uint(c, v, 0, 2ull * 365 * 86400);
  };
  t["tls.tls_cert"] = [origin](Config& cfg, const Ctx&, const std::string& v) {
    cfg.tls_cert = resolve(origin, v).string();
  };
  t["tls.tls_key"] = [origin](Config& cfg, const Ctx&, const std::string& v) {
    cfg.tls_key = resolve(origin, v).string();
  };
  t["tokens.ttl"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.tokens_ttl = parse_uint(c, v, 60, 90ull * 86400);
  };
  t["spool.workers"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.spool.workers = static_cast<unsigned>(parse_uint(c, v, 1, 64));
  };
  t["spool.defer_during_intake"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.spool.defer_during_intake = static_cast<unsigned>(parse_uint(c, v, 0, 60000));
  };
  t["spool.journal"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.spool.journal = parse_enum<bool>(c, v, {{"yes", true}, {"no", false}});
  };
  t["spool.journal_segment_size"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.spool.journal_segment_size = parse_uint(c, v, 1ull << 20, 1ull << 30);
  };
  t["spool.max_attempts"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.spool.max_attempts = static_cast<unsigned>(parse_uint(c, v, 1, 100));
  };
  t["imap.workers"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.archive.workers = static_cast<unsigned>(parse_uint(c, v, 1, 64));
  };
  t["imap.max_logins"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.archive.max_logins = static_cast<unsigned>(parse_uint(c, v, 1, 64));
  };
  t["auth.cache_ttl"] = [](Config& cfg, const Ctx& c, const std::string& v) {
    cfg.archive.auth_cache_ttl = static_cast<unsigned>(parse_uint(c, v, 0, 86400));
  };
  return t;
}

}  // namespace

std::string Endpoint::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Config parse_config(const std::string& text, const std::filesystem::path& origin) {
  Config cfg;
  cfg.file = origin;
  auto table = key_table(origin);
  static const std::vector<std::string> sections = {"smtp",  "lmtp", "http", "imap", "pop3",
                                                    "relay", "auth", "tls",  "spool"};
  std::istringstream in(text);
  std::string raw, section;
  int lineno = 0;
  std::map<std::string, int> seen;
  const std::string name = origin.empty() ? std::string("<config>") : origin.string();
  while (std::getline(in, raw)) {
    ++lineno;
    Ctx c{name + ":" + std::to_string(lineno), {}};
    std::string line = trim(strip_comment(raw));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        c.key = line;
        c.fail("malformed section header");
      }
      section = trim(line.substr(1, line.size() - 2));
      bool known = false;
      for (auto& s : sections) known = known || s == section;
      if (!known) {
        c.key = "[" + section + "]";
        c.fail("unknown section");
      }
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      c.key = line;
      c.fail("expected key = value");
    }
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    std::string full = section.empty() ? key : section + "." + key;
    c.key = full;
    auto it = table.find(full);
    if (it == table.end()) c.fail("unknown key");
    if (auto s = seen.find(full); s != seen.end())
      c.fail("set twice (first at line " + std::to_string(s->second) + ")");
    seen[full] = lineno;
    it->second(cfg, c, value);
  }
  // Listener TLS files default to [tls].
  for (Listener* l : {&cfg.smtp, &cfg.lmtp, &cfg.http, &cfg.imap, &cfg.pop3}) {
    if (l->tls_cert.empty()) l->tls_cert = cfg.tls_cert;
    if (l->tls_key.empty()) l->tls_key = cfg.tls_key;
  }
  if (cfg.relay.retry_initial > cfg.relay.retry_max)
    throw ConfigError(name + ": key 'relay.retry_initial': larger than relay.retry_max");
  return cfg;
}

Config load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file.string() + ": cannot read config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), std::filesystem::absolute(file));
}

std::filesystem::path config_path(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("LISTD_CONFIG"); env && *env) return env;
  return "/etc/listd/listd.conf";
}

}  // namespace listd
