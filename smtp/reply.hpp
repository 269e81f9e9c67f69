// reply.hpp - SMTP/LMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463, 2034).
//
// Built by the server session, written to the wire by the Asio server. A reply is a code, an
// optional enhanced code ("5.1.1") and one or more text lines; wire() renders the multi-line
// form "250-first\r\n250 last\r\n". Text must not contain CR or LF (callers pass fixed texts or
// sanitised values; wire() replaces any control byte with '?').
#pragma once

#include <string>
#include <vector>

namespace smtp {

struct Reply {
  int code = 0;
  std::string enhanced;            // "2.0.0"; empty = none (greeting, EHLO lines)
  std::vector<std::string> lines;  // at least one

  Reply() = default;
  Reply(int c, std::string enh, std::string text) : code(c), enhanced(std::move(enh)), lines{std::move(text)} {}
  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  std::string wire() const;
  std::string first_line() const;  // for logs and tests: "550 5.1.1 text"
};

}  // namespace smtp
