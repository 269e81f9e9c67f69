// pop3_session_test.cpp - pop3::Session transcripts: the seed's dialog, UIDL/TOP/RSET, AUTH
// PLAIN, STLS, per-person deletions at QUIT, and bad input (TOP 1 -1, RETR 0, long lines).
#include <gtest/gtest.h>

#include "imap_fake.hpp"

namespace {

struct Pop {
  explicit Pop(pop3::SessionOptions o = plain()) : s(backend, o) { greeting = s.greeting(); }
  static pop3::SessionOptions plain() {
    pop3::SessionOptions o;
    o.plaintext_allowed = true;
    o.limits.failed_login_delay_ms = 0;
    return o;
  }
  std::string send(const std::string& x) { return s.input(x); }
  fake::Backend backend;
  pop3::Session s;
  std::string greeting;
};

}  // namespace

TEST(Pop3, SeedDialog) {
  Pop p;
  EXPECT_EQ(p.greeting, "+OK listd POP3 archive server ready\r\n");
  EXPECT_EQ(p.send("USER ana\r\n"), "+OK send PASS\r\n");
  EXPECT_EQ(p.send("PASS pw\r\n"), "+OK maildrop has 3 messages\r\n");
  auto sizes = std::to_string(p.backend.msgs[0].raw.size());
  std::uint64_t total = 0;
  for (auto& m : p.backend.msgs) total += m.raw.size();
  EXPECT_EQ(p.send("STAT\r\n"), "+OK 3 " + std::to_string(total) + "\r\n");
  EXPECT_EQ(p.send("LIST\r\n").rfind("+OK\r\n1 " + sizes + "\r\n2 ", 0), 0u);
  auto retr = p.send("RETR 1\r\n");
  EXPECT_EQ(retr, "+OK " + sizes + " octets\r\n" + p.backend.msgs[0].raw + ".\r\n");
  EXPECT_EQ(p.send("DELE 1\r\n"), "+OK message 1 deleted (hidden for you only)\r\n");
  EXPECT_EQ(p.send("RETR 1\r\n"), "-ERR message 1 already deleted\r\n");
  EXPECT_TRUE(p.backend.hidden.empty());  // nothing happens before QUIT
  EXPECT_EQ(p.send("QUIT\r\n"), "+OK 1 messages hidden for you, bye\r\n");
  EXPECT_TRUE(p.s.closing());
  EXPECT_EQ(p.backend.hidden.count(100), 1u);
  Pop again;
  again.backend.hidden = p.backend.hidden;
  again.send("USER ana\r\n");
  EXPECT_EQ(again.send("PASS pw\r\n"), "+OK maildrop has 2 messages\r\n");
}

TEST(Pop3, DotStuffingUidlTopRset) {
  Pop p;
  p.send("USER ana\r\nPASS pw\r\n");
  auto r = p.send("RETR 2\r\n");
  EXPECT_NE(r.find("\r\n..dot line\r\n.\r\n"), std::string::npos);
  EXPECT_EQ(p.send("UIDL\r\n"), "+OK\r\n1 u100\r\n2 u101\r\n3 u102\r\n.\r\n");
  EXPECT_EQ(p.send("UIDL 2\r\n"), "+OK 2 u101\r\n");
  EXPECT_EQ(p.send("TOP 2 0\r\n"),
            "+OK top of message follows\r\nFrom: bob@mired.org\r\nTo: lista@x.org\r\nCc: "
            "ana@mired.org\r\nSubject: adios\r\nX-Tag: Verde\r\n\r\n.\r\n");
  EXPECT_EQ(p.send("TOP 2 1\r\n").find("segundo mensaje con PALABRA\r\n.\r\n") != std::string::npos, true);
  p.send("DELE 2\r\n");
  EXPECT_EQ(p.send("LIST 2\r\n"), "-ERR message 2 already deleted\r\n");
  EXPECT_EQ(p.send("RSET\r\n"), "+OK maildrop has 3 messages\r\n");
  EXPECT_EQ(p.send("LIST 2\r\n").rfind("+OK 2 ", 0), 0u);
  EXPECT_EQ(p.send("QUIT\r\n"), "+OK 0 messages hidden for you, bye\r\n");
  EXPECT_TRUE(p.backend.hidden.empty());
}

TEST(Pop3, BadInput) {
  Pop p;
  EXPECT_EQ(p.send("STAT\r\n"), "-ERR log in first\r\n");
  EXPECT_EQ(p.send("PASS x\r\n"), "-ERR send USER first\r\n");
  p.send("USER ana\r\nPASS pw\r\n");
  EXPECT_EQ(p.send("TOP 1 -1\r\n"), "-ERR bad line count\r\n");
  EXPECT_EQ(p.send("RETR 0\r\n"), "-ERR no such message\r\n");
  EXPECT_EQ(p.send("RETR 4\r\n"), "-ERR no such message\r\n");
  EXPECT_EQ(p.send("RETR x\r\n"), "-ERR bad message number\r\n");
  EXPECT_EQ(p.send("RETR 99999999999999999999999\r\n"), "-ERR bad message number\r\n");
  EXPECT_EQ(p.send("RETR\r\n"), "-ERR RETR takes a message number\r\n");
  EXPECT_EQ(p.send("FOO\r\n"), "-ERR unknown command\r\n");
  EXPECT_EQ(p.send(std::string(600, 'x') + "\r\n"), "-ERR line too long\r\n");
  EXPECT_EQ(p.send(std::string(600, 'x')), "-ERR line too long\r\n");
  EXPECT_TRUE(p.s.closing());
}

TEST(Pop3, CapaAuthPlainAndFailedLogins) {
  Pop p;
  auto capa = p.send("CAPA\r\n");
  EXPECT_NE(capa.find("UIDL\r\n"), std::string::npos);
  EXPECT_NE(capa.find("SASL PLAIN\r\n"), std::string::npos);
  EXPECT_EQ(p.send("AUTH PLAIN\r\n"), "+ \r\n");
  EXPECT_EQ(p.send(imap::base64_encode(std::string("\0ana\0pw", 7)) + "\r\n"), "+OK maildrop has 3 messages\r\n");
  Pop q;
  EXPECT_EQ(q.send("AUTH PLAIN " + imap::base64_encode(std::string("\0ana\0no", 7)) + "\r\n"),
            "-ERR [AUTH] invalid user name or password\r\n");
  q.send("USER ana\r\nPASS no\r\n");
  EXPECT_FALSE(q.s.closing());
  auto last = q.send("USER ana\r\nPASS no\r\n");
  EXPECT_NE(last.find("too many failed logins"), std::string::npos);
  EXPECT_TRUE(q.s.closing());
}

TEST(Pop3, StlsAndPlaintextPolicy) {
  pop3::SessionOptions o;
  o.tls_available = true;
  Pop p(o);
  auto capa = p.send("CAPA\r\n");
  EXPECT_NE(capa.find("STLS\r\n"), std::string::npos);
  EXPECT_EQ(capa.find("USER\r\n"), std::string::npos);
  EXPECT_EQ(p.send("USER ana\r\n"), "-ERR [SYS/PERM] plaintext login needs TLS (use STLS)\r\n");
  EXPECT_EQ(p.send("STLS\r\nUSER ana\r\n"), "+OK begin TLS negotiation\r\n");
  EXPECT_TRUE(p.s.want_stls());
  p.s.tls_started();
  EXPECT_EQ(p.send(""), "");  // the injected USER was discarded
  EXPECT_EQ(p.send("USER ana\r\n"), "+OK send PASS\r\n");
  EXPECT_EQ(p.send("PASS pw\r\n"), "+OK maildrop has 3 messages\r\n");
}

TEST(Pop3, ParseCommand) {
  std::string n;
  std::vector<std::string> a;
  ASSERT_TRUE(pop3::parse_command("retr  1", n, a));
  EXPECT_EQ(n, "RETR");
  EXPECT_EQ(a, std::vector<std::string>{"1"});
  ASSERT_TRUE(pop3::parse_command("PASS con espacios", n, a));
  EXPECT_EQ(a, std::vector<std::string>{"con espacios"});
  EXPECT_FALSE(pop3::parse_command("", n, a));
  EXPECT_EQ(pop3::dot_stuff(".a\r\nb\r\n.\r\n"), "..a\r\nb\r\n..\r\n");
  EXPECT_EQ(pop3::dot_stuff("no newline"), "no newline\r\n");
}

TEST(Pop3, SlowLoginWaitsForVerify) {
  Pop p;
  p.backend.slow = true;
  EXPECT_EQ(p.send("USER ana\r\nPASS pw\r\nSTAT\r\n"), "+OK send PASS\r\n");
  EXPECT_TRUE(p.s.login_pending());
  auto out = p.s.verify();
  EXPECT_EQ(out.rfind("+OK maildrop has 3 messages\r\n+OK 3 ", 0), 0u) << out;
  EXPECT_FALSE(p.s.login_pending());
  p.send("USER ana\r\n");
  Pop q;
  q.backend.slow = true;
  q.send("USER ana\r\nPASS wrong\r\n");
  EXPECT_EQ(q.s.verify(), "-ERR [AUTH] invalid user name or password\r\n");
}
