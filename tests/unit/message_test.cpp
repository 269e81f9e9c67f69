// message_test.cpp - message_info() and to_lf() on real-world-shaped and hostile input.
//
// Fixtures live in tests/data/messages/. Every file row runs twice, with LF and with CRLF line
// ends, and must give the same answer both times. Hostile inputs (garbage, huge lines,
// a 50 MB body) are built in memory.
#include "listd/message.hpp"

#include <glib.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace listd {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string message_file(const std::string& name) {
  return read_file(std::string(LISTD_TEST_DATA) + "/messages/" + name);
}

std::string to_crlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

bool valid_utf8(const std::string& s) {
  return g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr) != 0;
}

void expect_all_utf8(const MessageInfo& mi) {
  for (const std::string* s :
       {&mi.message_id, &mi.in_reply_to, &mi.from_address, &mi.from_name, &mi.sender_address, &mi.reply_to, &mi.subject,
        &mi.precedence, &mi.auto_submitted, &mi.approved, &mi.content_type, &mi.first_text}) {
    EXPECT_TRUE(valid_utf8(*s)) << *s;
  }
}

// ---------------------------------------------------------------------------------------------
// One row per fixture file.

struct InfoRow {
  const char* name;
  const char* file;
  bool parsed_ok;
  const char* message_id;
  long long date;
  const char* from_address;
  const char* from_name;
  const char* subject;
  const char* content_type;
  const char* first_text;  // exact decoded text
};

const InfoRow kInfoRows[] = {
    {"plain_ascii", "plain_ascii.eml", true, "20240115093000.1234@mired.org", 1705311000, "Ana.Garcia@mired.org",
     "Ana Garcia", "Hola a todos", "text/plain", "Hola,\n\nthis is the first post to the list.\n\n-- \nAna\n"},
    {"alternative_text_html", "alternative.eml", true, "alt-1@mired.org", 1705410000, "bob@mired.org", "Bob", "Agenda",
     "multipart/alternative", "Agenda de la reunión:\n1. Café\n"},
    {"signed_pgp", "signed.eml", true, "signed-1@mired.org", 1705492800, "ana@mired.org", "Ana Garcia",
     "Signed announcement", "multipart/signed", "The server moves on Friday.\n\xE2\x80\x94 Ana\n"},
    {"base64_utf8", "base64_utf8.eml", true, "b64-1@mired.org", 1705565700, "bob@mired.org", "Bob", "Saludos",
     "text/plain", "Buenos días, señor.\r\nÑandú en el campo.\r\n"},
    {"latin1_qp", "latin1_qp.eml", true, "latin1-1@example.com", 1705686300, "jose@example.com", "José Pérez",
     "Café y mañana", "text/plain", "Mañana tomamos café a las diez.\nJosé\n"},
    {"rfc2047_b_subject", "rfc2047_b.eml", true, "b-subject-1@mired.org", 1705734000, "zoe@mired.org", "Zoë Ünal",
     "Reunión del martes \xF0\x9F\x8E\x89", "text/plain", "Nos vemos el martes.\n"},
    {"raw_8bit_headers", "raw_8bit_headers.eml", true, "8bit-1@mired.org", 1705917600, "zoe@mired.org", "Zoë Ünal",
     "Café con leche ñ", "text/plain", "raw 8-bit headers, body in ASCII\n"},
    {"headers_rich", "headers_rich.eml", true, "rich-3@mired.org", 1705910399, "bob@mired.org", "Bob",
     "Re: [mi_lista] minutes", "multipart/mixed", "Real body text."},  // RFC 2046 §5.1.1
    {"no_headers", "no_headers.eml", false, "", 0, "", "", "", "", ""},
};

class MessageInfoFile : public ::testing::TestWithParam<InfoRow> {};

TEST_P(MessageInfoFile, FieldsMatchWithLfAndCrlf) {
  const InfoRow& row = GetParam();
  const std::string lf = message_file(row.file);
  ASSERT_FALSE(lf.empty());
  for (const std::string& raw : {lf, to_crlf(lf)}) {
    SCOPED_TRACE(raw.size() == lf.size() ? "LF" : "CRLF");
    MessageInfo mi = message_info(raw);
    EXPECT_EQ(mi.parsed_ok, row.parsed_ok);
    EXPECT_EQ(mi.size, raw.size());
    EXPECT_EQ(mi.message_id, row.message_id);
    EXPECT_EQ(mi.date, row.date);
    EXPECT_EQ(mi.from_address, row.from_address);
    EXPECT_EQ(mi.from_name, row.from_name);
    EXPECT_EQ(mi.subject, row.subject);
    EXPECT_EQ(mi.content_type, row.content_type);
    EXPECT_EQ(mi.first_text, row.first_text);
    expect_all_utf8(mi);
  }
}

INSTANTIATE_TEST_SUITE_P(Files, MessageInfoFile, ::testing::ValuesIn(kInfoRows),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// The fields the pipeline's rules read (loop detection, auto-replies, approval).

TEST(MessageInfo, ThreadingListAndRuleHeaders) {
  MessageInfo mi = message_info(message_file("headers_rich.eml"));
  ASSERT_TRUE(mi.parsed_ok);
  EXPECT_EQ(mi.in_reply_to, "rich-2@mired.org");
  EXPECT_EQ(mi.references, (std::vector<std::string>{"rich-1@mired.org", "rich-1a@mired.org", "rich-2@mired.org"}));
  EXPECT_EQ(mi.sender_address, "owner-bot@lists.example.org");
  EXPECT_EQ(mi.reply_to, "Equipo de Bob <equipo@mired.org>");
  EXPECT_EQ(mi.list_ids, (std::vector<std::string>{"other.lists.example.org", "second.lists.example.org"}));
  EXPECT_EQ(mi.been_there, (std::vector<std::string>{"other@lists.example.org", "second@lists.example.org"}));
  EXPECT_EQ(mi.precedence, "bulk");
  EXPECT_EQ(mi.auto_submitted, "auto-replied");
  EXPECT_EQ(mi.approved, "s3cr3t-Pass");
}

TEST(MessageInfo, ApproveIsAnAliasOfApproved) {
  MessageInfo mi = message_info("From: a@mired.org\nApprove: pw1\n\nbody\n");
  EXPECT_EQ(mi.approved, "pw1");
}

TEST(MessageInfo, MissingFieldsStayEmpty) {
  MessageInfo mi = message_info("From: a@mired.org\n\nbody\n");
  ASSERT_TRUE(mi.parsed_ok);
  EXPECT_EQ(mi.message_id, "");
  EXPECT_EQ(mi.in_reply_to, "");
  EXPECT_TRUE(mi.references.empty());
  EXPECT_EQ(mi.date, 0);
  EXPECT_EQ(mi.subject, "");
  EXPECT_TRUE(mi.list_ids.empty());
  EXPECT_EQ(mi.content_type, "text/plain");
  EXPECT_EQ(mi.first_text, "body\n");
}

TEST(MessageInfo, BadDateIsZero) {
  EXPECT_EQ(message_info("From: a@b.c\nDate: not a date at all\n\nx\n").date, 0);
}

// ---------------------------------------------------------------------------------------------
// Hostile input: never throw, never crash, always valid UTF-8 out.

TEST(MessageInfo, EmptyInput) {
  MessageInfo mi = message_info("");
  EXPECT_FALSE(mi.parsed_ok);
  EXPECT_EQ(mi.size, 0u);
}

TEST(MessageInfo, BinaryGarbage) {
  std::string junk;
  std::uint32_t x = 12345;
  for (int i = 0; i < 64 * 1024; ++i) {
    x = x * 1103515245u + 12345u;
    junk.push_back(static_cast<char>(x >> 16));
  }
  MessageInfo mi;
  EXPECT_NO_THROW(mi = message_info(junk));
  EXPECT_EQ(mi.size, junk.size());
  expect_all_utf8(mi);
  // Garbage behind a valid header block: the body bytes must come out as valid UTF-8.
  EXPECT_NO_THROW(mi = message_info("Subject: x\nContent-Type: text/plain; charset=utf-8\n\n" + junk));
  EXPECT_TRUE(mi.parsed_ok);
  EXPECT_FALSE(mi.first_text.empty());
  EXPECT_LE(mi.first_text.size(), kMaxFirstText);
  expect_all_utf8(mi);
}

TEST(MessageInfo, NulBytesAndUnknownCharset) {
  std::string raw("Subject: a\0b\nContent-Type: text/plain; charset=x-no-such-charset\n\nab\0\xe9\n", 51);
  MessageInfo mi = message_info(raw);
  EXPECT_TRUE(mi.parsed_ok);
  expect_all_utf8(mi);
}

TEST(MessageInfo, InvalidSequencesInDeclaredCharsetAreReplaced) {
  // 0xFF 0xFE is not UTF-8; Shift_JIS 0x82 at the end is a truncated sequence.
  MessageInfo u = message_info("Content-Type: text/plain; charset=utf-8\n\nok \xff\xfe ok\n");
  EXPECT_EQ(u.first_text, "ok \xEF\xBF\xBD\xEF\xBF\xBD ok\n");
  MessageInfo s = message_info("Content-Type: text/plain; charset=Shift_JIS\n\nab\x82");
  EXPECT_EQ(s.first_text, "ab\xEF\xBF\xBD");
}

TEST(MessageInfo, HugeHeaderLine) {
  std::string raw = "Subject: " + std::string(2 * 1024 * 1024, 'a') + "\nFrom: a@mired.org\n\nhi\n";
  MessageInfo mi = message_info(raw);
  EXPECT_TRUE(mi.parsed_ok);
  EXPECT_EQ(mi.subject.size(), 2u * 1024 * 1024);
  EXPECT_EQ(mi.from_address, "a@mired.org");
  EXPECT_EQ(mi.first_text, "hi\n");
}

TEST(MessageInfo, FiftyMegabyteBodyIsCapped) {
  std::string raw = "From: a@mired.org\nSubject: big\nContent-Type: text/plain; charset=utf-8\n\n";
  const std::string line = "0123456789 abcdefghijklmnopqrstuvwxyz ñandú\n";
  raw.reserve(50u * 1024 * 1024 + line.size());
  while (raw.size() < 50u * 1024 * 1024) raw += line;
  auto start = std::chrono::steady_clock::now();
  MessageInfo mi = message_info(raw);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(mi.parsed_ok);
  EXPECT_EQ(mi.size, raw.size());
  EXPECT_LE(mi.first_text.size(), kMaxFirstText);
  EXPECT_GE(mi.first_text.size(), kMaxFirstText - 4);  // cut on a character boundary
  EXPECT_TRUE(valid_utf8(mi.first_text));
  EXPECT_EQ(mi.first_text.substr(0, line.size()), line);
  EXPECT_LT(secs, 30.0);  // generous: Debug builds under sanitizers
}

// ---------------------------------------------------------------------------------------------

struct LfRow {
  const char* name;
  const char* in;
  const char* out;
};

const LfRow kLfRows[] = {
    {"empty", "", ""},
    {"already_lf", "a\nb\n", "a\nb\n"},
    {"crlf", "a\r\nb\r\n", "a\nb\n"},
    {"lone_cr_kept", "a\rb\r\n", "a\rb\n"},
    {"cr_run_before_lf", "a\r\r\nb", "a\nb"},  // keeps to_lf idempotent
    {"trailing_cr", "a\r", "a\r"},
    {"mixed", "x\ny\r\nz", "x\ny\nz"},
};

class ToLf : public ::testing::TestWithParam<LfRow> {};

TEST_P(ToLf, ConvertsAndIsIdempotent) {
  const LfRow& row = GetParam();
  std::string once = to_lf(row.in);
  EXPECT_EQ(once, row.out);
  EXPECT_EQ(to_lf(once), once);
}

INSTANTIATE_TEST_SUITE_P(Rows, ToLf, ::testing::ValuesIn(kLfRows),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(MimeInit, IsIdempotent) {
  mime_init();
  mime_init();
  SUCCEED();
}

}  // namespace
}  // namespace listd
