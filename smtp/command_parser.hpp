// command_parser.hpp - SMTP/LMTP command lines (RFC 5321 §4.1, RFC 1869 parameters).
//
// Pure functions, no I/O, used by ServerSession. next_command_line() frames the input: a
// command ends only at CRLF; a bare LF ends the line as an error (it is never taken as a line
// end that could split or join commands), a bare CR stays inside the line and makes it
// malformed (SECURITY S-02). parse_command() splits verb and argument; parse_mail_rcpt() reads
// "FROM:<path> params" / "TO:<path> params" with source routes stripped (§4.1.1.3: accepted,
// ignored) and ESMTP parameters as keyword[=value] pairs. Errors come back as the reply to send.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/reply.hpp"

namespace smtp {

enum class LineStatus { line, need_more, too_long, bare_lf };

struct LineScan {
  LineStatus status = LineStatus::need_more;
  std::size_t consumed = 0;  // bytes used (line + CRLF, or the bad line)
  std::string_view line;     // without CRLF (status line only)
};

// next_command_line - frame one command line of at most max_len octets including CRLF.
// need_more: no LF yet and the buffer is still within the limit. too_long: the buffer holds
// max_len octets without a line end; the caller discards up to the next LF.
LineScan next_command_line(std::string_view buf, std::size_t max_len);

struct Command {
  std::string verb;  // upper case
  std::string arg;   // after the first space, as sent
};

// parse_command - split a framed line. Lines with NUL (501 5.5.2), bare CR (501 5.5.4) or
// other controls are refused here.
std::optional<Command> parse_command(std::string_view line, Reply* error);

struct PathArg {
  std::string address;                                      // without brackets and source route; empty = null path "<>"
  std::vector<std::pair<std::string, std::string>> params;  // keyword upper-cased, value as sent
};

// parse_mail_rcpt - `arg` of MAIL ("FROM:") or RCPT ("TO:"). Accepts one optional space after
// the colon (common in practice). On error returns nullopt and sets *error (501 5.5.4 syntax).
std::optional<PathArg> parse_mail_rcpt(std::string_view arg, std::string_view prefix, Reply* error);

// parse_size - a decimal ESMTP number (SIZE=, BDAT): digits only, at most 20, no overflow.
std::optional<std::uint64_t> parse_size(std::string_view v);

}  // namespace smtp
