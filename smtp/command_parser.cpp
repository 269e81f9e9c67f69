// command_parser.cpp - SMTP command framing and parsing; see command_parser.hpp.
#include "smtp/command_parser.hpp"

#include <cctype>
#include <limits>

namespace smtp {

namespace {
std::string upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}
bool iequal_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(s[i])) != std::toupper(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}
}  // namespace

LineScan next_command_line(std::string_view buf, std::size_t max_len) {
  LineScan r;
  auto lf = buf.find('\n');
  if (lf == std::string_view::npos) {
    if (buf.size() >= max_len) r.status = LineStatus::too_long;
    return r;
  }
  r.consumed = lf + 1;
  if (lf == 0 || buf[lf - 1] != '\r') {
    r.status = LineStatus::bare_lf;
    return r;
  }
  if (lf + 1 > max_len) {
    r.status = LineStatus::too_long;
    return r;
  }
  r.status = LineStatus::line;
  r.line = buf.substr(0, lf - 1);
  return r;
}

std::optional<Command> parse_command(std::string_view line, Reply* error) {
  for (char c : line) {
    if (c == '\0') {
      *error = Reply(501, "5.5.2", "NUL byte in command");
      return std::nullopt;
    }
    if (c == '\r') {
      *error = Reply(501, "5.5.4", "Bare CR in command");
      return std::nullopt;
    }
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      *error = Reply(501, "5.5.2", "Control character in command");
      return std::nullopt;
    }
  }
  Command cmd;
  auto sp = line.find(' ');
  cmd.verb = upper(line.substr(0, sp));
  if (sp != std::string_view::npos) cmd.arg = std::string(line.substr(sp + 1));
  while (!cmd.arg.empty() && (cmd.arg.back() == ' ' || cmd.arg.back() == '\t')) cmd.arg.pop_back();
  return cmd;
}

std::optional<std::uint64_t> parse_size(std::string_view v) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

std::optional<PathArg> parse_mail_rcpt(std::string_view arg, std::string_view prefix, Reply* error) {
  const std::string syntax = "Syntax: " + std::string(prefix == "FROM:" ? "MAIL FROM:<address>" : "RCPT TO:<address>");
  if (!iequal_prefix(arg, prefix)) {
    *error = Reply(501, "5.5.4", syntax);
    return std::nullopt;
  }
  std::string_view rest = arg.substr(prefix.size());
  if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty() || rest.front() != '<') {
    *error = Reply(501, "5.5.4", syntax);
    return std::nullopt;
  }
  // The path ends at the first '>' outside a quoted string.
  std::size_t end = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    char c = rest[i];
    if (quoted && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '>') {
      end = i;
      break;
    }
  }
  if (end == std::string_view::npos) {
    *error = Reply(501, "5.5.4", syntax);
    return std::nullopt;
  }
  std::string_view path = rest.substr(1, end - 1);
  // Source route "@a,@b:user@host" (RFC 5321 §4.1.1.3, Appendix C): accepted and ignored.
  if (!path.empty() && path.front() == '@') {
    auto colon = path.find(':');
    if (colon == std::string_view::npos) {
      *error = Reply(501, "5.1.3", "Bad source route");
      return std::nullopt;
    }
    path.remove_prefix(colon + 1);
    if (path.empty()) {
      *error = Reply(501, "5.1.3", "Bad source route");
      return std::nullopt;
    }
  }
  PathArg out;
  out.address = std::string(path);
  std::string_view params = rest.substr(end + 1);
  if (!params.empty() && params.front() != ' ') {
    *error = Reply(501, "5.5.4", syntax);
    return std::nullopt;
  }
  while (!params.empty()) {
    while (!params.empty() && params.front() == ' ') params.remove_prefix(1);
    if (params.empty()) break;
    auto sp = params.find(' ');
    std::string_view p = params.substr(0, sp);
    params = sp == std::string_view::npos ? std::string_view() : params.substr(sp);
    auto eq = p.find('=');
    std::string key = upper(p.substr(0, eq));
    if (key.empty()) {
      *error = Reply(501, "5.5.4", "Malformed parameter");
      return std::nullopt;
    }
    out.params.emplace_back(key, eq == std::string_view::npos ? std::string() : std::string(p.substr(eq + 1)));
  }
  return out;
}

}  // namespace smtp
