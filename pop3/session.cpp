// session.cpp - see session.hpp. Replies follow RFC 1939 §5-§7 and RFC 2449 §5.
#include "pop3/session.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "imap/session.hpp"  // base64_decode

namespace pop3 {

bool parse_command(std::string_view line, std::string& name, std::vector<std::string>& args) {
  name.clear();
  args.clear();
  std::size_t i = 0;
  auto word = [&] {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t b = i;
    while (i < line.size() && line[i] != ' ') ++i;
    return std::string(line.substr(b, i - b));
  };
  name = word();
  if (name.empty()) return false;
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // PASS takes the rest of the line (passwords may contain spaces, RFC 1939 §7).
  if (name == "PASS") {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i < line.size()) args.emplace_back(line.substr(i));
    return true;
  }
  while (true) {
    std::string w = word();
    if (w.empty()) break;
    args.push_back(std::move(w));
  }
  return true;
}

std::string dot_stuff(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 64);
  bool bol = true;
  for (char c : text) {
    if (bol && c == '.') out.push_back('.');
    out.push_back(c);
    bol = c == '\n';
  }
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  return out;
}

Session::Session(Maildrop& drop, SessionOptions options) : drop_(drop), options_(std::move(options)) {
  tls_active_ = options_.tls_active;
}

std::string Session::greeting() {
  return "+OK " + options_.server_name + " POP3 archive server ready\r\n";
}

std::string Session::timeout() {
  closing_ = true;
  return "-ERR autologout; idle for too long\r\n";
}

std::string Session::input(std::string_view bytes) {
  buf_.append(bytes);
  std::string out;
  process(out);
  return out;
}

std::string Session::verify() {
  std::string out;
  if (!login_pending_) return out;
  login_pending_ = false;
  end_login(drop_.finish_login(), out);
  process(out);
  return out;
}

void Session::process(std::string& out) {
  while (!closing_ && !want_stls_ && !login_pending_) {
    auto nl = buf_.find('\n');
    if (nl == std::string::npos) {
      if (buf_.size() > options_.limits.max_line) {
        out += "-ERR line too long\r\n";
        closing_ = true;
      }
      break;
    }
    std::string l = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.size() > options_.limits.max_line) {
      err("line too long", out);
      continue;
    }
    line(l, out);
  }
}

void Session::err(const std::string& text, std::string& out) {
  out += "-ERR " + text + "\r\n";
  if (++bad_ >= options_.limits.max_bad_commands) {
    out += "-ERR too many bad commands, closing\r\n";
    closing_ = true;
  }
}

void Session::login(const std::string& user, const std::string& pass, std::string& out) {
  if (!auth_allowed()) {
    out += "-ERR [SYS/PERM] plaintext login needs TLS (use STLS)\r\n";
    return;
  }
  bool ok = false;
  if (!user.empty() && user.size() <= 320 && pass.size() <= 1024) {
    auto step = drop_.start_login(user, pass);
    if (step == Maildrop::LoginStep::slow) {
      login_pending_ = true;  // process() stops here until verify()
      return;
    }
    ok = step == Maildrop::LoginStep::ok;
  }
  end_login(ok, out);
}

void Session::end_login(bool ok, std::string& out) {
  if (!ok) {
    ++failed_;
    delay_ms_ = options_.limits.failed_login_delay_ms * failed_;
    out += "-ERR [AUTH] invalid user name or password\r\n";
    if (failed_ >= options_.limits.max_failed_logins) {
      out += "-ERR too many failed logins, closing\r\n";
      closing_ = true;
    }
    user_.clear();
    return;
  }
  msgs_ = drop_.list();
  if (!msgs_) msgs_ = std::make_shared<const DropList>();
  deleted_.assign(msgs_->size(), false);
  state_ = State::transaction;
  out += "+OK maildrop has " + std::to_string(msgs_->size()) + " messages\r\n";
}

const DropMessage* Session::msg_arg(const std::string& a, std::string& why, std::size_t* index) {
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), n);
  if (a.empty() || ec != std::errc() || p != a.data() + a.size()) {
    why = "bad message number";
    return nullptr;
  }
  if (n == 0 || n > msgs().size()) {
    why = "no such message";
    return nullptr;
  }
  if (deleted_[n - 1]) {
    why = "message " + a + " already deleted";
    return nullptr;
  }
  if (index) *index = n - 1;
  return &msgs()[n - 1];
}

void Session::line(const std::string& l, std::string& out) {
  if (auth_pending_) {
    auth_pending_ = false;
    if (l == "*") return err("AUTH cancelled", out);
    std::string plain;
    if (!imap::base64_decode(l, plain)) return err("bad base64", out);
    auto a = plain.find('\0');
    auto b = a == std::string::npos ? a : plain.find('\0', a + 1);
    if (b == std::string::npos) return err("bad PLAIN response", out);
    std::string authz = plain.substr(0, a), user = plain.substr(a + 1, b - a - 1);
    if (!authz.empty() && authz != user) return err("cannot act as another user", out);
    return login(user, plain.substr(b + 1), out);
  }
  std::string name;
  std::vector<std::string> args;
  if (!parse_command(l, name, args)) return err("empty command", out);
  if (state_ == State::authorization && ++unauth_ > options_.limits.max_unauth_commands) {
    out += "-ERR too many commands without logging in\r\n";
    closing_ = true;
    return;
  }
  if (name == "CAPA") {
    out += "+OK capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
    if (state_ == State::authorization) {
      if (options_.tls_available && !tls_active_) out += "STLS\r\n";
      if (auth_allowed()) out += "USER\r\nSASL PLAIN\r\n";
    }
    out += "IMPLEMENTATION listd\r\n.\r\n";
    return;
  }
  if (name == "QUIT") {
    if (state_ == State::transaction) {
      std::vector<std::int64_t> keys;
      for (std::size_t i = 0; i < msgs().size(); ++i)
        if (deleted_[i]) keys.push_back(msgs()[i].key);
      state_ = State::update;
      if (!keys.empty()) drop_.remove(keys);
      out += "+OK " + std::to_string(keys.size()) + " messages hidden for you, bye\r\n";
    } else {
      out += "+OK bye\r\n";
    }
    closing_ = true;
    return;
  }
  if (state_ == State::authorization) {
    if (name == "USER") {
      if (args.size() != 1) return err("USER takes one name", out);
      if (!auth_allowed()) return void(out += "-ERR [SYS/PERM] plaintext login needs TLS (use STLS)\r\n");
      user_ = args[0];
      out += "+OK send PASS\r\n";
      return;
    }
    if (name == "PASS") {
      if (user_.empty()) return err("send USER first", out);
      std::string user = user_;
      return login(user, args.empty() ? std::string() : args[0], out);
    }
    if (name == "AUTH") {
      if (args.empty()) {
        out += "+OK\r\nPLAIN\r\n.\r\n";
        return;
      }
      std::string mech = args[0];
      for (auto& c : mech) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (mech != "PLAIN" || args.size() > 2) return err("unsupported mechanism (use PLAIN)", out);
      if (!auth_allowed()) return void(out += "-ERR [SYS/PERM] plaintext authentication needs TLS (use STLS)\r\n");
      if (args.size() == 2) {
        auth_pending_ = true;
        return line(args[1] == "=" ? "" : args[1], out);
      }
      auth_pending_ = true;
      out += "+ \r\n";
      return;
    }
    if (name == "STLS") {
      if (!options_.tls_available || tls_active_) return err("STLS not available", out);
      buf_.clear();  // nothing pipelined before the handshake survives it (RFC 2595 §4)
      out += "+OK begin TLS negotiation\r\n";
      want_stls_ = true;
      return;
    }
    return err(name == "STAT" || name == "LIST" || name == "RETR" || name == "DELE" || name == "TOP" ||
                       name == "UIDL" || name == "RSET" || name == "NOOP"
                   ? "log in first"
                   : "unknown command",
               out);
  }
  // TRANSACTION
  std::string why;
  if (name == "STAT") {
    std::uint64_t n = 0, octets = 0;
    for (std::size_t i = 0; i < msgs().size(); ++i)
      if (!deleted_[i]) {
        ++n;
        octets += msgs()[i].size;
      }
    out += "+OK " + std::to_string(n) + " " + std::to_string(octets) + "\r\n";
    return;
  }
  if (name == "LIST" || name == "UIDL") {
    bool uidl = name == "UIDL";
    if (args.size() > 1) return err(name + " takes at most one argument", out);
    if (args.size() == 1) {
      std::size_t i = 0;
      const DropMessage* m = msg_arg(args[0], why, &i);
      if (!m) return err(why, out);
      out += "+OK " + std::to_string(i + 1) + " " + (uidl ? drop_.uidl(m->key) : std::to_string(m->size)) + "\r\n";
      return;
    }
    out += "+OK\r\n";
    for (std::size_t i = 0; i < msgs().size(); ++i)
      if (!deleted_[i])
        out +=
            std::to_string(i + 1) + " " + (uidl ? drop_.uidl(msgs()[i].key) : std::to_string(msgs()[i].size)) + "\r\n";
    out += ".\r\n";
    return;
  }
  if (name == "RETR" || name == "TOP") {
    bool top = name == "TOP";
    if (args.size() != (top ? 2u : 1u))
      return err(top ? "TOP takes a message number and a line count" : "RETR takes a message number", out);
    const DropMessage* m = msg_arg(args[0], why);
    if (!m) return err(why, out);
    std::size_t lines = 0;
    if (top) {
      auto [p, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), lines);
      if (ec != std::errc() || p != args[1].data() + args[1].size()) return err("bad line count", out);
    }
    auto text = drop_.message(m->key);
    if (!text) return err("[SYS/TEMP] message is gone from the archive", out);
    if (top) {
      auto hdr_end = text->find("\r\n\r\n");
      std::size_t cut = hdr_end == std::string::npos ? text->size() : hdr_end + 4;
      std::size_t pos = cut;
      for (std::size_t k = 0; k < lines && pos < text->size(); ++k) {
        auto nl = text->find('\n', pos);
        pos = nl == std::string::npos ? text->size() : nl + 1;
      }
      out += "+OK top of message follows\r\n" + dot_stuff(std::string_view(*text).substr(0, pos)) + ".\r\n";
    } else {
      out += "+OK " + std::to_string(text->size()) + " octets\r\n" + dot_stuff(*text) + ".\r\n";
    }
    return;
  }
  if (name == "DELE") {
    if (args.size() != 1) return err("DELE takes a message number", out);
    std::size_t i = 0;
    if (!msg_arg(args[0], why, &i)) return err(why, out);
    deleted_[i] = true;
    out += "+OK message " + args[0] + " deleted (hidden for you only)\r\n";
    return;
  }
  if (name == "RSET") {
    std::fill(deleted_.begin(), deleted_.end(), false);
    out += "+OK maildrop has " + std::to_string(msgs().size()) + " messages\r\n";
    return;
  }
  if (name == "NOOP") {
    out += "+OK\r\n";
    return;
  }
  if (name == "USER" || name == "PASS" || name == "AUTH" || name == "STLS") return err("already logged in", out);
  err("unknown command", out);
}

}  // namespace pop3
