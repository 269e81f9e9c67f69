// commands_test.cpp - email command parsing and RFC 3834 loop safety (pure functions).
#include <gtest/gtest.h>

#include "listd/commands.hpp"

using namespace listd;

namespace {
std::vector<std::string> verbs(const ParsedCommands& p) {
  std::vector<std::string> v;
  for (auto& c : p.commands) v.push_back(c.verb + (c.args.empty() ? "" : " " + c.args[0]));
  return v;
}
const std::string kTok = "0123456789abcdef0123456789abcdef";
}  // namespace

TEST(Commands, SubjectAndBody) {
  auto p = parse_commands("subscribe", "help\ninfo\n");
  EXPECT_EQ(verbs(p), (std::vector<std::string>{"subscribe", "help", "info"}));
}

TEST(Commands, AliasesAndCase) {
  auto p = parse_commands("", "JOIN\nLeave\nremove\n");
  EXPECT_EQ(verbs(p), (std::vector<std::string>{"subscribe", "unsubscribe"}));  // duplicates run once
}

TEST(Commands, StopsAtEndAndSignature) {
  EXPECT_EQ(verbs(parse_commands("", "help\nend\ninfo\n")), (std::vector<std::string>{"help"}));
  EXPECT_EQ(verbs(parse_commands("", "help\n-- \nsubscribe\n")), (std::vector<std::string>{"help"}));
}

TEST(Commands, QuotedLinesIgnored) {
  auto p = parse_commands("", "> subscribe\n> unsubscribe\nhelp\n");
  EXPECT_EQ(verbs(p), (std::vector<std::string>{"help"}));
  EXPECT_TRUE(p.unrecognised.empty());
}

TEST(Commands, StopsAfterFiveUnrecognisedLines) {
  auto p = parse_commands("", "a\nb\nc\nd\ne\nhelp\n");
  EXPECT_TRUE(p.commands.empty());
  EXPECT_EQ(p.unrecognised.size(), 5u);
}

TEST(Commands, ConfirmInReplySubject) {
  auto p = parse_commands("Re: Confirm subscription to mi_lista@lists.mired.org (confirm " + kTok + ")", "");
  EXPECT_EQ(verbs(p), (std::vector<std::string>{"confirm " + kTok}));
  auto q = parse_commands("", "confirm " + kTok + "\n");
  EXPECT_EQ(verbs(q), (std::vector<std::string>{"confirm " + kTok}));
}

TEST(Commands, MalformedCommandsAreNotCommands) {
  auto p = parse_commands("", "confirm nothex\nset digest maybe\nset colour on\nhelp me please\nsubscribe a b c\n");
  EXPECT_TRUE(p.commands.empty());
  EXPECT_EQ(p.unrecognised.size(), 5u);
}

TEST(Commands, SetAndWho) {
  auto p = parse_commands("", "set digest on\nset nomail off\nwho\n");
  ASSERT_EQ(p.commands.size(), 3u);
  EXPECT_EQ(p.commands[0].args, (std::vector<std::string>{"digest", "on"}));
  EXPECT_EQ(p.commands[2].verb, "who");
}

TEST(Commands, AtMostTenCommands) {
  std::string body;
  for (int i = 0; i < 30; ++i) body += "subscribe user" + std::to_string(i) + "@example.org\n";
  EXPECT_EQ(parse_commands("", body).commands.size(), static_cast<std::size_t>(kMaxCommands));
}

TEST(Commands, LoopSafety) {
  MessageInfo m;
  const std::string id = "mi_lista.lists.mired.org", addr = "mi_lista@lists.mired.org";
  EXPECT_EQ(must_not_answer(m, "carol@example.org", id, addr), "");
  EXPECT_NE(must_not_answer(m, "", id, addr), "");
  EXPECT_NE(must_not_answer(m, "MAILER-DAEMON@example.org", id, addr), "");
  EXPECT_NE(must_not_answer(m, "other-bounces@lists.example.org", id, addr), "");
  m.auto_submitted = "auto-replied";
  EXPECT_NE(must_not_answer(m, "carol@example.org", id, addr), "");
  m.auto_submitted = "no";
  EXPECT_EQ(must_not_answer(m, "carol@example.org", id, addr), "");
  m.precedence = "bulk";
  EXPECT_NE(must_not_answer(m, "carol@example.org", id, addr), "");
  m.precedence = "";
  m.list_ids = {"mi_lista.lists.mired.org"};
  EXPECT_NE(must_not_answer(m, "carol@example.org", id, addr), "");
}
