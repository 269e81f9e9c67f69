// smtp_parser_test.cpp - the pure SMTP parsers: command line framing, command and path
// parsing, ESMTP numbers, and the DATA/BDAT content reader (dot-unstuffing, the only valid
// terminator, the SMTP smuggling sequences of SECURITY S-01). Every DataReader case is fed
// whole, byte by byte and split at every offset, and must give the same result each way.
#include <gtest/gtest.h>

#include "smtp/command_parser.hpp"
#include "smtp/data_reader.hpp"

using namespace smtp;

TEST(SmtpCommandLine, FramesOnlyAtCrlf) {
  auto s = next_command_line("NOOP\r\nQUIT\r\n", 512);
  EXPECT_EQ(s.status, LineStatus::line);
  EXPECT_EQ(s.line, "NOOP");
  EXPECT_EQ(s.consumed, 6u);
  EXPECT_EQ(next_command_line("NOOP", 512).status, LineStatus::need_more);
  EXPECT_EQ(next_command_line("NOOP\r", 512).status, LineStatus::need_more);
  auto lf = next_command_line("NOOP\nQUIT\r\n", 512);
  EXPECT_EQ(lf.status, LineStatus::bare_lf);
  EXPECT_EQ(lf.consumed, 5u);
  // A bare CR does not end the line: it stays inside (and parse_command refuses it).
  auto cr = next_command_line("MAIL FROM:<a@sink.test>\rRCPT TO:<x@y>\r\n", 512);
  EXPECT_EQ(cr.status, LineStatus::line);
  EXPECT_EQ(cr.line, "MAIL FROM:<a@sink.test>\rRCPT TO:<x@y>");
}

TEST(SmtpCommandLine, LengthLimitIncludesCrlf) {
  std::string at(510, 'A');
  EXPECT_EQ(next_command_line(at + "\r\n", 512).status, LineStatus::line);
  std::string over(511, 'A');
  auto s = next_command_line(over + "\r\n", 512);
  EXPECT_EQ(s.status, LineStatus::too_long);
  EXPECT_EQ(s.consumed, 513u);
  EXPECT_EQ(next_command_line(std::string(512, 'A'), 512).status, LineStatus::too_long);
  EXPECT_EQ(next_command_line(std::string(511, 'A'), 512).status, LineStatus::need_more);
}

TEST(SmtpCommand, VerbArgAndRefusedBytes) {
  Reply err;
  auto c = parse_command("mail FROM:<a@b.test> SIZE=10", &err);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->verb, "MAIL");
  EXPECT_EQ(c->arg, "FROM:<a@b.test> SIZE=10");
  EXPECT_FALSE(parse_command(std::string("MAIL FROM:<a@x\0@evil>", 22), &err));
  EXPECT_EQ(err.first_line(), "501 5.5.2 NUL byte in command");
  EXPECT_FALSE(parse_command("MAIL FROM:<a@sink.test>\rRCPT TO:<x@y>", &err));
  EXPECT_EQ(err.first_line(), "501 5.5.4 Bare CR in command");
}

TEST(SmtpPath, BracketsRoutesParams) {
  Reply err;
  auto p = parse_mail_rcpt("FROM:<ana@mired.org> SIZE=100 BODY=8BITMIME", "FROM:", &err);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address, "ana@mired.org");
  ASSERT_EQ(p->params.size(), 2u);
  EXPECT_EQ(p->params[0], (std::pair<std::string, std::string>{"SIZE", "100"}));
  EXPECT_EQ(p->params[1], (std::pair<std::string, std::string>{"BODY", "8BITMIME"}));
  EXPECT_EQ(parse_mail_rcpt("from: <>", "FROM:", &err)->address, "");
  EXPECT_EQ(parse_mail_rcpt("TO:<@lists.mired.org,@b.test:user@evil.test>", "TO:", &err)->address, "user@evil.test");
  EXPECT_EQ(parse_mail_rcpt("TO:<\"a>b\"@x.test>", "TO:", &err)->address, "\"a>b\"@x.test");
  for (const char* bad : {"TO:a@b.test", "TO:<a@b.test", "TO:<a@b.test>X", "TO<a@b.test>", "TO:<@x.test>", "TO:<@x:>"})
    EXPECT_FALSE(parse_mail_rcpt(bad, "TO:", &err)) << bad;
}

TEST(SmtpNumber, NoOverflowNoSigns) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615ull);
  for (const char* bad :
       {"", "abc", "-1", "+5", "18446744073709551616", "99999999999999999999", "1 ", "123456789012345678901"})
    EXPECT_FALSE(parse_size(bad)) << bad;
}

namespace {

struct DataCase {
  const char* name;
  std::string input;
  std::string content;  // expected content (up to the limit)
  DataProblem problem;
  std::size_t consumed;  // npos = all; the rest is the next command
};

struct DataOut {
  std::string content;
  DataProblem problem;
  std::size_t consumed;
  bool done;
};

DataOut run_split(const std::string& in, std::size_t split, DataLimits lim) {
  DataReader r(DataReader::Mode::dot, lim);
  DataOut o{};
  std::size_t used = r.feed(std::string_view(in).substr(0, split), o.content);
  if (!r.done()) used += r.feed(std::string_view(in).substr(split), o.content);
  o.problem = r.problem();
  o.consumed = used;
  o.done = r.done();
  return o;
}

DataOut run_bytes(const std::string& in, DataLimits lim) {
  DataReader r(DataReader::Mode::dot, lim);
  DataOut o{};
  std::size_t used = 0;
  for (std::size_t i = 0; i < in.size() && !r.done(); ++i) used += r.feed(std::string_view(in).substr(i, 1), o.content);
  o.problem = r.problem();
  o.consumed = used;
  o.done = r.done();
  return o;
}

const std::string kHead = "Subject: x\r\n\r\n";

}  // namespace

TEST(SmtpDataReader, TableWholeByteByByteAndEverySplit) {
  std::string S = "\r\n.\r\nMAIL FROM:<evil@x.test>\r\n";  // what a smuggler appends
  std::vector<DataCase> cases = {
      {"plain", kHead + "hi\r\n.\r\n", kHead + "hi\r\n", DataProblem::none, std::string::npos},
      {"unstuff", kHead + "..dot\r\n...\r\n.\r\n", kHead + ".dot\r\n..\r\n", DataProblem::none, std::string::npos},
      {"next command stays", kHead + "a\r\n.\r\nQUIT\r\n", kHead + "a\r\n", DataProblem::none, kHead.size() + 6},
      {"empty message", ".\r\n", "", DataProblem::no_header, 3},
      {"no header", "hello world\r\n.\r\n", "hello world\r\n", DataProblem::no_header, std::string::npos},
      {"8bit kept", kHead + "caf\xc3\xa9 \xff\r\n.\r\n", kHead + "caf\xc3\xa9 \xff\r\n", DataProblem::none,
       std::string::npos},
      {"nul", kHead + std::string("a\0b\r\n.\r\n", 8), kHead + std::string("a\0b\r\n", 5), DataProblem::nul,
       std::string::npos},
  };
  // SECURITY S-01: none of these ends the data; each is content and flags the message.
  struct Smuggle {
    const char* name;
    std::string seq;
    DataProblem p;
  };
  std::vector<Smuggle> smuggles = {
      {"\\n.\\n", "\n.\n", DataProblem::bare_lf},
      {"\\n.\\r", "\n.\r", DataProblem::bare_lf},
      {"\\r.\\n", "\r.\n", DataProblem::bare_cr},
      {"\\r.\\r", "\r.\r", DataProblem::bare_cr},
      {"\\n.\\r\\n", "\n.\r\n", DataProblem::bare_lf},
      {"\\r.\\r\\n", "\r.\r\n", DataProblem::bare_cr},
      {"\\r\\n\\0.\\r\\n", std::string("\r\n\0.\r\n", 6), DataProblem::nul},
      {"\\r\\n.\\r\\r\\n", "\r\n.\r\r\n", DataProblem::bare_cr},
      {"\\r\\r\\n.\\r\\r\\n", "\r\r\n.\r\r\n", DataProblem::bare_cr},
  };
  for (auto& sm : smuggles) {
    std::string body = kHead + "x" + sm.seq + "MAIL FROM:<evil@x.test>\r\nmore";
    DataCase c{sm.name, body + S, "", sm.p, std::string::npos};
    // Expected content: everything up to the real terminator, unstuffed.
    DataReader ref(DataReader::Mode::dot, DataLimits{});
    std::size_t used = ref.feed(c.input, c.content);
    ASSERT_TRUE(ref.done()) << sm.name;
    EXPECT_EQ(used, body.size() + 5) << sm.name << ": ended early";
    EXPECT_NE(c.content.find("MAIL FROM:<evil@x.test>"), std::string::npos) << sm.name;
    c.consumed = used;
    cases.push_back(c);
  }
  for (auto& c : cases) {
    std::size_t want = c.consumed == std::string::npos ? c.input.size() : c.consumed;
    auto whole = run_split(c.input, c.input.size(), DataLimits{});
    EXPECT_TRUE(whole.done) << c.name;
    EXPECT_EQ(whole.content, c.content) << c.name;
    EXPECT_EQ(whole.problem, c.problem) << c.name << ": " << to_string(whole.problem);
    EXPECT_EQ(whole.consumed, want) << c.name;
    auto bytes = run_bytes(c.input, DataLimits{});
    EXPECT_EQ(bytes.content, c.content) << c.name << " byte by byte";
    EXPECT_EQ(bytes.problem, c.problem) << c.name << " byte by byte";
    EXPECT_EQ(bytes.consumed, want) << c.name << " byte by byte";
    for (std::size_t i = 0; i <= c.input.size(); ++i) {
      auto s = run_split(c.input, i, DataLimits{});
      ASSERT_EQ(s.content, c.content) << c.name << " split at " << i;
      ASSERT_EQ(s.problem, c.problem) << c.name << " split at " << i;
      ASSERT_EQ(s.consumed, want) << c.name << " split at " << i;
    }
  }
}

TEST(SmtpDataReader, LineLimitAtAndPast) {
  DataLimits lim;
  std::string at = kHead + std::string(998, 'a') + "\r\n.\r\n";
  EXPECT_EQ(run_split(at, at.size(), lim).problem, DataProblem::none);
  std::string past = kHead + std::string(999, 'a') + "\r\n.\r\n";
  EXPECT_EQ(run_split(past, past.size(), lim).problem, DataProblem::long_line);
}

TEST(SmtpDataReader, SizeLimitStopsCopyingButReadsToTheEnd) {
  DataLimits lim;
  lim.max_size = kHead.size() + 100;
  std::string at = kHead + std::string(98, 'a') + "\r\n.\r\n";
  auto ok = run_split(at, at.size(), lim);
  EXPECT_EQ(ok.problem, DataProblem::none);
  EXPECT_EQ(ok.content.size(), lim.max_size);
  std::string big = kHead;
  for (int i = 0; i < 1000; ++i) big += std::string(60, 'b') + "\r\n";
  big += ".\r\nQUIT\r\n";
  auto o = run_split(big, big.size(), lim);
  EXPECT_EQ(o.problem, DataProblem::too_big);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.consumed, big.size() - 6);
  EXPECT_LE(o.content.size(), lim.max_size);  // memory stays flat
}

TEST(SmtpDataReader, ReceivedLoopLimitCountsHeaderOnly) {
  DataLimits lim;
  lim.max_received = 3;
  std::string two = "Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: in body\r\nReceived: c\r\n.\r\n";
  EXPECT_EQ(run_split(two, two.size(), lim).problem, DataProblem::none);
  std::string three = "Received: a\r\nReceived: b\r\nRECEIVED: c\r\n\r\nx\r\n.\r\n";
  EXPECT_EQ(run_split(three, three.size(), lim).problem, DataProblem::too_many_hops);
}

TEST(SmtpDataReader, ChunkedModeKeepsDotsAndSettlesTrailingCr) {
  DataReader r(DataReader::Mode::chunked, DataLimits{});
  std::string out;
  EXPECT_EQ(r.feed("Subject: x\r\n\r\n.\r\n.line\r", out), 23u);
  EXPECT_FALSE(r.done());
  r.feed("\n", out);
  r.finish(out);
  EXPECT_EQ(out, "Subject: x\r\n\r\n.\r\n.line\r\n");
  EXPECT_EQ(r.problem(), DataProblem::none);
  DataReader t(DataReader::Mode::chunked, DataLimits{});
  std::string o2;
  t.feed("Subject: x\r\n\r\nend\r", o2);
  t.finish(o2);
  EXPECT_EQ(t.problem(), DataProblem::bare_cr);
}

// SECURITY S-05: header caps, each at and past its limit, fed whole, byte by byte and split at
// every offset (the counts must not depend on how the bytes arrive).
TEST(SmtpDataReader, HeaderCapsAtAndPastEveryLimit) {
  DataLimits lim;
  lim.max_header_size = 200;
  lim.max_header_fields = 4;
  lim.max_header_field_size = 60;
  auto field = [](std::size_t total) {  // one "X: aaa..." field of `total` octets with CRLF
    return "X: " + std::string(total - 5, 'a') + "\r\n";
  };
  struct Case {
    const char* name;
    std::string header;
    DataProblem p;
  };
  std::vector<Case> cases = {
      {"4 fields", "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n", DataProblem::none},
      {"5 fields", "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n", DataProblem::too_many_fields},
      {"folded lines count once", "A: 1\r\n 2\r\n\t3\r\n 4\r\n 5\r\nB: 2\r\n", DataProblem::none},
      {"field at 60", field(60), DataProblem::none},
      {"field at 61", field(61), DataProblem::field_too_big},
      {"folded field past 60", "X: " + std::string(30, 'a') + "\r\n " + std::string(30, 'b') + "\r\n",
       DataProblem::field_too_big},
      {"header at 200", field(50) + field(50) + field(50) + field(50), DataProblem::none},
      {"header at 201", field(50) + field(50) + field(50) + field(51), DataProblem::header_too_big},
      // The header ends at a line that is not a field: what follows is body, not counted.
      {"body without empty line", "A: 1\r\nnot a field\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n", DataProblem::none},
  };
  for (auto& c : cases) {
    std::string in = c.header + "\r\n" + std::string(300, 'b') + "\r\nF: 6\r\nG: 7\r\n.\r\n";
    auto whole = run_split(in, in.size(), lim);
    EXPECT_TRUE(whole.done) << c.name;
    EXPECT_EQ(whole.problem, c.p) << c.name << ": " << to_string(whole.problem);
    EXPECT_EQ(run_bytes(in, lim).problem, c.p) << c.name << " byte by byte";
    for (std::size_t i = 0; i <= in.size(); ++i)
      ASSERT_EQ(run_split(in, i, lim).problem, c.p) << c.name << " split at " << i;
  }
}
