// rules.cpp - see rules.hpp.
#include "listd/rules.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <sstream>

#include "listd/text.hpp"

namespace listd {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::accept: return "accept";
    case Verdict::hold: return "hold";
    case Verdict::reject: return "reject";
    case Verdict::discard: return "discard";
  }
  return "accept";
}

namespace {

bool is_command_line(const std::string& line) {
  static constexpr std::array<std::string_view, 9> kCommands = {"subscribe", "unsubscribe", "remove", "help",   "join",
                                                                "leave",     "info",        "who",    "confirm"};
  std::string l = lower(trim(line));
  if (l.empty()) return false;
  std::string first = l.substr(0, l.find_first_of(" \t"));
  for (auto c : kCommands) {
    if (first == c) {
      // "subscribe" alone or with a short argument; a whole sentence is not a command.
      auto words = std::count(l.begin(), l.end(), ' ') + 1;
      return words <= 3;
    }
  }
  if (first == "set" && l.find_first_of(" \t") != std::string::npos) {
    auto words = std::count(l.begin(), l.end(), ' ') + 1;
    return words <= 3;
  }
  return false;
}

Decision decide(Verdict v, const char* rule, std::string reason) {
  return Decision{v, rule, std::move(reason)};
}

}  // namespace

bool looks_like_command(std::string_view subject, std::string_view body) {
  if (is_command_line(std::string(subject))) return true;
  std::istringstream in{std::string(body)};
  std::string line;
  int seen = 0;
  int commands = 0;
  while (std::getline(in, line) && seen < kAdministriviaLines) {
    std::string t = trim(line);
    if (t.empty() || t.front() == '>') continue;
    if (t == "--" || t == "-- ") break;  // signature separator
    ++seen;
    if (is_command_line(t))
      ++commands;
    else
      return false;  // real prose before any command: not administrivia
  }
  return commands > 0;
}

Decision rule_loop(const PostFacts& f) {
  for (auto& id : f.info->list_ids)
    if (lower(id) == f.list_id) return decide(Verdict::discard, "loop", "message already carries our List-Id");
  for (auto& b : f.info->been_there)
    if (b == f.list_address) return decide(Verdict::discard, "loop", "message already carries our X-BeenThere");
  return {};
}

Decision rule_banned(const PostFacts& f) {
  if (f.sender_banned) return decide(Verdict::discard, "banned", "sender " + f.sender + " is banned");
  return {};
}

Decision rule_autoreply(const PostFacts& f) {
  const auto& a = f.info->auto_submitted;
  if (!a.empty() && a != "no")
    return decide(Verdict::hold, "autoreply", "automatic message (Auto-Submitted: " + a + ")");
  return {};
}

Decision rule_emergency(const PostFacts& f) {
  if (f.settings->emergency) return decide(Verdict::hold, "emergency", "the list is in emergency moderation");
  return {};
}

Decision rule_administrivia(const PostFacts& f) {
  if (f.settings->administrivia && looks_like_command(f.info->subject, f.info->first_text))
    return decide(Verdict::hold, "administrivia", "message looks like a command for the -request address");
  return {};
}

Decision rule_size(const PostFacts& f) {
  auto max = f.settings->max_message_size;
  if (max > 0 && f.info->size > max * 1024)
    return decide(Verdict::hold, "size",
                  "message is " + std::to_string(f.info->size / 1024) + " KiB, the list limit is " +
                      std::to_string(max) + " KiB");
  return {};
}

Decision rule_moderated(const PostFacts& f) {
  if (f.sender_is_member && f.sender_moderated)
    return decide(Verdict::hold, "moderated", "posts from " + f.sender + " are moderated");
  return {};
}

Decision rule_nonmember(const PostFacts& f) {
  if (f.sender_is_member || !f.settings->member_only) return {};
  auto action = f.settings->nonmember_action;
  std::string reason = "post by non-member " + (f.sender.empty() ? std::string("<>") : f.sender);
  switch (action) {
    case NonmemberAction::accept: return decide(Verdict::accept, "nonmember", reason);
    case NonmemberAction::reject: return decide(Verdict::reject, "nonmember", reason);
    case NonmemberAction::discard: return decide(Verdict::discard, "nonmember", reason);
    case NonmemberAction::hold: break;
  }
  return decide(Verdict::hold, "nonmember", reason);
}

Decision evaluate_post(const PostFacts& f) {
  using Rule = Decision (*)(const PostFacts&);
  static constexpr std::array<Rule, 8> kRules = {rule_loop,          rule_banned, rule_autoreply, rule_emergency,
                                                 rule_administrivia, rule_size,   rule_moderated, rule_nonmember};
  for (Rule r : kRules) {
    Decision d = r(f);
    if (!d.rule.empty()) return d;
  }
  return {};
}

}  // namespace listd
