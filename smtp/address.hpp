// address.hpp - RFC 5321 mailbox syntax: parse, validate, normalise.
//
// Pure functions, no I/O. Used by the SMTP session (MAIL/RCPT paths), the router, the CLIs
// (member lists) and the web admin. Limits: local part 64 octets, domain 255, whole path 256
// (RFC 5321 §4.5.3.1.1-3). Accepts dot-atom and quoted-string local parts (§4.1.2); domains
// are LDH labels or an address literal is refused (lists never deliver to literals).
// Rejects NUL, CR, LF and other controls anywhere. Non-ASCII (UTF-8) local parts and domains
// are accepted only when `allow_utf8` is set (SMTPUTF8, RFC 6531).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smtp {

constexpr std::size_t kMaxLocalPart = 64;
constexpr std::size_t kMaxDomain = 255;
constexpr std::size_t kMaxPath = 256;

struct Mailbox {
  std::string local;   // as written (quoted local parts keep their quotes)
  std::string domain;  // lower case
  std::string str() const { return local + "@" + domain; }
};

enum class AddressError { empty, too_long, bad_local, bad_domain, missing_at, control_char, non_ascii };

const char* to_string(AddressError e);

struct AddressResult {
  std::optional<Mailbox> mailbox;
  AddressError error = AddressError::empty;
  explicit operator bool() const { return mailbox.has_value(); }
};

// parse_mailbox - "local@domain" (no angle brackets). On success .mailbox is set.
AddressResult parse_mailbox(std::string_view text, bool allow_utf8 = false);

// normalize_address - parse and return the canonical form used as a key everywhere:
// local part and domain lower-cased (listd treats addresses case-insensitively, as
// Mailman does). std::nullopt if invalid.
std::optional<std::string> normalize_address(std::string_view text, bool allow_utf8 = false);

// valid_domain - an LDH host name (labels 1-63, total <= 255, no leading/trailing hyphen).
bool valid_domain(std::string_view domain, bool allow_utf8 = false);

}  // namespace smtp
