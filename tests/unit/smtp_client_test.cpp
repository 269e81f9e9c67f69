// smtp_client_test.cpp - the SMTP client's sans-I/O parts: reply parsing (whole, byte by
// byte, split at every offset), EHLO keywords, the pipelined transaction state machine
// against scripted replies, and wire rendering / dot-stuffing split at every offset.
#include <gtest/gtest.h>

#include "smtp/client_proto.hpp"
#include "smtp/wire.hpp"

using namespace smtp;

namespace {

std::vector<ParsedReply> parse_all(const std::vector<std::string>& chunks) {
  ReplyParser p;
  std::vector<ParsedReply> out;
  for (auto& c : chunks) {
    p.feed(c);
    while (auto r = p.next()) out.push_back(*r);
  }
  return out;
}

ParsedReply reply(const std::string& text) {
  ReplyParser p;
  p.feed(text);
  auto r = p.next();
  EXPECT_TRUE(r.has_value()) << text;
  return r ? *r : ParsedReply{};
}

}  // namespace

struct ReplyRow {
  const char* name;
  std::string input;
  std::vector<int> codes;  // one per reply; 0 = malformed
  std::size_t last_lines;  // lines of the last reply
};

void PrintTo(const ReplyRow& r, std::ostream* os) {
  *os << r.name;
}

class Replies : public ::testing::TestWithParam<ReplyRow> {};

TEST_P(Replies, WholeBytewiseAndEverySplit) {
  auto& row = GetParam();
  auto check = [&](const std::vector<ParsedReply>& rs, const std::string& how) {
    ASSERT_EQ(rs.size(), row.codes.size()) << how;
    for (std::size_t i = 0; i < rs.size(); ++i) {
      EXPECT_EQ(rs[i].malformed ? 0 : rs[i].code, row.codes[i]) << how << " reply " << i;
    }
    if (!rs.empty() && !rs.back().malformed) {
      EXPECT_EQ(rs.back().lines.size(), row.last_lines) << how;
    }
  };
  check(parse_all({row.input}), "whole");
  std::vector<std::string> bytes;
  for (char c : row.input) bytes.emplace_back(1, c);
  check(parse_all(bytes), "byte by byte");
  for (std::size_t k = 0; k <= row.input.size(); ++k)
    check(parse_all({row.input.substr(0, k), row.input.substr(k)}), "split at " + std::to_string(k));
}

INSTANTIATE_TEST_SUITE_P(
    Rows, Replies,
    ::testing::Values(ReplyRow{"single", "250 ok\r\n", {250}, 1}, ReplyRow{"bare_lf", "250 ok\n", {250}, 1},
                      ReplyRow{"code_only", "250\r\n", {250}, 1},
                      ReplyRow{"multiline", "250-a.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n", {250}, 3},
                      ReplyRow{"pipelined_group", "250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n", {250, 250, 550, 354}, 1},
                      ReplyRow{"incomplete_tail", "250 ok\r\n250-more", {250}, 1},
                      ReplyRow{"bad_code", "abc hello\r\n", {0}, 0}, ReplyRow{"code_600", "600 no\r\n", {0}, 0},
                      ReplyRow{"bad_separator", "250xok\r\n", {0}, 0},
                      ReplyRow{"mixed_codes", "250-a\r\n251 b\r\n", {0}, 0},
                      ReplyRow{"too_long", "250 " + std::string(kMaxReplyLine + 10, 'x') + "\r\n", {0}, 0},
                      // A line of exactly kMaxReplyLine split between CR and LF was refused (the
                      // same off-by-one tests/fuzz found in the IMAP parser).
                      ReplyRow{"max_length", "250 " + std::string(kMaxReplyLine - 4, 'x') + "\r\n", {250}, 1}),
    [](const auto& info) { return info.param.name; });

TEST(Replies, TextJoinsCodeAndFirstLine) {
  EXPECT_EQ(reply("550-5.1.1 no such user\r\n550 see you\r\n").text(), "550 5.1.1 no such user");
}

TEST(Ehlo, Keywords) {
  auto e = parse_ehlo(reply(
      "250-mx.example greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8bitmime\r\n250-CHUNKING\r\n250-STARTTLS\r\n"
      "250-AUTH LOGIN PLAIN\r\n250 SMTPUTF8\r\n"));
  EXPECT_TRUE(e.esmtp && e.pipelining && e.chunking && e.eightbitmime && e.starttls && e.smtputf8 && e.has_size);
  EXPECT_EQ(e.size, 1000u);
  EXPECT_EQ(e.auth, (std::set<std::string>{"LOGIN", "PLAIN"}));
  auto none = parse_ehlo(reply("250 mx.example\r\n"));
  EXPECT_TRUE(none.esmtp);
  EXPECT_FALSE(none.pipelining || none.chunking || none.has_size || none.starttls);
  EXPECT_FALSE(parse_ehlo(reply("502 no\r\n")).esmtp);
}

namespace {

Extensions ext(bool pipelining, bool chunking) {
  Extensions e;
  e.esmtp = true;
  e.pipelining = pipelining;
  e.chunking = chunking;
  e.has_size = true;
  e.eightbitmime = true;
  return e;
}

// run - drive a transaction with scripted replies; returns everything written, "<BODY>"
// standing for the message body.
std::string run(ClientTransaction& t, const std::vector<std::string>& replies) {
  std::string wire;
  auto step = t.start();
  std::size_t i = 0;
  while (step != ClientTransaction::Step::done) {
    if (step == ClientTransaction::Step::write_commands) {
      wire += t.commands();
      if (t.body_with_commands()) wire += "<BODY>";
      wire += "|";  // one write
    } else if (step == ClientTransaction::Step::send_body) {
      wire += "<BODY>|";
    }
    if (i >= replies.size()) {
      ADD_FAILURE() << "transaction wants more replies than scripted";
      break;
    }
    step = t.on_reply(reply(replies[i++] + "\r\n"));
  }
  EXPECT_EQ(i, replies.size()) << "not every scripted reply was read";
  return wire;
}

}  // namespace

TEST(ClientTransaction, PipelinedGroupIsOneWrite) {
  ClientTransaction t(ext(true, false), "l-bounces@h", {"a@x", "b@x", "c@x"}, 42, false);
  auto wire = run(t, {"250 ok", "250 ok", "550 5.1.1 unknown", "451 4.2.0 later", "354 go", "250 queued"});
  EXPECT_EQ(wire,
            "MAIL FROM:<l-bounces@h> SIZE=42 BODY=8BITMIME\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT "
            "TO:<c@x>\r\nDATA\r\n|<BODY>|");
  ASSERT_EQ(t.results().size(), 3u);
  EXPECT_EQ(t.results()[0].outcome, Outcome::delivered);
  EXPECT_EQ(t.results()[0].reply, "250 queued");
  EXPECT_EQ(t.results()[1].outcome, Outcome::failed);
  EXPECT_EQ(t.results()[1].reply, "550 5.1.1 unknown");
  EXPECT_EQ(t.results()[2].outcome, Outcome::deferred);
  EXPECT_TRUE(t.connection_usable());
  EXPECT_FALSE(t.rset_needed());
}

TEST(ClientTransaction, ChunkingSendsCommandsAndBodyInOneWrite) {
  ClientTransaction t(ext(true, true), "s@h", {"a@x", "b@x"}, 7, false);
  auto wire = run(t, {"250 ok", "250 ok", "250 ok", "250 done"});
  EXPECT_EQ(wire, "MAIL FROM:<s@h> SIZE=7 BODY=8BITMIME\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 7 LAST\r\n<BODY>|");
  EXPECT_EQ(t.results()[1].outcome, Outcome::delivered);
}

TEST(ClientTransaction, WithoutPipeliningOneCommandPerWrite) {
  ClientTransaction t(ext(false, false), "s@h", {"a@x", "b@x"}, 7, false);
  auto wire = run(t, {"250 ok", "250 ok", "550 no", "354 go", "250 done"});
  EXPECT_EQ(wire, "MAIL FROM:<s@h> SIZE=7 BODY=8BITMIME\r\n|RCPT TO:<a@x>\r\n|RCPT TO:<b@x>\r\n|DATA\r\n|<BODY>|");
  EXPECT_EQ(t.results()[0].outcome, Outcome::delivered);
  EXPECT_EQ(t.results()[1].outcome, Outcome::failed);
}

TEST(ClientTransaction, NoRecipientAcceptedWithoutPipeliningStopsAndAsksForRset) {
  ClientTransaction t(ext(false, false), "s@h", {"a@x"}, 7, false);
  auto wire = run(t, {"250 ok", "450 busy"});
  EXPECT_EQ(t.results()[0].outcome, Outcome::deferred);
  EXPECT_TRUE(t.rset_needed());
}

TEST(ClientTransaction, PipelinedNoValidRecipientThen354SendsOnlyTheDot) {
  // RFC 2920 3.1: a server may answer 354 although it refused every RCPT.
  ClientTransaction t(ext(true, false), "s@h", {"a@x"}, 7, false);
  auto wire = run(t, {"250 ok", "550 no", "354 go", "250 empty"});
  EXPECT_EQ(wire, "MAIL FROM:<s@h> SIZE=7 BODY=8BITMIME\r\nRCPT TO:<a@x>\r\nDATA\r\n|.\r\n|");
  EXPECT_EQ(t.results()[0].outcome, Outcome::failed);
}

TEST(ClientTransaction, MailRefusedFailsEveryone) {
  ClientTransaction t(ext(true, false), "s@h", {"a@x", "b@x"}, 7, false);
  run(t, {"552 5.3.4 too big", "503 no", "503 no", "503 no"});
  EXPECT_EQ(t.results()[0].outcome, Outcome::failed);
  EXPECT_EQ(t.results()[1].reply, "552 5.3.4 too big");
}

TEST(ClientTransaction, DataRefusedDefersAcceptedOnly) {
  ClientTransaction t(ext(true, false), "s@h", {"a@x", "b@x"}, 7, false);
  run(t, {"250 ok", "250 ok", "550 no", "451 4.3.0 try later"});
  EXPECT_EQ(t.results()[0].outcome, Outcome::deferred);
  EXPECT_EQ(t.results()[0].reply, "451 4.3.0 try later");
  EXPECT_EQ(t.results()[1].outcome, Outcome::failed);
  EXPECT_TRUE(t.rset_needed());
}

TEST(ClientTransaction, FinalReply5xxFailsAccepted) {
  ClientTransaction t(ext(true, false), "s@h", {"a@x"}, 7, false);
  run(t, {"250 ok", "250 ok", "354 go", "554 5.7.1 spam"});
  EXPECT_EQ(t.results()[0].outcome, Outcome::failed);
}

TEST(ClientTransaction, Reply421EndsAndMarksConnectionUnusable) {
  ClientTransaction t(ext(true, false), "s@h", {"a@x", "b@x"}, 7, false);
  run(t, {"250 ok", "421 4.3.2 shutting down"});
  EXPECT_FALSE(t.connection_usable());
  EXPECT_EQ(t.results()[0].outcome, Outcome::deferred);
  EXPECT_EQ(t.results()[1].reply, "421 4.3.2 shutting down");
}

TEST(ClientTransaction, LostConnectionDefersWholeTransactionKeepingFinalRefusals) {
  ClientTransaction t(ext(true, false), "s@h", {"a@x", "b@x"}, 7, false);
  t.start();
  t.on_reply(reply("250 ok\r\n"));
  t.on_reply(reply("550 no\r\n"));
  t.fail_all("451 lost");
  EXPECT_EQ(t.results()[0].outcome, Outcome::failed);
  EXPECT_EQ(t.results()[1].outcome, Outcome::deferred);
  EXPECT_EQ(t.results()[1].reply, "451 lost");
}

TEST(ClientTransaction, SizeAndUtf8Limits) {
  auto e = ext(true, false);
  e.size = 10;
  ClientTransaction big(e, "s@h", {"a@x"}, 11, false);
  EXPECT_EQ(big.start(), ClientTransaction::Step::done);
  EXPECT_EQ(big.results()[0].outcome, Outcome::failed);
  ClientTransaction utf8(ext(true, false), "s@h", {"\xc3\xb1@x"}, 5, true);
  EXPECT_EQ(utf8.start(), ClientTransaction::Step::done);
  EXPECT_EQ(utf8.results()[0].reply.substr(0, 3), "553");
  e = ext(true, false);
  e.smtputf8 = true;
  ClientTransaction ok(e, "s@h", {"\xc3\xb1@x"}, 5, true);
  ASSERT_EQ(ok.start(), ClientTransaction::Step::write_commands);
  EXPECT_NE(ok.commands().find(" SMTPUTF8\r\n"), std::string::npos);
}

TEST(ClientTransaction, MalformedReplyDropsConnection) {
  ClientTransaction t(ext(true, false), "s@h", {"a@x"}, 7, false);
  t.start();
  ReplyParser p;
  p.feed("hello\r\n");
  EXPECT_EQ(t.on_reply(*p.next()), ClientTransaction::Step::done);
  EXPECT_FALSE(t.connection_usable());
}

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\0u\0p", 4)), "AHUAcA==");
}

struct WireRow {
  const char* name;
  std::string in, data, bdat;
};

void PrintTo(const WireRow& r, std::ostream* os) {
  *os << r.name;
}

class Wire : public ::testing::TestWithParam<WireRow> {};

TEST_P(Wire, WholeAndSplitAtEveryOffset) {
  auto& row = GetParam();
  EXPECT_EQ(render_data(row.in), row.data);
  EXPECT_EQ(render_bdat(row.in), row.bdat);
  for (std::size_t k = 0; k <= row.in.size(); ++k) {
    for (bool stuff : {true, false}) {
      std::string out;
      WireEncoder e(stuff);
      e.feed(row.in.substr(0, k), out);
      e.feed(row.in.substr(k), out);
      e.finish(out);
      EXPECT_EQ(out, stuff ? row.data : row.bdat) << "split at " << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, Wire,
    ::testing::Values(WireRow{"lf", "a\nb\n", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
                      WireRow{"crlf_kept", "a\r\nb\r\n", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
                      WireRow{"no_final_eol", "a\nb", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
                      WireRow{"dot_lines", ".\n..x\nb.c\n.", "..\r\n...x\r\nb.c\r\n..\r\n.\r\n",
                              ".\r\n..x\r\nb.c\r\n.\r\n"},
                      WireRow{"leading_dot", ".hidden\n", "..hidden\r\n.\r\n", ".hidden\r\n"},
                      WireRow{"lone_cr", "a\rb\n", "a\rb\r\n.\r\n", "a\rb\r\n"},
                      WireRow{"trailing_cr", "a\r", "a\r\n.\r\n", "a\r\n"}, WireRow{"empty", "", ".\r\n", ""},
                      WireRow{"blank_lines", "\n\n.\n", "\r\n\r\n..\r\n.\r\n", "\r\n\r\n.\r\n"},
                      WireRow{"dot_after_crlf", "x\r\n.y\r\n", "x\r\n..y\r\n.\r\n", "x\r\n.y\r\n"}),
    [](const auto& info) { return info.param.name; });
