// commands.cpp - see commands.hpp.
#include "listd/commands.hpp"

#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "listd/db.hpp"
#include "listd/log.hpp"
#include "listd/moderation_mail.hpp"
#include "listd/subscription.hpp"
#include "smtp/address.hpp"

#include "listd/text.hpp"

namespace listd {
namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool is_token(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// parse_line - one command line, or verb "" if not a command.
Command parse_line(const std::string& line) {
  Command c;
  c.line = line;
  auto w = words(line);
  if (w.empty()) return c;
  std::string verb = lower(w[0]);
  if (verb == "join") verb = "subscribe";
  if (verb == "leave" || verb == "remove") verb = "unsubscribe";
  static const char* known[] = {"subscribe", "unsubscribe", "confirm", "help", "info", "who", "set", "end"};
  bool ok = false;
  for (auto* k : known) ok = ok || verb == k;
  if (!ok) return c;
  if (verb == "confirm" && (w.size() != 2 || !is_token(lower(w[1])))) return c;
  if (verb == "set" && (w.size() != 3 || (lower(w[1]) != "digest" && lower(w[1]) != "nomail") ||
                        (lower(w[2]) != "on" && lower(w[2]) != "off")))
    return c;
  if ((verb == "help" || verb == "info" || verb == "who" || verb == "end") && w.size() > 1) return c;
  if ((verb == "subscribe" || verb == "unsubscribe") && w.size() > 2) return c;
  c.verb = verb;
  c.args.assign(w.begin() + 1, w.end());
  return c;
}

}  // namespace

ParsedCommands parse_commands(std::string_view subject, std::string_view body) {
  ParsedCommands out;
  auto add = [&](Command c) {
    if (static_cast<int>(out.commands.size()) >= kMaxCommands) return;
    for (auto& prev : out.commands)
      if (prev.verb == c.verb && prev.args == c.args) return;  // the same command twice runs once
    out.commands.push_back(std::move(c));
  };
  // Subject: a whole-line command, or "(confirm TOKEN)" inside a reply's subject.
  std::string subj = trim(subject);
  auto lsubj = lower(subj);
  for (std::string_view prefix : {"re:", "aw:", "sv:", "antw:"}) {
    while (lsubj.rfind(prefix, 0) == 0) {
      lsubj = trim(lsubj.substr(prefix.size()));
      subj = trim(std::string_view(subj).substr(subj.size() - lsubj.size()));
    }
  }
  if (auto c = parse_line(subj); !c.verb.empty() && c.verb != "end") {
    add(c);
  } else {
    for (auto pos = lsubj.find("confirm "); pos != std::string::npos; pos = lsubj.find("confirm ", pos + 1)) {
      auto w = words(lsubj.substr(pos + 8));
      if (w.empty()) continue;
      std::string tok = w[0];
      tok.erase(std::remove(tok.begin(), tok.end(), ')'), tok.end());
      if (is_token(tok)) {
        add(Command{"confirm", {tok}, "confirm " + tok});
        break;
      }
    }
  }
  std::istringstream in{std::string(body)};
  std::string raw;
  while (std::getline(in, raw)) {
    if (raw == "-- " || raw == "--" || raw == "-- \r") break;  // signature separator
    std::string line = trim(raw);
    if (line.empty() || line.front() == '>') continue;
    auto c = parse_line(line);
    if (c.verb == "end") break;
    if (c.verb.empty()) {
      out.unrecognised.push_back(line);
      if (static_cast<int>(out.unrecognised.size()) >= kMaxUnrecognised) break;
      continue;
    }
    add(c);
  }
  return out;
}

std::string must_not_answer(const MessageInfo& info, const std::string& envelope_sender, const std::string& list_id,
                            const std::string& list_address) {
  if (envelope_sender.empty()) return "null envelope sender";
  if (!info.auto_submitted.empty() && info.auto_submitted != "no") return "Auto-Submitted: " + info.auto_submitted;
  if (info.precedence == "bulk" || info.precedence == "list" || info.precedence == "junk")
    return "Precedence: " + info.precedence;
  for (auto& id : info.list_ids)
    if (lower(id) == list_id) return "our own List-Id";
  for (auto& b : info.been_there)
    if (b == list_address) return "our own X-BeenThere";
  std::string local = lower(envelope_sender.substr(0, envelope_sender.find('@')));
  for (std::string_view robot : {"mailer-daemon", "postmaster", "listserv", "majordomo"})
    if (local == robot) return "sender is " + std::string(robot);
  for (std::string_view suffix : {"-request", "-owner", "-bounces", "-confirm"})
    if (local.size() > suffix.size() && local.find(suffix) != std::string::npos) return "sender is a list robot";
  return {};
}

namespace {

bool reply_allowed(SQLite::Database& db, const ListRow& list, const std::string& address) {
  return autoreply_sent_today(db, list, address, "reply") < kRepliesPerAddressPerDay;
}

void log_reply(SQLite::Database& db, const ListRow& list, const std::string& address) {
  autoreply_record(db, list, address, "reply");
}

TemplateVars list_vars(const Config& cfg, const ListRow& list) {
  return {{"list_name", list.name},
          {"list_host", list.host},
          {"list_address", list.address()},
          {"description", list.settings.description},
          {"list_url", cfg.base_url + "/lists/" + list.address()}};
}

}  // namespace

CommandOutcome handle_command_mail(const Config& cfg, SQLite::Database& db, const Templates& templates,
                                   const ListRow& list, const Route& route, const MessageInfo& info,
                                   const std::string& envelope_sender) {
  const std::string list_id = list.name + "." + list.host;
  if (auto why = must_not_answer(info, envelope_sender, list_id, list.address()); !why.empty()) {
    log_event(LogLevel::info, "command-ignored", {{"list", list.address()}, {"reason", why}});
    return {"silent", why};
  }
  // Who is asking: the From: address (what a person sees as "me"), else the envelope sender.
  std::string requester = smtp::normalize_address(info.from_address).value_or("");
  if (requester.empty()) requester = smtp::normalize_address(envelope_sender).value_or("");
  if (requester.empty()) return {"silent", "no valid requester address"};

  Subscriptions subs(cfg, db, templates);
  if (route.role == Role::confirm) {
    if (auto peek = subs.token_info(lower(route.detail)); peek && peek->action == "moderate")
      return handle_moderation_reply(cfg, db, templates, list, lower(route.detail), info, requester);
  }
  // The shortcut addresses act without reading the body.
  if (route.role == Role::join || route.role == Role::leave || route.role == Role::confirm) {
    SubResult r = route.role == Role::join    ? subs.request_subscribe(list, requester, "email")
                  : route.role == Role::leave ? subs.request_unsubscribe(list, requester, "email")
                                              : subs.confirm(lower(route.detail), &list);
    log_event(LogLevel::info, "command",
              {{"list", list.address()},
               {"role", to_string(route.role)},
               {"requester", requester},
               {"result", to_string(r.status)}});
    // A confirmation mail, welcome or goodbye already says what happened; only failures
    // that produced no mail get a reply.
    if (r.status != SubStatus::invalid_token && r.status != SubStatus::already_member) return {"answered", r.detail};
    if (!reply_allowed(db, list, requester)) return {"silent", "reply rate limit"};
    std::string body = "> " + std::string(to_string(route.role)) + "\n" + r.detail + "\n";
    auto vars = list_vars(cfg, list);
    vars["results"] = "\n" + body;
    queue_notice(cfg, db, list, requester,
                 compose_notice(list, "request", requester, "The results of your email command",
                                templates.render("mail/command-results.txt", vars)));
    log_reply(db, list, requester);
    return {"answered", r.detail};
  }

  ParsedCommands parsed = parse_commands(info.subject, info.first_text);
  std::string results;
  Store store(db);
  auto say = [&](const Command& c, const std::string& text) { results += "\n> " + c.line + "\n" + text + "\n"; };
  for (auto& c : parsed.commands) {
    if (c.verb == "subscribe" || c.verb == "unsubscribe") {
      // An address argument may name someone else: they get the confirmation, never a
      // direct subscription (no third-party subscriptions without consent).
      std::string target = c.args.empty() ? requester : c.args[0];
      auto r = c.verb == "subscribe" ? subs.request_subscribe(list, target, "email")
                                     : subs.request_unsubscribe(list, target, "email");
      say(c, r.detail + ".");
    } else if (c.verb == "confirm") {
      auto r = subs.confirm(lower(c.args[0]), &list);
      say(c, r.detail + ".");
    } else if (c.verb == "help") {
      say(c, templates.render("mail/help.txt", list_vars(cfg, list)));
    } else if (c.verb == "info") {
      std::string text = list.address();
      if (!list.settings.description.empty()) text += " - " + list.settings.description;
      text += "\nPosts go to " + list.address() + "; the list has " + std::to_string(store.count_members(list)) +
              " members.\nSubscription policy: " + list.settings.subscribe_policy + ".";
      say(c, text);
    } else if (c.verb == "who") {
      const auto& roster = list.settings.roster;
      bool allowed = roster == "anyone" || (roster == "members" && store.membership(list, requester));
      if (!allowed) {
        say(c, "The member list of " + list.address() + " is not available by email.");
      } else {
        std::string text;
        for (auto& m : store.members(list, "member")) text += m.email + "\n";
        say(c, text.empty() ? "No members." : text);
      }
    } else if (c.verb == "set") {
      // Changing delivery could be forged: it takes a confirmation like subscribing does.
      if (!store.membership(list, requester)) {
        say(c, requester + " is not a member of " + list.address() + ".");
        continue;
      }
      std::string payload = lower(c.args[0]) + "=" + lower(c.args[1]);
      std::string token =
          subs.create_token("set", &list, requester, payload, static_cast<std::int64_t>(cfg.tokens_ttl));
      auto vars = list_vars(cfg, list);
      vars["action"] = "set " + lower(c.args[0]) + " " + lower(c.args[1]) + " for";
      vars["address"] = requester;
      vars["token"] = token;
      vars["confirm_address"] = list.name + "-confirm+" + token + "@" + list.host;
      vars["confirm_url"] = cfg.base_url + "/confirm/" + token;
      vars["ttl_days"] = std::to_string(cfg.tokens_ttl / 86400);
      queue_notice(cfg, db, list, requester,
                   compose_notice(
                       list, "request", requester,
                       "Confirm: set " + lower(c.args[0]) + " " + lower(c.args[1]) + " (confirm " + token + ")",
                       templates.render("mail/confirm.txt", vars), list.name + "-confirm+" + token + "@" + list.host));
      say(c, "A confirmation request was sent to " + requester + ".");
    }
  }
  if (parsed.commands.empty()) results += "\nNo commands found. Send \"help\" for the list of commands.\n";
  if (!parsed.unrecognised.empty())
    results += "\nIgnored " + std::to_string(parsed.unrecognised.size()) + " line(s) that are not commands.\n";
  log_event(LogLevel::info, "commands",
            {{"list", list.address()}, {"requester", requester}, {"count", std::to_string(parsed.commands.size())}});
  if (!reply_allowed(db, list, requester)) return {"silent", "reply rate limit"};
  auto vars = list_vars(cfg, list);
  vars["results"] = results;
  queue_notice(cfg, db, list, requester,
               compose_notice(list, "request", requester, "The results of your email commands",
                              templates.render("mail/command-results.txt", vars)));
  log_reply(db, list, requester);
  return {"answered", std::to_string(parsed.commands.size()) + " command(s)"};
}

}  // namespace listd
