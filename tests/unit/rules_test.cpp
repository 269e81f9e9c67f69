// rules_test.cpp - each posting rule alone, then their order in evaluate_post().
#include <gtest/gtest.h>

#include "listd/rules.hpp"

using namespace listd;

namespace {
struct Fixture {
  ListSettings settings;
  MessageInfo info;
  PostFacts facts;
  Fixture() {
    info.subject = "Hola";
    info.first_text = "Hola a todos.\n";
    info.size = 1000;
    facts.list_address = "mi_lista@lists.mired.org";
    facts.list_id = "mi_lista.lists.mired.org";
    facts.settings = &settings;
    facts.info = &info;
    facts.sender = "ana@mired.org";
    facts.sender_is_member = true;
  }
};
}  // namespace

TEST(Rules, MemberPostIsAccepted) {
  Fixture f;
  auto d = evaluate_post(f.facts);
  EXPECT_EQ(d.verdict, Verdict::accept);
  EXPECT_EQ(d.rule, "");
}

TEST(Rules, LoopByListIdIsDiscarded) {
  Fixture f;
  f.info.list_ids = {"mi_lista.lists.mired.org"};
  EXPECT_EQ(rule_loop(f.facts).verdict, Verdict::discard);
  EXPECT_EQ(evaluate_post(f.facts).rule, "loop");
}

TEST(Rules, LoopByBeenThereIsDiscarded) {
  Fixture f;
  f.info.been_there = {"mi_lista@lists.mired.org"};
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::discard);
}

TEST(Rules, OtherListsHeadersAreNoLoop) {
  Fixture f;
  f.info.list_ids = {"otra.example.org"};
  f.info.been_there = {"otra@example.org"};
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::accept);
}

TEST(Rules, BannedIsDiscarded) {
  Fixture f;
  f.facts.sender_banned = true;
  auto d = evaluate_post(f.facts);
  EXPECT_EQ(d.verdict, Verdict::discard);
  EXPECT_EQ(d.rule, "banned");
}

TEST(Rules, EmergencyHoldsEvenMembers) {
  Fixture f;
  f.settings.emergency = true;
  auto d = evaluate_post(f.facts);
  EXPECT_EQ(d.verdict, Verdict::hold);
  EXPECT_EQ(d.rule, "emergency");
}

TEST(Rules, AdministriviaHeld) {
  Fixture f;
  f.info.first_text = "unsubscribe\n";
  auto d = evaluate_post(f.facts);
  EXPECT_EQ(d.verdict, Verdict::hold);
  EXPECT_EQ(d.rule, "administrivia");
  f.settings.administrivia = false;
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::accept);
}

TEST(Rules, LooksLikeCommand) {
  EXPECT_TRUE(looks_like_command("subscribe", ""));
  EXPECT_TRUE(looks_like_command("", "\n\nunsubscribe\n"));
  EXPECT_TRUE(looks_like_command("", "UNSUBSCRIBE me\n-- \nAna\n"));
  EXPECT_TRUE(looks_like_command("", "set digest on\n"));
  EXPECT_FALSE(looks_like_command("Re: how do I subscribe to the other list?", "Hi,\nhow do I subscribe there?\n"));
  EXPECT_FALSE(looks_like_command("", "I want to unsubscribe from this list because it is too noisy\n"));
  EXPECT_FALSE(looks_like_command("", "> unsubscribe\nNo, please don't.\n"));
  EXPECT_FALSE(looks_like_command("Hello", "Hello list,\nsubscribe\n"));
}

TEST(Rules, SizeAtAndOverTheLimit) {
  Fixture f;
  f.settings.max_message_size = 40;  // KiB
  f.info.size = 40 * 1024;
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::accept);
  f.info.size = 40 * 1024 + 1;
  auto d = evaluate_post(f.facts);
  EXPECT_EQ(d.verdict, Verdict::hold);
  EXPECT_EQ(d.rule, "size");
}

TEST(Rules, ModeratedMemberHeld) {
  Fixture f;
  f.facts.sender_moderated = true;
  EXPECT_EQ(evaluate_post(f.facts).rule, "moderated");
}

TEST(Rules, NonmemberActions) {
  Fixture f;
  f.facts.sender_is_member = false;
  f.facts.sender = "eve@example.org";
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::hold);  // the default
  f.settings.nonmember_action = NonmemberAction::reject;
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::reject);
  f.settings.nonmember_action = NonmemberAction::discard;
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::discard);
  f.settings.nonmember_action = NonmemberAction::accept;
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::accept);
  f.settings.nonmember_action = NonmemberAction::hold;
  f.settings.member_only = false;
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::accept);
}

TEST(Rules, OrderLoopBeforeEverythingElse) {
  Fixture f;
  f.info.list_ids = {"mi_lista.lists.mired.org"};
  f.settings.emergency = true;
  f.facts.sender_is_member = false;
  EXPECT_EQ(evaluate_post(f.facts).rule, "loop");
}

TEST(Rules, AutoRepliesAreHeldNotRedistributed) {
  Fixture f;
  f.info.auto_submitted = "auto-replied";
  auto d = evaluate_post(f.facts);
  EXPECT_EQ(d.verdict, Verdict::hold);
  EXPECT_EQ(d.rule, "autoreply");
  f.info.auto_submitted = "no";
  EXPECT_EQ(evaluate_post(f.facts).verdict, Verdict::accept);
}
