// smtp_command.cpp - fuzz target: SMTP command lines (smtp/command_parser). The input is a
// byte stream framed with next_command_line() at 512 octets; each line goes through
// parse_command() and, for MAIL/RCPT, parse_mail_rcpt() and parse_size() on every parameter.
// Invariants: a framed line never holds a LF, is followed by CRLF, fits the limit; verbs are
// upper case; parse_size() agrees with a plain decimal reading.
#include <cctype>

#include "smtp/address.hpp"
#include "smtp/command_parser.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = fuzz::as_text(data, size);
  constexpr std::size_t kMax = 512;
  while (!in.empty()) {
    auto scan = smtp::next_command_line(in, kMax);
    if (scan.status == smtp::LineStatus::need_more) {
      FUZZ_CHECK(in.size() < kMax && in.find('\n') == std::string_view::npos, "need_more with a whole line");
      break;
    }
    if (scan.consumed == 0) {
      FUZZ_CHECK(scan.status == smtp::LineStatus::too_long && in.size() >= kMax, "nothing consumed");
      break;
    }
    FUZZ_CHECK(scan.consumed <= in.size() && in[scan.consumed - 1] == '\n', "consumed does not end at a LF");
    if (scan.status == smtp::LineStatus::line) {
      FUZZ_CHECK(scan.line.find('\n') == std::string_view::npos, "LF inside a line");
      FUZZ_CHECK(scan.consumed == scan.line.size() + 2 && in.substr(scan.line.size(), 2) == "\r\n", "no CRLF");
      FUZZ_CHECK(scan.consumed <= kMax, "line over the limit");
      smtp::Reply err;
      auto cmd = smtp::parse_command(scan.line, &err);
      if (cmd) {
        for (char c : cmd->verb) FUZZ_CHECK(!std::islower(static_cast<unsigned char>(c)), "verb not upper case");
        FUZZ_CHECK(cmd->arg.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos, "control in arg");
        for (const char* prefix : {"FROM:", "TO:"}) {
          auto path = smtp::parse_mail_rcpt(cmd->arg, prefix, &err);
          if (!path) {
            FUZZ_CHECK(err.code >= 500 && err.code < 600, "refusal is not a 5xx reply");
            continue;
          }
          (void)smtp::parse_mailbox(path->address, true);
          for (auto& [k, v] : path->params) {
            for (char c : k) FUZZ_CHECK(!std::islower(static_cast<unsigned char>(c)), "keyword not upper case");
            auto n = smtp::parse_size(v);
            if (n) {
              auto digits = v.substr(std::min(v.find_first_not_of('0'), v.size()));
              FUZZ_CHECK(std::to_string(*n) == (digits.empty() ? "0" : digits), "parse_size disagrees");
            }
          }
        }
      }
    }
    in.remove_prefix(scan.consumed);
  }
  return 0;
}
