// address.cpp - see address.hpp.
#include "smtp/address.hpp"

#include <algorithm>
#include <cctype>

namespace smtp {
namespace {

bool is_atext(unsigned char c, bool allow_utf8) {
  // RFC 5322 §3.2.3 atext
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~': return true;
    default: return allow_utf8 && c >= 0x80;
  }
}

bool valid_dot_atom(std::string_view s, bool allow_utf8) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char ch : s) {
    if (ch == '.') {
      if (prev == '.') return false;
    } else if (!is_atext(static_cast<unsigned char>(ch), allow_utf8)) {
      return false;
    }
    prev = ch;
  }
  return true;
}

// RFC 5321 §4.1.2 Quoted-string: DQUOTE *QcontentSMTP DQUOTE; must hold something visible.
bool valid_quoted(std::string_view s, bool allow_utf8) {
  if (s.size() < 3 || s.front() != '"' || s.back() != '"') return false;
  bool visible = false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      if (i + 2 >= s.size()) return false;
      auto n = static_cast<unsigned char>(s[++i]);
      if (n < 32 || n > 126) return false;
      visible = true;
    } else if (c == '"') {
      return false;
    } else if (c >= 0x80) {
      if (!allow_utf8) return false;
      visible = true;
    } else if (c < 32 || c > 126) {
      return false;
    } else if (c != ' ') {
      visible = true;
    }
  }
  return visible;
}

}  // namespace

const char* to_string(AddressError e) {
  switch (e) {
    case AddressError::empty: return "empty address";
    case AddressError::too_long: return "address too long";
    case AddressError::bad_local: return "invalid local part";
    case AddressError::bad_domain: return "invalid domain";
    case AddressError::missing_at: return "missing @domain";
    case AddressError::control_char: return "control character in address";
    case AddressError::non_ascii: return "non-ASCII address without SMTPUTF8";
  }
  return "invalid address";
}

bool valid_domain(std::string_view d, bool allow_utf8) {
  if (d.empty() || d.size() > kMaxDomain) return false;
  std::size_t start = 0;
  while (start <= d.size()) {
    auto dot = d.find('.', start);
    auto label = d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char ch : label) {
      auto c = static_cast<unsigned char>(ch);
      if (!(std::isalnum(c) || c == '-' || (allow_utf8 && c >= 0x80))) return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

AddressResult parse_mailbox(std::string_view text, bool allow_utf8) {
  AddressResult r;
  if (text.empty()) return r;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 32 || c == 127) {
      r.error = AddressError::control_char;
      return r;
    }
    if (c >= 0x80 && !allow_utf8) {
      r.error = AddressError::non_ascii;
      return r;
    }
  }
  if (text.size() > kMaxPath) {
    r.error = AddressError::too_long;
    return r;
  }
  auto at = text.rfind('@');
  if (at == std::string_view::npos) {
    r.error = AddressError::missing_at;
    return r;
  }
  auto local = text.substr(0, at);
  auto domain = text.substr(at + 1);
  if (local.empty() || local.size() > kMaxLocalPart) {
    r.error = local.empty() ? AddressError::bad_local : AddressError::too_long;
    return r;
  }
  bool local_ok = local.front() == '"' ? valid_quoted(local, allow_utf8) : valid_dot_atom(local, allow_utf8);
  if (!local_ok) {
    r.error = AddressError::bad_local;
    return r;
  }
  if (!valid_domain(domain, allow_utf8) || domain.find('.') == std::string_view::npos) {
    r.error = AddressError::bad_domain;
    return r;
  }
  Mailbox m;
  m.local = std::string(local);
  m.domain.reserve(domain.size());
  for (char ch : domain) m.domain.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  r.mailbox = std::move(m);
  return r;
}

std::optional<std::string> normalize_address(std::string_view text, bool allow_utf8) {
  auto r = parse_mailbox(text, allow_utf8);
  if (!r) return std::nullopt;
  std::string s = r.mailbox->str();
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(c < 0x80 ? std::tolower(c) : c); });
  return s;
}

}  // namespace smtp
