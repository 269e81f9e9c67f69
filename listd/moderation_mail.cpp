// moderation_mail.cpp - see moderation_mail.hpp.
#include "listd/moderation_mail.hpp"

#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "listd/log.hpp"
#include "listd/moderation.hpp"
#include "listd/password.hpp"
#include "listd/subscription.hpp"

#include "listd/text.hpp"

namespace listd {
namespace {

std::vector<std::string> moderators(SQLite::Database& db, const ListRow& list) {
  Store store(db);
  std::vector<std::string> to;
  for (auto* role : {"owner", "moderator"})
    for (auto& m : store.members(list, role))
      if (std::find(to.begin(), to.end(), m.email) == to.end()) to.push_back(m.email);
  return to;
}

// The moderator's answer: (verb, rest) from the Subject, else the first real body line.
std::pair<std::string, std::string> decision_of(const MessageInfo& info) {
  auto parse = [](std::string line) -> std::pair<std::string, std::string> {
    line = trim(line);
    std::string l = lower(line);
    for (std::string_view p : {"re:", "aw:", "sv:", "antw:"})
      while (l.rfind(p, 0) == 0) {
        line = trim(line.substr(p.size()));
        l = lower(line);
      }
    auto sp = line.find_first_of(" \t");
    std::string verb = lower(line.substr(0, sp));
    std::string rest = sp == std::string::npos ? "" : trim(line.substr(sp));
    if (verb == "approve" || verb == "approved" || verb == "reject" || verb == "discard" || verb == "defer")
      return {verb == "approved" ? "approve" : verb, rest};
    return {};
  };
  if (auto d = parse(info.subject); !d.first.empty()) return d;
  std::istringstream in(info.first_text);
  std::string line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t.front() == '>') continue;
    return parse(t);  // only the first real line counts
  }
  return {};
}

}  // namespace

void notify_held(const Config& cfg, SQLite::Database& db, const Templates& templates, const ListRow& list,
                 std::int64_t held_id, const std::string& sender, const std::string& subject,
                 const std::string& reason) {
  Subscriptions subs(cfg, db, templates);
  for (auto& to : moderators(db, list)) {
    // One token per moderator, bound to them: a leaked notice only lets its own reader act.
    std::string token =
        subs.create_token("moderate", &list, to, std::to_string(held_id), static_cast<std::int64_t>(cfg.tokens_ttl));
    std::string confirm = list.name + "-confirm+" + token + "@" + list.host;
    TemplateVars vars{{"list_address", list.address()},
                      {"sender", sender.empty() ? "<>" : sender},
                      {"subject", subject},
                      {"reason", reason},
                      {"confirm_address", confirm},
                      {"list_url", cfg.base_url + "/lists/" + list.address() + "/held"}};
    std::string body = templates.render("mail/held-notice.txt", vars);
    queue_notice(cfg, db, list, to,
                 compose_notice(list, "owner", to,
                                list.name + " post from " + (sender.empty() ? "<>" : sender) +
                                    " requires approval (confirm " + token + ")",
                                body, confirm));
  }
}

CommandOutcome handle_moderation_reply(const Config& cfg, SQLite::Database& db, const Templates& templates,
                                       const ListRow& list, const std::string& token, const MessageInfo& info,
                                       const std::string& requester) {
  Subscriptions subs(cfg, db, templates);
  auto peek = subs.token_info(token);
  if (!peek || peek->action != "moderate") return {"silent", "not a moderation token"};
  // The token was issued to one moderator; only that person may use it, and only while they
  // still own or moderate the list.
  Store store(db);
  bool allowed = peek->address == requester &&
                 (store.membership(list, requester, "owner") || store.membership(list, requester, "moderator"));
  if (!allowed) {
    log_event(LogLevel::warn, "moderation-refused", {{"list", list.address()}, {"requester", requester}});
    return {"silent", "moderation reply from " + requester + ", who may not moderate with this token"};
  }
  auto [verb, rest] = decision_of(info);
  if (verb == "defer") return {"answered", "deferred"};
  auto t = subs.consume_token(token);
  if (!t) return {"silent", "token expired meanwhile"};
  Moderation mod(cfg, db, templates);
  std::int64_t held_id = std::stoll(t->payload);
  ModResult r = verb == "approve"  ? mod.approve(list, held_id)
                : verb == "reject" ? mod.reject(list, held_id, rest.empty() ? "rejected by the moderator" : rest)
                                   : mod.discard(list, held_id);
  log_event(LogLevel::info, "moderation-reply",
            {{"list", list.address()},
             {"moderator", requester},
             {"action", verb.empty() ? "discard" : verb},
             {"result", r.detail}});
  return {"answered", r.detail};
}

bool approved_by_password(SQLite::Database& db, const ListRow& list, const std::string& password) {
  std::string pw = trim(password);
  if (pw.empty()) return false;
  SQLite::Statement q(db,
                      "SELECT DISTINCT p.password_hash FROM memberships m JOIN people p ON p.id = m.person_id WHERE "
                      "m.list_id = ? AND m.role IN ('owner', 'moderator') AND p.password_hash IS NOT NULL");
  q.bind(1, list.id);
  while (q.executeStep())
    if (verify_password(pw, q.getColumn(0).getString())) return true;
  return false;
}

std::string strip_fields(std::string_view raw, const std::vector<std::string>& names) {
  std::string out;
  out.reserve(raw.size());
  std::size_t pos = 0;
  bool dropping = false;
  while (pos < raw.size()) {
    auto nl = raw.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? raw.size() : nl + 1;
    std::string_view line = raw.substr(pos, end - pos);
    if (line == "\n" || line == "\r\n") {  // end of the header block: the rest as is
      out.append(raw.substr(pos));
      return out;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (!dropping) out.append(line);
    } else {
      auto colon = line.find(':');
      std::string name = lower(trim(line.substr(0, colon == std::string_view::npos ? 0 : colon)));
      dropping = std::find(names.begin(), names.end(), name) != names.end();
      if (!dropping) out.append(line);
    }
    pos = end;
  }
  return out;
}

}  // namespace listd
