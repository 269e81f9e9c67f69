// pop3_session.cpp - fuzz target: POP3 commands and the session (pop3/session) over the
// in-memory maildrop of the unit tests (tests/unit/imap_fake.hpp: ana/pw, three messages).
// The first byte chooses whether to start logged in. Invariants: every output ends with CRLF
// and starts with +OK, -ERR or '+' (AUTH continuation); parse_command() upper-cases the name;
// dot_stuff() output ends with CRLF and un-stuffs back to the input.
#include "tests/fuzz/fuzz.hpp"
#include "tests/unit/imap_fake.hpp"

namespace {

// check_dot_stuff - no stuffed line can be read as the terminator (a "." line, whatever the
// client takes as a line end), and CRLF text un-stuffs back to itself.
void check_dot_stuff(std::string_view raw) {
  std::string s = pop3::dot_stuff(raw);
  std::size_t p = 0;
  while (p < s.size()) {
    auto e = s.find('\n', p);
    std::string_view l(s.data() + p, (e == std::string::npos ? s.size() : e) - p);
    FUZZ_CHECK(l != "." && l != ".\r", "a stuffed line reads as the terminator");
    if (e == std::string::npos) break;
    p = e + 1;
  }
  std::string text;  // raw with CRLF line ends only, as Maildrop::message() gives
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && (i + 1 == raw.size() || raw[i + 1] != '\n')) continue;
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) text.push_back('\r');
    text.push_back(raw[i]);
  }
  s = pop3::dot_stuff(text);
  if (text.empty()) return;
  FUZZ_CHECK(s.size() >= 2 && s.compare(s.size() - 2, 2, "\r\n") == 0, "dot_stuff without final CRLF");
  std::string back;
  bool line_start = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (line_start && s[i] == '.') {
      FUZZ_CHECK(i + 1 < s.size() && s[i + 1] == '.', "unstuffed dot at a line start");
      line_start = false;
      continue;
    }
    back.push_back(s[i]);
    line_start = s[i] == '\n';
  }
  if (text.size() < 2 || text.compare(text.size() - 2, 2, "\r\n") != 0) text += "\r\n";
  FUZZ_CHECK(back == text, "dot_stuff does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  std::string_view in = fuzz::as_text(data + 1, size - 1);
  if (mode & 16) {
    check_dot_stuff(in);
    return 0;
  }
  fake::Backend backend;
  pop3::SessionOptions o;
  o.plaintext_allowed = !(mode & 4);
  o.tls_available = mode & 8;
  o.limits.failed_login_delay_ms = 0;
  pop3::Session s(backend, o);
  (void)s.greeting();
  if (mode & 1) s.input("USER ana\r\nPASS pw\r\n");
  for (auto piece : fuzz::pieces(in, (mode & 2) ? 4 : 100)) {
    if (s.closing()) break;
    std::string out = s.input(piece);
    if (!out.empty()) {
      FUZZ_CHECK(out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0, "output without CRLF");
      FUZZ_CHECK(out.rfind("+OK", 0) == 0 || out.rfind("-ERR", 0) == 0 || out.rfind("+ ", 0) == 0,
                 "output is not a POP3 response: " + out.substr(0, 60));
    }
    if (s.want_stls()) s.tls_started();
    (void)s.delay_ms();
  }
  auto [first, rest] = fuzz::split_first_line(in);
  std::string name;
  std::vector<std::string> args;
  if (pop3::parse_command(first, name, args))
    for (char c : name) FUZZ_CHECK(!std::islower(static_cast<unsigned char>(c)), "command name not upper case");
  return 0;
}
