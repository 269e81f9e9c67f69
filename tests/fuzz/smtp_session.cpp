// smtp_session.cpp - fuzz target: the SMTP/LMTP server session (smtp/server_session) fed a
// byte stream in input-chosen pieces, like the Asio driver does (commit at once, discard the
// rest of a segment after STARTTLS). The first byte picks LMTP, the S-13 pipelining check and
// small limits. Invariants: the output is only well-formed reply lines ("NNN-text" /
// "NNN text", CRLF, no other control bytes), and no message with a bare CR, bare LF or NUL
// ever reaches commit() (SECURITY S-01/S-02: smuggling).
#include <memory>

#include "smtp/server_session.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

struct Txn : smtp::Transaction {
  explicit Txn(const smtp::Envelope& e) : env(e) {}
  void append(std::string_view b) override { data.append(b); }
  std::vector<smtp::Reply> commit() override {
    for (std::size_t i = 0; i < data.size(); ++i) {
      char c = data[i];
      FUZZ_CHECK(c != '\0', "NUL committed");
      if (c == '\r') FUZZ_CHECK(i + 1 < data.size() && data[i + 1] == '\n', "bare CR committed");
      if (c == '\n') FUZZ_CHECK(i > 0 && data[i - 1] == '\r', "bare LF committed");
    }
    FUZZ_CHECK(!env.recipients.empty(), "commit without recipients");
    return std::vector<smtp::Reply>(env.recipients.size(), smtp::Reply(250, "2.0.0", "queued"));
  }
  smtp::Envelope env;
  std::string data;
};

struct Backend : smtp::Backend {
  smtp::Reply check_rcpt(const smtp::Envelope&, const smtp::Mailbox& m, std::string* key) override {
    if (m.domain != "lists.test") return smtp::Reply(550, "5.7.1", "relaying denied");
    *key = m.str();
    return smtp::Reply(250, "2.1.5", "ok");
  }
  std::unique_ptr<smtp::Transaction> begin(const smtp::Envelope& e) override {
    if (e.sender == "fail@x.test") throw std::runtime_error("backend down");
    return std::make_unique<Txn>(e);
  }
};

void check_replies(const std::string& out) {
  std::size_t p = 0;
  while (p < out.size()) {
    auto e = out.find("\r\n", p);
    FUZZ_CHECK(e != std::string::npos, "reply without CRLF: " + out.substr(p, 80));
    std::string_view l(out.data() + p, e - p);
    FUZZ_CHECK(l.size() >= 4 && l[0] >= '2' && l[0] <= '5' && std::isdigit(static_cast<unsigned char>(l[1])) &&
                   std::isdigit(static_cast<unsigned char>(l[2])) && (l[3] == ' ' || l[3] == '-'),
               "malformed reply line: " + std::string(l.substr(0, 80)));
    for (char c : l) FUZZ_CHECK(static_cast<unsigned char>(c) >= 32 && c != 127, "control byte in a reply");
    p = e + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  std::string_view in = fuzz::as_text(data + 1, size - 1);
  smtp::SessionOptions o;
  o.lmtp = mode & 1;
  o.hostname = "lists.test";
  o.tls_available = mode & 2;
  o.client_ip = "192.0.2.7";
  o.session_id = "F1";
  o.now = [] { return std::time_t(1795860000); };
  o.limits.reject_unauth_pipelining = mode & 4;
  if (mode & 8) {
    o.limits.max_message_size = 100;
    o.limits.max_recipients = 3;
    o.limits.max_command_line = 64;
    o.limits.max_text_line = 40;
    o.limits.max_received = 2;
  }
  Backend be;
  smtp::ServerSession s(o, be);
  s.greet();
  std::string out = s.take_output();
  std::string pending;  // the driver's input buffer: bytes received, not yet used
  for (auto piece : fuzz::pieces(in, (mode & 16) ? 3 : 64)) {
    pending.append(piece);
    while (!pending.empty() && !s.closing()) {
      std::size_t n = s.feed(pending);
      FUZZ_CHECK(n <= pending.size(), "feed used more than given");
      pending.erase(0, n);
      if (s.commit_due()) {
        s.committed(s.commit_target()->commit());
        continue;
      }
      if (s.starttls_requested()) {
        pending.clear();
        s.tls_started();
        break;
      }
      if (n == 0) break;
    }
    out += s.take_output();
    if (s.closing()) break;
  }
  if (!s.closing()) {
    s.eof();
    out += s.take_output();
  }
  check_replies(out);
  return 0;
}
