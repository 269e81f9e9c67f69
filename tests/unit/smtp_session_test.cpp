// smtp_session_test.cpp - transcript tests of ServerSession without sockets: every command,
// extension, limit and error path of the SMTP/LMTP receiver (issue 3, SECURITY S-01..S-09).
// A fake backend accepts list@lists.test-style recipients and records what was committed or
// aborted, so each test also checks that nothing partial is ever committed.
#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "smtp/server_session.hpp"

using namespace smtp;

namespace {

struct Store {
  std::vector<std::string> committed;  // content of committed messages (one per recipient)
  std::vector<std::vector<std::string>> committed_rcpts;
  int aborted = 0;
  bool fail_begin = false;
  std::string fail_rcpt;  // commit() gives 451 for this recipient
};

class FakeTxn : public Transaction {
 public:
  FakeTxn(Store& s, const Envelope& e) : s_(s), env_(e) {}
  ~FakeTxn() override {
    if (!done_) ++s_.aborted;
  }
  void append(std::string_view b) override { data_ += b; }
  std::vector<Reply> commit() override {
    done_ = true;
    std::vector<Reply> r;
    std::vector<std::string> ok;
    for (auto& rc : env_.recipients) {
      if (rc == s_.fail_rcpt) {
        r.emplace_back(451, "4.3.0", "disk on fire");
      } else {
        r.emplace_back(250, "2.0.0", "Queued for " + rc);
        ok.push_back(rc);
      }
    }
    s_.committed.push_back(data_);
    s_.committed_rcpts.push_back(ok);
    return r;
  }

 private:
  Store& s_;
  Envelope env_;
  std::string data_;
  bool done_ = false;
};

class FakeBackend : public Backend {
 public:
  explicit FakeBackend(Store& s) : s_(s) {}
  Reply check_rcpt(const Envelope&, const Mailbox& m, std::string* key) override {
    if (m.domain != "lists.test") return Reply(550, "5.7.1", "relaying denied");
    if (m.local.rfind("list", 0) != 0) return Reply(550, "5.1.1", "no such list");
    *key = m.str();
    return Reply(250, "2.1.5", "Recipient OK");
  }
  std::unique_ptr<Transaction> begin(const Envelope& e) override {
    if (s_.fail_begin) throw std::runtime_error("no spool");
    return std::make_unique<FakeTxn>(s_, e);
  }

 private:
  Store& s_;
};

class Session {
 public:
  // Most transcripts pipeline whole groups in one feed; `strict` turns on the S-13 check
  // (reject_unauth_pipelining) that a real client waiting for each reply never trips.
  explicit Session(SessionLimits lim = {}, bool lmtp = false, bool tls = true, bool strict = false) : be(store) {
    lim.reject_unauth_pipelining = strict;
    SessionOptions o;
    o.lmtp = lmtp;
    o.hostname = "lists.test";
    o.tls_available = tls;
    o.client_ip = "192.0.2.7";
    o.session_id = "S1";
    o.now = [] { return std::time_t(1795860000); };
    o.limits = lim;
    s = std::make_unique<ServerSession>(o, be);
    s->greet();
    greeting = s->take_output();
  }
  // feed - like the Asio driver: commit synchronously, discard input after STARTTLS.
  std::string feed(const std::string& in) {
    pending += in;
    while (!pending.empty() && !s->closing()) {
      std::size_t n = s->feed(pending);
      pending.erase(0, n);
      if (s->commit_due()) {
        s->committed(s->commit_target()->commit());
        continue;
      }
      if (s->starttls_requested()) {
        discarded += pending;
        pending.clear();
        s->tls_started();
        break;
      }
      if (n == 0) break;
    }
    return s->take_output();
  }
  std::vector<std::string> lines(const std::string& in) {
    std::vector<std::string> out;
    std::string o = feed(in);
    std::size_t p = 0;
    while (p < o.size()) {
      auto e = o.find("\r\n", p);
      out.push_back(o.substr(p, e - p));
      p = e + 2;
    }
    return out;
  }
  Store store;
  FakeBackend be;
  std::unique_ptr<ServerSession> s;
  std::string greeting, pending, discarded;
};

const std::string kMsg = "Subject: hi\r\n\r\nbody\r\n.\r\n";
const std::string kTxn = "MAIL FROM:<ana@mired.org>\r\nRCPT TO:<list@lists.test>\r\nDATA\r\n";

}  // namespace

TEST(SmtpSession, GreetingAndEhloExtensions) {
  Session t;
  EXPECT_EQ(t.greeting, "220 lists.test ESMTP listd ready\r\n");
  EXPECT_EQ(t.feed("EHLO client.test\r\n"),
            "250-lists.test Hello client.test [192.0.2.7]\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n"
            "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 STARTTLS\r\n");
  Session no_tls({}, false, false);
  EXPECT_EQ(no_tls.feed("EHLO c\r\n").find("STARTTLS"), std::string::npos);
  EXPECT_EQ(no_tls.feed("STARTTLS\r\n"), "502 5.5.1 STARTTLS not available\r\n");
  EXPECT_EQ(no_tls.feed("EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
}

TEST(SmtpSession, HeloAndParamsNeedEhlo) {
  Session t;
  EXPECT_EQ(t.feed("HELO c.test\r\n"), "250 lists.test\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test> SIZE=10\r\n"), "555 5.5.4 Parameters need EHLO\r\n");
  EXPECT_EQ(t.feed("BDAT 3 LAST\r\n"), "502 5.5.1 CHUNKING needs EHLO\r\n");
  EXPECT_EQ(t.feed("LHLO c.test\r\n"), "500 5.5.1 Command unrecognized\r\n");
}

TEST(SmtpSession, FullTransactionWithReceivedAndUnstuffing) {
  Session t;
  t.feed("EHLO c.test\r\n");
  EXPECT_EQ(t.lines("MAIL FROM:<ana@mired.org>\r\n"), std::vector<std::string>{"250 2.1.0 Sender OK"});
  EXPECT_EQ(t.lines("RCPT TO:<list@lists.test>\r\n"), std::vector<std::string>{"250 2.1.5 Recipient OK"});
  EXPECT_EQ(t.lines("DATA\r\n"), std::vector<std::string>{"354 End data with <CR><LF>.<CR><LF>"});
  EXPECT_EQ(t.lines("Subject: hi\r\n\r\n..leading dot\r\n.\r\n"),
            std::vector<std::string>{"250 2.0.0 Queued for list@lists.test"});
  ASSERT_EQ(t.store.committed.size(), 1u);
  EXPECT_EQ(t.store.committed[0],
            "Received: from c.test ([192.0.2.7])\r\n\tby lists.test (listd) with ESMTP id S1.1\r\n\tfor "
            "<list@lists.test>; Sat, 28 Nov 2026 10:00:00 +0000\r\nSubject: hi\r\n\r\n.leading dot\r\n");
  EXPECT_EQ(t.lines("QUIT\r\n"), std::vector<std::string>{"221 2.0.0 lists.test closing connection"});
  EXPECT_TRUE(t.s->closing());
}

TEST(SmtpSession, PipelinedRepliesInOrder) {
  Session t;
  auto r = t.lines(
      "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\nRCPT TO:<nobody@lists.test>\r\n"
      "RCPT TO:<x@evil.test>\r\nDATA\r\n" +
      kMsg + "NOOP\r\nQUIT\r\n");
  ASSERT_EQ(r.size(), 16u);
  EXPECT_EQ(r[8], "250 2.1.0 Sender OK");
  EXPECT_EQ(r[9], "250 2.1.5 Recipient OK");
  EXPECT_EQ(r[10], "550 5.1.1 no such list");
  EXPECT_EQ(r[11], "550 5.7.1 relaying denied");
  EXPECT_EQ(r[12].substr(0, 3), "354");
  EXPECT_EQ(r[13], "250 2.0.0 Queued for list@lists.test");
  EXPECT_EQ(r[14], "250 2.0.0 OK");
  EXPECT_EQ(r[15], "221 2.0.0 lists.test closing connection");
  EXPECT_EQ(t.store.committed.size(), 1u);
  EXPECT_TRUE(t.s->closing());
}

TEST(SmtpSession, SimpleCommands) {
  Session t;
  t.feed("EHLO c\r\n");
  EXPECT_EQ(t.feed("NOOP\r\n"), "250 2.0.0 OK\r\n");
  EXPECT_EQ(t.feed("NOOP anything\r\n"), "250 2.0.0 OK\r\n");
  EXPECT_EQ(t.feed("VRFY list\r\n"), "252 2.5.0 Cannot VRFY; send mail and delivery will be attempted\r\n");
  EXPECT_EQ(t.feed("EXPN list\r\n"), "502 5.5.1 EXPN not available\r\n");
  EXPECT_EQ(t.feed("HELP\r\n").substr(0, 8), "214-2.0.");
  EXPECT_EQ(t.feed("FOO\r\n"), "500 5.5.2 Command unrecognized\r\n");
  EXPECT_EQ(t.feed("\r\n"), "500 5.5.2 Command unrecognized\r\n");
  EXPECT_EQ(t.feed("RSET x\r\n"), "501 5.5.4 Syntax: RSET\r\n");
  t.feed("MAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\n");
  EXPECT_EQ(t.feed("RSET\r\n"), "250 2.0.0 OK\r\n");
  EXPECT_EQ(t.feed("DATA\r\n"), "503 5.5.1 Need MAIL before DATA\r\n");
}

TEST(SmtpSession, SequenceErrors) {
  Session t;
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test>\r\n"), "503 5.5.1 Send EHLO/HELO first\r\n");
  t.feed("EHLO c\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<list@lists.test>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
  EXPECT_EQ(t.feed("DATA\r\n"), "503 5.5.1 Need MAIL before DATA\r\n");
  t.feed("MAIL FROM:<>\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test>\r\n"), "503 5.5.1 Sender already specified\r\n");
  EXPECT_EQ(t.feed("DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
  EXPECT_EQ(t.store.aborted, 0);
}

TEST(SmtpSession, RecipientChecksAndRelayAttempts) {
  Session t;
  t.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<nosuch@lists.test>\r\n"), "550 5.1.1 no such list\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<victim@evil.test>\r\n"), "550 5.7.1 relaying denied\r\n");
  // Source route: accepted syntax, ignored; the real mailbox is foreign.
  EXPECT_EQ(t.feed("RCPT TO:<@lists.test:victim@evil.test>\r\n"), "550 5.7.1 relaying denied\r\n");
  // Percent hack: a local part at our host that is no list.
  EXPECT_EQ(t.feed("RCPT TO:<victim%evil.test@lists.test>\r\n"), "550 5.1.1 no such list\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<victim@evil.test@lists.test>\r\n"), "553 5.1.3 Bad recipient address syntax\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<>\r\n"), "501 5.1.3 Null recipient\r\n");
  EXPECT_EQ(t.feed("RCPT TO:list@lists.test\r\n"), "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<list@lists.test> NOTIFY=NEVER\r\n"), "555 5.5.4 Unsupported parameter NOTIFY\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<" + std::string(65, 'l') + "@lists.test>\r\n"), "550 5.1.1 No such list\r\n");
  EXPECT_EQ(t.feed("RCPT TO: <list@lists.test>\r\n"), "250 2.1.5 Recipient OK\r\n");
}

TEST(SmtpSession, SizeDeclaredAtAndPastLimitAndMalformed) {
  SessionLimits lim;
  lim.max_message_size = 2000;
  Session t(lim);
  t.feed("EHLO c\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test> SIZE=2000\r\n"), "250 2.1.0 Sender OK\r\n");
  t.feed("RSET\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test> SIZE=2001\r\n"),
            "552 5.3.4 Message size exceeds fixed maximum message size (2000)\r\n");
  for (const char* bad : {"abc", "-1", "", "99999999999999999999"})
    EXPECT_EQ(t.feed("MAIL FROM:<a@b.test> SIZE=" + std::string(bad) + "\r\n"), "501 5.5.4 Bad SIZE parameter\r\n")
        << bad;
}

TEST(SmtpSession, BodyAtAndPastSizeLimit) {
  SessionLimits lim;
  lim.max_message_size = 1024;
  Session t(lim);
  t.feed("EHLO c\r\n" + kTxn);
  std::string body = "Subject: x\r\n\r\n";
  std::string at = body;
  while (at.size() + 50 <= 1024) at += std::string(48, 'a') + "\r\n";
  at += std::string(1024 - at.size() - 2, 'c') + "\r\n";
  ASSERT_EQ(at.size(), 1024u);
  EXPECT_EQ(t.feed(at + ".\r\n"), "250 2.0.0 Queued for list@lists.test\r\n");
  t.feed(kTxn);
  std::string big = body;
  for (int i = 0; i < 200; ++i) big += std::string(70, 'b') + "\r\n";
  EXPECT_EQ(t.feed(big + ".\r\nNOOP\r\n"),
            "552 5.3.4 Message size exceeds fixed maximum message size (1024)\r\n250 2.0.0 OK\r\n");
  EXPECT_EQ(t.store.committed.size(), 1u);
  EXPECT_EQ(t.store.aborted, 1);
}

TEST(SmtpSession, EightBitAndSmtputf8) {
  Session t;
  t.feed("EHLO c\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n"), "555 5.5.4 Unsupported BODY type\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<jos\xc3\xa9@b.test>\r\n"), "553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test> XFOO=1\r\n"), "555 5.5.4 Unsupported parameter XFOO\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<jos\xc3\xa9@b.test> BODY=8BITMIME SMTPUTF8\r\n"), "250 2.1.0 Sender OK\r\n");
  EXPECT_TRUE(t.s->envelope().body_8bit && t.s->envelope().smtputf8);
  t.feed("RCPT TO:<list@lists.test>\r\nDATA\r\n");
  EXPECT_EQ(t.feed("Subject: caf\xc3\xa9\r\n\r\n\xe9t\xe9 \xff\r\n.\r\n").substr(0, 3), "250");
  EXPECT_NE(t.store.committed[0].find("with UTF8ESMTP"), std::string::npos);
  EXPECT_NE(t.store.committed[0].find("Subject: caf\xc3\xa9\r\n\r\n\xe9t\xe9 \xff\r\n"), std::string::npos);
}

TEST(SmtpSession, RecipientLimitAtAndPast) {
  SessionLimits lim;
  lim.max_recipients = 3;
  Session t(lim);
  t.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(t.feed("RCPT TO:<list" + std::to_string(i) + "@lists.test>\r\n"), "250 2.1.5 Recipient OK\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<list9@lists.test>\r\n"), "452 4.5.3 Too many recipients\r\n");
  EXPECT_EQ(t.feed("DATA\r\n" + kMsg).substr(0, 3), "354");
  ASSERT_EQ(t.store.committed_rcpts.size(), 1u);
  EXPECT_EQ(t.store.committed_rcpts[0].size(), 3u);
}

TEST(SmtpSession, TenThousandRecipientsEndIn421AndNothingSpooled) {
  Session t;
  std::string in = "EHLO c\r\nMAIL FROM:<a@b.test>\r\n";
  for (int i = 0; i < 10000; ++i) in += "RCPT TO:<list" + std::to_string(i) + "@lists.test>\r\n";
  in += "DATA\r\n" + kMsg;
  auto r = t.lines(in);
  // 100 accepted, then 452 4.5.3 until max_errors (20), then 421 and the session closes.
  ASSERT_EQ(r.size(), 9u + 100 + 20 + 1);
  EXPECT_EQ(r[108], "250 2.1.5 Recipient OK");
  EXPECT_EQ(r[109], "452 4.5.3 Too many recipients");
  EXPECT_EQ(r.back(), "421 4.7.0 lists.test Too many errors; closing the connection");
  EXPECT_TRUE(t.s->closing());
  EXPECT_TRUE(t.store.committed.empty());
}

TEST(SmtpSession, CommandLineAtAndPastLimit) {
  Session t;
  t.feed("EHLO c\r\n");
  std::string at = "NOOP " + std::string(505, 'x');  // 510 + CRLF = 512
  EXPECT_EQ(t.feed(at + "\r\n"), "250 2.0.0 OK\r\n");
  EXPECT_EQ(t.feed("NOOP " + std::string(506, 'x') + "\r\n"), "500 5.5.2 Line too long\r\n");
  // A huge line without LF: consumed (memory bounded), one reply when the LF comes.
  EXPECT_EQ(t.s->feed(std::string(100000, 'y')), 100000u);
  EXPECT_EQ(t.feed(std::string(5000, 'y')), "");
  EXPECT_EQ(t.feed("zz\r\nNOOP\r\n"), "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");
}

TEST(SmtpSession, TextLineAtAndPastLimit) {
  Session t;
  t.feed("EHLO c\r\n" + kTxn);
  EXPECT_EQ(t.feed("Subject: x\r\n\r\n" + std::string(998, 'a') + "\r\n.\r\n").substr(0, 3), "250");
  t.feed(kTxn);
  EXPECT_EQ(t.feed("Subject: x\r\n\r\n" + std::string(999, 'a') + "\r\n.\r\n"),
            "554 5.6.0 Message has a line longer than 998 octets\r\n");
  EXPECT_EQ(t.store.committed.size(), 1u);
}

TEST(SmtpSession, MaxErrorsGives421) {
  SessionLimits lim;
  lim.max_errors = 3;
  Session t(lim);
  auto r = t.lines("BAD1\r\nBAD2\r\nBAD3\r\nNOOP\r\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[3], "421 4.7.0 lists.test Too many errors; closing the connection");
  EXPECT_TRUE(t.s->closing());
}

TEST(SmtpSession, SmugglingSequencesNeverEndDataAndAreRefused) {
  const std::vector<std::string> seqs = {"\n.\n",       "\n.\r",         "\r.\n",
                                         "\r.\r",       "\n.\r\n",       "\r.\r\n",
                                         "\r\n.\r\r\n", "\r\r\n.\r\r\n", std::string("\r\n\0.\r\n", 6)};
  for (auto& seq : seqs) {
    Session t;
    t.feed("EHLO c\r\n" + kTxn);
    std::string smuggled = "Subject: x\r\n\r\nhello" + seq +
                           "MAIL FROM:<evil@x.test>\r\nRCPT TO:<list@lists.test>\r\nDATA\r\nSubject: smuggled\r\n\r\n"
                           "evil\r\n.\r\n";
    auto r = t.lines(smuggled);
    ASSERT_EQ(r.size(), 1u) << "one DATA, one reply";
    EXPECT_TRUE(r[0] == "550 5.5.2 Message contains a bare CR or LF; lines must end with CRLF (RFC 5321 2.3.8)" ||
                r[0] == "554 5.6.0 Message contains a NUL byte")
        << r[0];
    EXPECT_TRUE(t.store.committed.empty());
    EXPECT_EQ(t.store.aborted, 1);
  }
}

TEST(SmtpSession, BareCrAndLfInCommands) {
  Session t;
  t.feed("EHLO c\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@sink.test>\rRCPT TO:<x@y>\r\n"), "501 5.5.4 Bare CR in command\r\n");
  EXPECT_EQ(t.feed("NOOP\nNOOP\r\n"),
            "500 5.5.2 Bare LF received; command lines must end with CRLF\r\n250 2.0.0 OK\r\n");
  EXPECT_EQ(t.feed(std::string("MAIL FROM:<a@x\0@evil>\r\n", 23)), "501 5.5.2 NUL byte in command\r\n");
  EXPECT_EQ(t.feed("DATA\r\n"), "503 5.5.1 Need MAIL before DATA\r\n");  // no MAIL was taken
}

TEST(SmtpSession, NulInDataRefused) {
  Session t;
  t.feed("EHLO c\r\n" + kTxn);
  EXPECT_EQ(t.feed(std::string("Subject: x\r\n\r\na\0b\r\n.\r\n", 22)), "554 5.6.0 Message contains a NUL byte\r\n");
  EXPECT_TRUE(t.store.committed.empty());
}

TEST(SmtpSession, StarttlsDiscardsPipelinedBytesAndForgetsEhlo) {
  Session t;
  t.feed("EHLO c\r\n");
  EXPECT_EQ(t.feed("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<list@lists.test>\r\n"),
            "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(t.discarded, "MAIL FROM:<evil@x.test>\r\nRCPT TO:<list@lists.test>\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test>\r\n"), "503 5.5.1 Send EHLO/HELO first\r\n");
  auto ehlo = t.feed("EHLO c\r\n");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(t.feed("STARTTLS\r\n"), "503 5.5.1 TLS already active\r\n");
  t.feed(kTxn + kMsg);
  EXPECT_NE(t.store.committed.at(0).find("with ESMTPS"), std::string::npos);
  EXPECT_EQ(t.feed("STARTTLS x\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n");
}

TEST(SmtpSession, BdatChunks) {
  Session t;
  t.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\n");
  EXPECT_EQ(t.feed("BDAT 14\r\nSubject: x\r\n\r\n"), "250 2.0.0 Chunk received, 14 octets\r\n");
  EXPECT_EQ(t.feed("DATA\r\n"), "503 5.5.1 DATA after BDAT\r\n");
  EXPECT_EQ(t.feed("BDAT 12 LAST\r\n.dot\r\nbody\r\n"), "250 2.0.0 Queued for list@lists.test\r\n");
  ASSERT_EQ(t.store.committed.size(), 1u);
  auto& m = t.store.committed[0];
  EXPECT_EQ(m.substr(m.find("Subject")), "Subject: x\r\n\r\n.dot\r\nbody\r\n");
  // BDAT after LAST: the transaction is over; the chunk is consumed, never parsed as commands.
  EXPECT_EQ(t.feed("BDAT 25 LAST\r\nMAIL FROM:<evil@x.test>\r\n"), "503 5.5.1 Need MAIL before BDAT\r\n");
  EXPECT_EQ(t.feed("NOOP\r\n"), "250 2.0.0 OK\r\n");
  t.feed("MAIL FROM:<a@b.test>\r\n");
  EXPECT_EQ(t.feed("BDAT 3\r\nabc"), "554 5.5.1 No valid recipients\r\n");
  t.feed("RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\n");
  EXPECT_EQ(t.feed("BDAT 0 LAST\r\n"), "554 5.6.0 Message does not start with a header field\r\n");
  EXPECT_EQ(t.store.committed.size(), 1u);
}

TEST(SmtpSession, BdatUnframeableSizesClose) {
  Session a;
  a.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\n");
  EXPECT_EQ(a.feed("BDAT 99999999999999999999\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]; closing\r\n");
  EXPECT_TRUE(a.s->closing());
  Session b;
  b.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\n");
  EXPECT_EQ(b.feed("BDAT 99999999999\r\n"), "552 5.3.4 Chunk exceeds fixed maximum message size; closing\r\n");
  EXPECT_TRUE(b.s->closing());
  Session c;
  c.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\n");
  EXPECT_EQ(c.feed("BDAT abc\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]; closing\r\n");
  EXPECT_TRUE(a.store.committed.empty() && b.store.committed.empty() && c.store.committed.empty());
}

TEST(SmtpSession, LmtpOneReplyPerRecipient) {
  Session t({}, true);
  EXPECT_EQ(t.greeting, "220 lists.test LMTP listd ready\r\n");
  EXPECT_EQ(t.feed("EHLO c\r\n"), "500 5.5.1 This is LMTP: use LHLO\r\n");
  EXPECT_EQ(t.feed("LHLO c\r\n").substr(0, 4), "250-");
  t.store.fail_rcpt = "list2@lists.test";
  auto r = t.lines(
      "MAIL FROM:<a@b.test>\r\nRCPT TO:<list1@lists.test>\r\nRCPT TO:<nosuch@lists.test>\r\n"
      "RCPT TO:<list2@lists.test>\r\nRCPT TO:<list1@lists.test>\r\nDATA\r\n" +
      kMsg);
  ASSERT_EQ(r.size(), 9u);
  EXPECT_EQ(r[6], "250 2.0.0 Queued for list1@lists.test");
  EXPECT_EQ(r[7], "451 4.3.0 disk on fire");
  EXPECT_EQ(r[8], "250 2.0.0 Queued for list1@lists.test");  // the duplicate RCPT gets its reply too
  EXPECT_NE(t.store.committed.at(0).find("with LMTP"), std::string::npos);
  // A refused message: the same reply once per accepted recipient.
  auto bad = t.lines(
      "MAIL FROM:<a@b.test>\r\nRCPT TO:<list1@lists.test>\r\nRCPT TO:<list2@lists.test>\r\nDATA\r\n"
      "no header here\r\n.\r\n");
  ASSERT_EQ(bad.size(), 6u);
  EXPECT_EQ(bad[4], "554 5.6.0 Message does not start with a header field");
  EXPECT_EQ(bad[5], "554 5.6.0 Message does not start with a header field");
}

TEST(SmtpSession, DuplicateRecipientSpooledOnce) {
  Session t;
  t.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\nRCPT TO:<list@lists.test>\r\n");
  t.feed("DATA\r\n" + kMsg);
  ASSERT_EQ(t.store.committed_rcpts.size(), 1u);
  EXPECT_EQ(t.store.committed_rcpts[0], std::vector<std::string>{"list@lists.test"});
}

TEST(SmtpSession, TooManyReceivedIsALoop) {
  Session t;
  t.feed("EHLO c\r\n" + kTxn);
  std::string hops;
  for (int i = 0; i < 100; ++i) hops += "Received: from hop" + std::to_string(i) + "\r\n";
  EXPECT_EQ(t.feed(hops + "Subject: x\r\n\r\nloop\r\n.\r\n"),
            "554 5.4.6 Too many Received: header fields (mail loop?)\r\n");
  t.feed(kTxn);
  EXPECT_EQ(t.feed(hops.substr(hops.find("Received: from hop1\r\n")) + "\r\nok\r\n.\r\n").substr(0, 3), "250");
}

TEST(SmtpSession, BackendFailureIs451) {
  Session t;
  t.store.fail_begin = true;
  t.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\n");
  EXPECT_EQ(t.feed("DATA\r\n"), "451 4.3.0 Local error: cannot store the message now\r\n");
  EXPECT_EQ(t.feed("RCPT TO:<list@lists.test>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
}

TEST(SmtpSession, ShutdownAndEofDropTheTransaction) {
  Session t;
  t.feed("EHLO c\r\n" + kTxn + "Subject: x\r\n\r\npartial");
  EXPECT_TRUE(t.s->in_data());
  EXPECT_FALSE(t.s->idle());
  t.s->eof();
  EXPECT_TRUE(t.store.committed.empty());
  EXPECT_EQ(t.store.aborted, 1);
  Session u;
  u.feed("EHLO c\r\n");
  EXPECT_TRUE(u.s->idle());
  u.s->shutdown(Reply(421, "4.3.2", "lists.test Service shutting down"));
  EXPECT_EQ(u.s->take_output(), "421 4.3.2 lists.test Service shutting down\r\n");
  EXPECT_TRUE(u.s->closing());
}

TEST(SmtpSession, ConnectionRefusedAtGreeting) {
  Store st;
  FakeBackend be(st);
  SessionOptions o;
  ServerSession s(o, be);
  s.greet(Reply(421, "4.7.0", "x Too many connections"));
  EXPECT_EQ(s.take_output(), "421 4.7.0 x Too many connections\r\n");
  EXPECT_TRUE(s.closing());
}

TEST(SmtpSession, UnauthorizedPipeliningAfterEhloOrDataCloses) {
  Session a({}, false, true, true);
  auto out = a.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
  EXPECT_EQ(out.substr(0, 4), "250-");
  EXPECT_EQ(out.substr(out.size() - 44), "554 5.5.0 Unauthorized pipelining; closing\r\n");
  EXPECT_TRUE(a.s->closing());
  Session b({}, false, true, true);
  b.feed("EHLO c\r\n");
  auto r = b.lines("MAIL FROM:<a@b.test>\r\nRCPT TO:<list@lists.test>\r\nDATA\r\nSubject: early\r\n\r\nx\r\n.\r\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[2].substr(0, 3), "354");
  EXPECT_EQ(r[3], "554 5.5.0 Unauthorized pipelining; closing");
  EXPECT_TRUE(b.s->closing());
  EXPECT_TRUE(b.store.committed.empty());
  // A client that waits for 354 is fine, and MAIL/RCPT/DATA groups are proper pipelining.
  Session c({}, false, true, true);
  c.feed("EHLO c\r\n");
  EXPECT_EQ(c.lines(kTxn).size(), 3u);
  EXPECT_EQ(c.feed(kMsg).substr(0, 3), "250");
}

TEST(SmtpSession, DuplicateMailParameter) {
  Session t;
  t.feed("EHLO c\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<a@b.test> SIZE=10 SIZE=20\r\n"), "501 5.5.4 Duplicate parameter SIZE\r\n");
  EXPECT_EQ(t.feed("MAIL FROM:<\"\"@b.test>\r\n").substr(0, 3), "553");
}

TEST(SmtpSession, EarlyTalkerGets554InsteadOfTheGreeting) {
  Store st;
  FakeBackend be(st);
  SessionOptions o;
  o.hostname = "lists.test";
  ServerSession s(o, be);
  s.talked_early();
  EXPECT_EQ(s.take_output(), "554 5.5.0 lists.test Protocol error: you talked before my greeting; closing\r\n");
  EXPECT_TRUE(s.closing());
  EXPECT_EQ(s.feed("EHLO x\r\n" + kTxn + kMsg), 0u);  // nothing more is read
  EXPECT_EQ(s.take_output(), "");
  EXPECT_TRUE(st.committed.empty());
}

TEST(SmtpSession, HeaderOverCapsIs552AndNothingSpooled) {
  SessionLimits lim;
  lim.max_header_fields = 10;
  lim.max_header_size = 2000;
  lim.max_header_field_size = 1000;
  struct Case {
    std::string header;
    std::string reply;
  };
  std::string many, big, longfield = "X-Long: a";
  for (int i = 0; i < 11; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  for (int i = 0; i < 3; ++i) big += "X-" + std::to_string(i) + ": " + std::string(900, 'v') + "\r\n";
  for (int i = 0; i < 20; ++i) longfield += "\r\n " + std::string(60, 'w');
  longfield += "\r\n";
  for (auto& c : std::vector<Case>{{many, "552 5.3.4 Too many header fields"},
                                   {big, "552 5.3.4 Message header too large"},
                                   {longfield, "552 5.3.4 A header field is too long"}}) {
    for (bool lmtp : {false, true}) {
      Session t(lim, lmtp);
      t.feed(lmtp ? "LHLO c\r\n" : "EHLO c\r\n");
      std::string rcpts = lmtp ? "RCPT TO:<list@lists.test>\r\nRCPT TO:<list2@lists.test>\r\n" : "";
      auto r = t.lines("MAIL FROM:<ana@mired.org>\r\nRCPT TO:<list@lists.test>\r\n" + rcpts + "DATA\r\n" + c.header +
                       "\r\nbody\r\n.\r\n");
      ASSERT_FALSE(r.empty());
      EXPECT_EQ(r.back(), c.reply) << (lmtp ? "lmtp" : "smtp");
      if (lmtp) {
        ASSERT_GE(r.size(), 3u);
        EXPECT_EQ(r[r.size() - 2], c.reply);  // one reply per accepted recipient
      }
      EXPECT_TRUE(t.store.committed.empty());
      // The session goes on: the next message within the caps is accepted.
      t.lines(kTxn);
      EXPECT_EQ(t.feed(kMsg).substr(0, 3), "250");
    }
  }
}
