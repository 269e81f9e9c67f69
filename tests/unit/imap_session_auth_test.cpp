// imap_session_auth_test.cpp - greeting, CAPABILITY, LOGIN, AUTHENTICATE PLAIN, STARTTLS,
// LOGOUT and the not-authenticated limits (RFC 3501 §6.1-§6.2).
#include <gtest/gtest.h>

#include "imap_fake.hpp"

using fake::Transcript;

TEST(ImapAuth, GreetingAndCapability) {
  Transcript t;
  EXPECT_EQ(t.greeting.rfind("* OK [CAPABILITY IMAP4rev1 ", 0), 0u);
  EXPECT_NE(t.greeting.find("AUTH=PLAIN"), std::string::npos);
  auto out = t.send("c1 CAPABILITY\r\n");
  EXPECT_NE(out.find("* CAPABILITY IMAP4rev1"), std::string::npos);
  EXPECT_NE(out.find("IDLE"), std::string::npos);
  EXPECT_NE(out.find("c1 OK CAPABILITY completed\r\n"), std::string::npos);
}

TEST(ImapAuth, SeedLogin) {
  Transcript t;
  auto out = t.send(". LOGIN ana pw\r\n");
  EXPECT_EQ(out.rfind(". OK [CAPABILITY", 0), 0u);
  EXPECT_EQ(t.send(". LOGOUT\r\n"), "* BYE listd logging out\r\n. OK LOGOUT completed\r\n");
  EXPECT_TRUE(t.session.closing());
}

TEST(ImapAuth, LoginWithLiterals) {
  Transcript t;
  EXPECT_EQ(t.send("a LOGIN {3}\r\n"), "+ Ready for literal data\r\n");
  EXPECT_EQ(t.send("ana {2}\r\n"), "+ Ready for literal data\r\n");
  EXPECT_EQ(t.send("pw\r\n").rfind("a OK", 0), 0u);
}

TEST(ImapAuth, WrongPasswordIsDelayedThenDisconnects) {
  imap::SessionOptions o = Transcript::plain();
  o.limits.failed_login_delay_ms = 500;
  Transcript t(o);
  EXPECT_EQ(t.send("a LOGIN ana wrong\r\n"), "a NO [AUTHENTICATIONFAILED] invalid user name or password\r\n");
  EXPECT_EQ(t.session.delay_ms(), 500u);
  t.send("b LOGIN ana wrong\r\n");
  EXPECT_EQ(t.session.delay_ms(), 1000u);
  EXPECT_FALSE(t.session.closing());
  auto out = t.send("c LOGIN ana wrong\r\n");
  EXPECT_NE(out.find("* BYE too many failed logins"), std::string::npos);
  EXPECT_TRUE(t.session.closing());
}

TEST(ImapAuth, AuthenticatePlain) {
  Transcript t;
  EXPECT_EQ(t.send("a AUTHENTICATE PLAIN\r\n"), "+ \r\n");
  auto out = t.send(imap::base64_encode(std::string("\0ana\0pw", 7)) + "\r\n");
  EXPECT_EQ(out.rfind("a OK", 0), 0u);
  Transcript u;
  EXPECT_EQ(
      u.send("b AUTHENTICATE PLAIN " + imap::base64_encode(std::string("\0ana\0pw", 7)) + "\r\n").rfind("b OK", 0), 0u);
  Transcript v;
  v.send("c AUTHENTICATE PLAIN\r\n");
  EXPECT_EQ(v.send("*\r\n"), "c BAD AUTHENTICATE cancelled\r\n");
  EXPECT_EQ(v.send("d AUTHENTICATE PLAIN !!!\r\n"), "d BAD bad base64\r\n");
  EXPECT_EQ(v.send("e AUTHENTICATE CRAM-MD5\r\n"), "e NO unsupported authentication mechanism (use PLAIN)\r\n");
}

TEST(ImapAuth, PlaintextRefusedWithoutTls) {
  imap::SessionOptions o;
  o.tls_available = true;
  Transcript t(o);
  EXPECT_NE(t.greeting.find("STARTTLS LOGINDISABLED"), std::string::npos);
  EXPECT_EQ(t.send("a LOGIN ana pw\r\n"), "a NO [PRIVACYREQUIRED] plaintext login needs TLS (use STARTTLS)\r\n");
  EXPECT_EQ(t.backend.logins, 0);
}

TEST(ImapAuth, StartTlsDropsPipelinedCommands) {
  imap::SessionOptions o;
  o.tls_available = true;
  Transcript t(o);
  // A man in the middle appends a command after STARTTLS: it must not run after the handshake.
  EXPECT_EQ(t.send("a STARTTLS\r\nb LOGIN ana pw\r\n"), "a OK Begin TLS negotiation now\r\n");
  EXPECT_TRUE(t.session.want_starttls());
  t.session.tls_started();
  EXPECT_EQ(t.send(""), "");
  EXPECT_EQ(t.backend.logins, 0);
  auto caps = t.send("c CAPABILITY\r\n");
  EXPECT_EQ(caps.find("STARTTLS"), std::string::npos);
  EXPECT_NE(caps.find("AUTH=PLAIN"), std::string::npos);
  EXPECT_EQ(t.send("d LOGIN ana pw\r\n").rfind("d OK", 0), 0u);
  EXPECT_EQ(t.send("e STARTTLS\r\n"), "e BAD already logged in\r\n");
}

TEST(ImapAuth, CommandsBeforeLogin) {
  Transcript t;
  EXPECT_EQ(t.send("a SELECT INBOX\r\n"), "a BAD SELECT needs a login first\r\n");
  EXPECT_EQ(t.send("b FETCH 1 FLAGS\r\n"), "b BAD FETCH needs a login first\r\n");
  EXPECT_EQ(t.send("c FOO\r\n"), "c BAD unknown command FOO\r\n");
  EXPECT_EQ(t.send("d STARTTLS\r\n"), "d BAD STARTTLS not available\r\n");
}

TEST(ImapAuth, TooManyCommandsBeforeLogin) {
  Transcript t;
  std::string out;
  for (int i = 0; i < 40 && !t.session.closing(); ++i) out = t.send("a NOOP\r\n");
  EXPECT_TRUE(t.session.closing());
  EXPECT_NE(out.find("* BYE too many commands without logging in"), std::string::npos);
}

TEST(ImapAuth, OverlongLineSaysByeAndCloses) {
  Transcript t;
  auto out = t.send(std::string(10000, 'x'));
  EXPECT_EQ(out, "* BYE line too long\r\n");
  EXPECT_TRUE(t.session.closing());
}

// A slow login (listd: an argon2id check) stops the session until verify(); commands the
// client pipelined behind it wait too, and run after it in order.
TEST(ImapAuth, SlowLoginWaitsForVerify) {
  fake::Transcript t;
  t.backend.slow = true;
  EXPECT_EQ(t.send("a LOGIN ana pw\r\nb SELECT INBOX\r\n"), "");
  EXPECT_TRUE(t.session.login_pending());
  EXPECT_EQ(t.backend.logins, 0);
  std::string out = t.session.verify();
  EXPECT_FALSE(t.session.login_pending());
  EXPECT_EQ(out.rfind("a OK [CAPABILITY", 0), 0u) << out;
  EXPECT_NE(out.find("b OK [READ-WRITE] SELECT completed"), std::string::npos) << out;
  EXPECT_EQ(t.send("c LOGIN ana pw\r\n"), "c BAD already logged in\r\n");
}

TEST(ImapAuth, SlowLoginFailureCountsAsAFailedLogin) {
  fake::Transcript t;
  t.backend.slow = true;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(t.send("a LOGIN ana nope\r\n"), "");
    EXPECT_EQ(t.session.verify(), "a NO [AUTHENTICATIONFAILED] invalid user name or password\r\n");
  }
  t.send("a AUTHENTICATE PLAIN " + imap::base64_encode(std::string("\0ana\0bad", 8)) + "\r\n");
  EXPECT_EQ(t.session.verify(),
            "a NO [AUTHENTICATIONFAILED] invalid user name or password\r\n* BYE too many failed logins\r\n");
  EXPECT_TRUE(t.session.closing());
}
