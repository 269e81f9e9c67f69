// bounce_test.cpp - bounce_parse on one sample per format (tests/data/bounces/).
#include <gtest/gtest.h>

#include "listd/bounce.hpp"
#include "listd/fsutil.hpp"

using namespace listd;

struct BounceRow {
  const char* file;
  bool is_bounce;
  const char* format;
  const char* address;
  bool permanent;
};

// The file name only (gtest's default prints raw bytes, padding included: Valgrind noise).
void PrintTo(const BounceRow& r, std::ostream* os) {
  *os << r.file;
}

class Bounces : public ::testing::TestWithParam<BounceRow> {};

TEST_P(Bounces, Row) {
  const auto& p = GetParam();
  auto raw = read_file(std::string(LISTD_TEST_DATA) + "/bounces/" + p.file);
  auto r = bounce_parse(raw);
  ASSERT_EQ(r.is_bounce, p.is_bounce) << p.file;
  if (!p.is_bounce) return;
  EXPECT_EQ(r.format, p.format);
  ASSERT_EQ(r.addresses.size(), 1u);
  EXPECT_EQ(r.addresses[0].address, p.address);
  EXPECT_EQ(r.addresses[0].permanent, p.permanent);
  // CRLF input gives the same answer.
  std::string crlf;
  for (char c : raw) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto r2 = bounce_parse(crlf);
  ASSERT_EQ(r2.addresses.size(), 1u);
  EXPECT_EQ(r2.addresses[0].address, p.address);
}

INSTANTIATE_TEST_SUITE_P(Rows, Bounces,
                         ::testing::Values(BounceRow{"dsn_postfix.eml", true, "dsn", "gone@example.org", true},
                                           BounceRow{"dsn_delayed.eml", true, "dsn", "slow@example.org", false},
                                           BounceRow{"exim.eml", true, "exim", "nobody@example.net", true},
                                           BounceRow{"qmail.eml", true, "qmail", "olduser@qmail.example.com", true},
                                           BounceRow{"sendmail.eml", true, "sendmail", "prof@sm.example.edu", true},
                                           BounceRow{"exchange.eml", true, "exchange", "jdoe@corp.example.com", true},
                                           BounceRow{"not_a_bounce.eml", false, "", "", false}),
                         [](const auto& info) {
                           std::string n = info.param.file;
                           return n.substr(0, n.find('.'));
                         });

TEST(Bounce, VerpNamesTheRecipientWhenTheBodyDoesNot) {
  auto r = bounce_parse("From: MAILER-DAEMON@x.org\nSubject: Undeliverable\n\nsorry\n", "bob@mired.org");
  ASSERT_TRUE(r.is_bounce);
  EXPECT_EQ(r.format, "verp");
  EXPECT_EQ(r.addresses[0].address, "bob@mired.org");
  EXPECT_TRUE(r.addresses[0].permanent);
}

TEST(Bounce, GarbageIsNoBounce) {
  EXPECT_FALSE(bounce_parse("").is_bounce);
  std::string junk(100000, '\xff');
  EXPECT_FALSE(bounce_parse(junk).is_bounce);
}

// Found by tests/fuzz (bounce): std::regex recursed once per character of a line, so a long
// line in a bounce's text overflowed the stack and killed the daemon. Lines are now cut to
// 998 octets before matching; the address on a normal line is still found.
TEST(Bounces, HugeLineDoesNotOverflowTheStack) {
  // 900,000 octets: under the 1 MiB of text bounce_parse reads, far over what the stack held.
  std::string raw =
      "From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\n\n"
      "The mail system\n\n" +
      std::string(900000, 'a') + "\n" + "<gone@example.org>: host mx.example.org said: 550 5.1.1 unknown user\n";
  auto r = bounce_parse(raw);
  ASSERT_TRUE(r.is_bounce);
  EXPECT_EQ(r.format, "postfix");
  ASSERT_EQ(r.addresses.size(), 1u);
  EXPECT_EQ(r.addresses[0].address, "gone@example.org");
}

// Found by tests/fuzz (bounce): a bare CR inside a line of the bounce text came back in the
// diagnostic ("one line" in bounce.hpp), which goes to the database and the owner's notices.
TEST(Bounces, DiagnosticAndStatusAreOneLine) {
  std::string raw =
      "From: MAILER-DAEMON@mx.example\nSubject: Returned mail\n\n"
      "   ----- The following addresses had permanent fatal errors -----\n"
      "<prof@sm.example.edu> 550 5.1.1 no\rSubject: injected\x01\n";
  auto r = bounce_parse(raw);
  ASSERT_EQ(r.addresses.size(), 1u);
  EXPECT_EQ(r.addresses[0].address, "prof@sm.example.edu");
  EXPECT_EQ(r.addresses[0].diagnostic, "<prof@sm.example.edu> 550 5.1.1 no Subject: injected ");
  std::string dsn =
      "From: MAILER-DAEMON@mx.example\nMIME-Version: 1.0\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
      "--B\nContent-Type: text/plain\n\nfailed\n"
      "--B\nContent-Type: message/delivery-status\n\n"
      "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; gone@example.org\nAction: failed\n"
      "Status: 5.1.1\rX\nDiagnostic-Code: smtp; 550\rno\n\n--B--\n";
  auto d = bounce_parse(dsn);
  ASSERT_EQ(d.addresses.size(), 1u);
  EXPECT_EQ(d.addresses[0].status, "5.1.1 X");
  EXPECT_EQ(d.addresses[0].diagnostic, "smtp; 550 no");
}
