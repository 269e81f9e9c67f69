// imap_mime_test.cpp - imap/mime: ENVELOPE, BODYSTRUCTURE, BODY[section] and string quoting
// on hand-written messages (RFC 3501 §7.4.2 formats, RFC 2046 multipart framing).
#include <gtest/gtest.h>

#include "imap/mime.hpp"

namespace {

std::string section(const std::string& lf_msg, const std::string& spec) {
  std::string m = imap::to_crlf(lf_msg);
  auto t = imap::parse_mime(m);
  std::string out;
  EXPECT_TRUE(imap::fetch_section(t, m, spec, out)) << spec;
  return out;
}

const char* kNested =
    "From: a@b.c\nSubject: nested\nContent-Type: multipart/mixed; boundary=outer\n\npreamble\n--outer\n"
    "Content-Type: text/plain\n\nbody one\n--outer\nContent-Type: message/rfc822\n\nFrom: x@y.z\nSubject: inner\n"
    "Content-Type: multipart/alternative; boundary=\"in\"\n\n--in\nContent-Type: text/plain\n\ninner text\n--in\n"
    "Content-Type: text/html\n\n<p>inner</p>\n--in--\n--outer--\nepilogue\n";

}  // namespace

TEST(ImapMime, ToCrlfIsIdempotent) {
  EXPECT_EQ(imap::to_crlf("a\nb\r\nc"), "a\r\nb\r\nc");
  EXPECT_EQ(imap::to_crlf(imap::to_crlf("a\n\n")), "a\r\n\r\n");
}

TEST(ImapMime, EnvelopeAddresses) {
  std::string h = imap::to_crlf(
      "Date: Tue, 3 Feb 2026 09:00:00 +0100\nSubject: =?UTF-8?Q?ma=C3=B1ana?=\nFrom: \"Ana, A.\" <ana@mired.org>\n"
      "To: bob@mired.org (Bob B), undisclosed-recipients:;\nCc: Team: c@d.e, f@g.h;\n"
      "In-Reply-To: <0@x>\nMessage-ID: <1@x>\n\n");
  EXPECT_EQ(imap::envelope(h),
            "(\"Tue, 3 Feb 2026 09:00:00 +0100\" \"=?UTF-8?Q?ma=C3=B1ana?=\" ((\"Ana, A.\" NIL \"ana\" \"mired.org\")) "
            "((\"Ana, A.\" NIL \"ana\" \"mired.org\")) ((\"Ana, A.\" NIL \"ana\" \"mired.org\")) "
            "((\"Bob B\" NIL \"bob\" \"mired.org\")(NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
            "((NIL NIL \"Team\" NIL)(NIL NIL \"c\" \"d.e\")(NIL NIL \"f\" \"g.h\")(NIL NIL NIL NIL)) NIL "
            "\"<0@x>\" \"<1@x>\")");
  EXPECT_EQ(imap::envelope("\r\n"), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST(ImapMime, SimpleBodyStructure) {
  std::string m = imap::to_crlf("Subject: x\n\nline one\nline two\n");
  auto t = imap::parse_mime(m);
  EXPECT_EQ(imap::bodystructure(t, m, false), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2)");
  EXPECT_EQ(imap::bodystructure(t, m, true),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL)");
}

TEST(ImapMime, NestedBodyStructure) {
  std::string m = imap::to_crlf(kNested);
  auto t = imap::parse_mime(m);
  EXPECT_EQ(imap::bodystructure(t, m, false),
            "((\"text\" \"plain\" NIL NIL NIL \"7bit\" 8 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 182 "
            "(NIL \"inner\" ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) NIL NIL NIL "
            "NIL NIL) ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 10 0)(\"text\" \"html\" NIL NIL NIL \"7bit\" 12 0) "
            "\"alternative\") 12) \"mixed\")");
}

TEST(ImapMime, Sections) {
  EXPECT_EQ(section(kNested, "1"), "body one");
  EXPECT_EQ(section(kNested, "1.MIME"), "Content-Type: text/plain\r\n\r\n");
  EXPECT_EQ(section(kNested, "2.HEADER"),
            "From: x@y.z\r\nSubject: inner\r\nContent-Type: multipart/alternative; "
            "boundary=\"in\"\r\n\r\n");
  EXPECT_EQ(section(kNested, "2.1"), "inner text");
  EXPECT_EQ(section(kNested, "2.2"), "<p>inner</p>");
  EXPECT_EQ(section(kNested, "2.2.MIME"), "Content-Type: text/html\r\n\r\n");
  EXPECT_EQ(section(kNested, "HEADER.FIELDS (SUBJECT from)"), "From: a@b.c\r\nSubject: nested\r\n\r\n");
  EXPECT_EQ(section(kNested, "HEADER.FIELDS.NOT (Content-Type From)"), "Subject: nested\r\n\r\n");
  EXPECT_EQ(section(kNested, "2.HEADER.FIELDS (subject)"), "Subject: inner\r\n\r\n");
  EXPECT_EQ(section(kNested, "3"), "");
  EXPECT_EQ(section("Subject: x\n\nhello\n", "1"), "hello\r\n");
  EXPECT_EQ(section("Subject: x\n\nhello\n", "TEXT"), "hello\r\n");
  EXPECT_EQ(section("Subject: x\n\nhello\n", ""), "Subject: x\r\n\r\nhello\r\n");
  std::string m = "x", out;
  auto t = imap::parse_mime(m);
  EXPECT_FALSE(imap::fetch_section(t, m, "BOGUS", out));
  EXPECT_FALSE(imap::fetch_section(t, m, "MIME", out));
  EXPECT_FALSE(imap::fetch_section(t, m, "HEADER.FIELDS", out));
  EXPECT_FALSE(imap::fetch_section(t, m, "0", out));
}

TEST(ImapMime, BrokenAndHostileInputs) {
  // Multipart without boundary, unterminated multipart, no header/body separator, deep nesting.
  for (std::string raw :
       {"Content-Type: multipart/mixed\n\nhi\n", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nopen part\n",
        "Subject: only header", ""}) {
    std::string m = imap::to_crlf(raw);
    auto t = imap::parse_mime(m);
    EXPECT_FALSE(imap::bodystructure(t, m, true).empty());
  }
  std::string deep;
  for (int i = 0; i < 200; ++i)
    deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
  std::string m = imap::to_crlf(deep);
  auto t = imap::parse_mime(m);
  EXPECT_FALSE(imap::bodystructure(t, m, true).empty());
}

TEST(ImapMime, Quoting) {
  EXPECT_EQ(imap::quoted_or_literal("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(imap::quoted_or_literal("a\r\nb"), "{4}\r\na\r\nb");
  EXPECT_EQ(imap::quoted_or_literal("ñ"), "{2}\r\nñ");
  EXPECT_EQ(imap::nstring("x", false), "NIL");
}
