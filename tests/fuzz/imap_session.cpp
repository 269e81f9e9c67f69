// imap_session.cpp - fuzz target: the IMAP server session (imap/session) over the in-memory
// archive of the unit tests (tests/unit/imap_fake.hpp: user ana/pw, INBOX and lista@x.org).
// The first byte chooses whether the session starts logged in and selected, so the fuzzer
// reaches FETCH/SEARCH/STORE/IDLE quickly. Invariants: every output ends with CRLF; the session
// never asks for TLS when none is available; long FETCH output always drains.
#include "tests/fuzz/fuzz.hpp"
#include "tests/unit/imap_fake.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  std::string_view in = fuzz::as_text(data + 1, size - 1);
  imap::SessionOptions o = fake::Transcript::plain();
  o.limits.fetch_chunk = 512;
  if (mode & 4) {
    o.limits.parser.max_line = 128;
    o.limits.parser.max_literal = 64;
  }
  fake::Transcript t(o);
  if (mode & 1) {
    t.login();
    if (mode & 2) t.send("S SELECT INBOX\r\n");
  }
  for (auto piece : fuzz::pieces(in, (mode & 8) ? 4 : 200)) {
    if (t.session.closing()) break;
    std::string out = t.session.input(piece);
    int rounds = 0;
    while (t.session.more()) {
      out += t.session.resume();
      FUZZ_CHECK(++rounds < 100000, "FETCH output never ends");
    }
    if (t.session.idling()) out += t.session.poll();
    if (!out.empty()) FUZZ_CHECK(out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0, "output without CRLF");
    FUZZ_CHECK(!t.session.want_starttls(), "STARTTLS started without TLS");
    (void)t.session.delay_ms();
  }
  return 0;
}
