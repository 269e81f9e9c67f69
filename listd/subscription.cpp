// subscription.cpp - see subscription.hpp.
#include "listd/subscription.hpp"
#include "listd/db.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <openssl/evp.h>

#include <ctime>

#include "listd/delivery.hpp"
#include "listd/fsutil.hpp"
#include "listd/log.hpp"
#include "listd/spool.hpp"
#include "smtp/address.hpp"

namespace listd {

const char* to_string(SubStatus s) {
  switch (s) {
    case SubStatus::subscribed: return "subscribed";
    case SubStatus::unsubscribed: return "unsubscribed";
    case SubStatus::confirmation_sent: return "confirmation_sent";
    case SubStatus::pending_approval: return "pending_approval";
    case SubStatus::already_member: return "already_member";
    case SubStatus::not_member: return "not_member";
    case SubStatus::rate_limited: return "rate_limited";
    case SubStatus::invalid_address: return "invalid_address";
    case SubStatus::banned: return "banned";
    case SubStatus::invalid_token: return "invalid_token";
    case SubStatus::rejected: return "rejected";
    case SubStatus::invited: return "invited";
    case SubStatus::setting_changed: return "setting_changed";
  }
  return "?";
}

std::string token_hash(const std::string& raw) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(raw.data(), raw.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

std::string rfc2047_encode(std::string_view text) {
  bool ascii = true;
  for (unsigned char c : text) ascii = ascii && c < 0x80 && c != '\n' && c != '\r';
  if (ascii) return std::string(text);
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string enc;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(text[k])); };
  for (; i + 2 < text.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    enc += {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63]};
  }
  if (i + 1 == text.size()) {
    unsigned v = byte(i) << 16;
    enc += {b64[v >> 18], b64[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == text.size()) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    enc += {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], '='};
  }
  return "=?utf-8?b?" + enc + "?=";
}

std::string compose_notice(const ListRow& list, const std::string& from_local, const std::string& to,
                           const std::string& subject, const std::string& body, const std::string& reply_to) {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string subj = rfc2047_encode(subject);
  return "From: " + list.name + (from_local.empty() ? "" : "-" + from_local) + "@" + list.host + "\nTo: " + to +
         (reply_to.empty() ? std::string() : "\nReply-To: " + reply_to) + "\nSubject: " + subj + "\nDate: " + date +
         "\nMessage-ID: <" + random_hex(12) + "@" + list.host +
         ">\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
         "Auto-Submitted: auto-replied\nPrecedence: bulk\nList-Id: <" +
         list.name + "." + list.host + ">\nX-BeenThere: " + list.address() + "\n\n" + body;
}

void queue_notice(const Config& cfg, SQLite::Database& db, const ListRow& list, const std::string& to,
                  const std::string& message) {
  std::string id = spool_new_id();
  make_private_dir(cfg.queue_dir() / "tmp");
  write_durable(cfg.queue_dir() / "tmp", cfg.queue_dir(), id + ".notice.eml", {message});
  WriteTx tx(db);
  job_create_for_addresses(db, &list, "notice", id, "queue/" + id + ".notice.eml", list.name + "-bounces@" + list.host,
                           {to});
  tx.commit();
}

Subscriptions::Subscriptions(const Config& cfg, SQLite::Database& db, const Templates& templates)
    : cfg_(cfg), db_(db), templates_(templates) {}

std::string Subscriptions::create_token(const std::string& action, const ListRow* list, const std::string& address,
                                        const std::string& payload, std::int64_t ttl_seconds) {
  std::string raw = random_hex(16);  // 128 bits
  auto now = now_unix();
  SQLite::Statement q(db_,
                      "INSERT INTO pending_tokens(token_hash, action, list_id, address, payload, created, expires) "
                      "VALUES (?,?,?,?,?,?,?)");
  q.bind(1, token_hash(raw));
  q.bind(2, action);
  if (list)
    q.bind(3, list->id);
  else
    q.bind(3);
  q.bind(4, address);
  q.bind(5, payload);
  q.bind(6, now);
  q.bind(7, now + ttl_seconds);
  q.exec();
  return raw;
}

std::optional<Subscriptions::Token> Subscriptions::consume_token(const std::string& raw) {
  if (raw.size() != 32 || raw.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
  // DELETE ... RETURNING makes use and check one atomic step: a replay finds nothing.
  SQLite::Statement q(db_,
                      "DELETE FROM pending_tokens WHERE token_hash = ? RETURNING action, address, payload, "
                      "coalesce(list_id, 0), expires");
  q.bind(1, token_hash(raw));
  if (!q.executeStep()) return std::nullopt;
  Token t{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
          q.getColumn(3).getInt64()};
  auto expires = q.getColumn(4).getInt64();
  while (q.executeStep()) {
  }
  if (expires < now_unix()) return std::nullopt;
  return t;
}

std::optional<PendingRequest> Subscriptions::token_info(const std::string& raw) {
  SQLite::Statement q(db_, "SELECT action, address, created FROM pending_tokens WHERE token_hash = ? AND expires >= ?");
  q.bind(1, token_hash(raw));
  q.bind(2, now_unix());
  if (!q.executeStep()) return std::nullopt;
  return PendingRequest{0, q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64()};
}

int autoreply_sent_today(SQLite::Database& db, const ListRow& list, const std::string& address,
                         const std::string& kind) {
  SQLite::Statement q(db,
                      "SELECT count(*) FROM autoreply_log WHERE list_id = ? AND address = ? AND kind = ? AND "
                      "sent_at > ?");
  q.bind(1, list.id);
  q.bind(2, address);
  q.bind(3, kind);
  q.bind(4, now_unix() - 86400);
  q.executeStep();
  return q.getColumn(0).getInt();
}

void autoreply_record(SQLite::Database& db, const ListRow& list, const std::string& address, const std::string& kind) {
  SQLite::Statement q(db, "INSERT INTO autoreply_log(list_id, address, kind, sent_at) VALUES (?,?,?,?)");
  q.bind(1, list.id);
  q.bind(2, address);
  q.bind(3, kind);
  q.bind(4, now_unix());
  q.exec();
}

bool Subscriptions::confirm_allowed(const ListRow& list, const std::string& address) {
  return autoreply_sent_today(db_, list, address, "confirm") < kConfirmPerAddressPerDay;
}

void Subscriptions::send(const ListRow& list, const std::string& to, const std::string& template_name,
                         const std::string& subject, TemplateVars vars) {
  vars["list_name"] = list.name;
  vars["list_host"] = list.host;
  vars["list_address"] = list.address();
  vars["description"] = list.settings.description;
  vars["list_url"] = cfg_.base_url + "/lists/" + list.address();
  vars["address"] = to;
  std::string error;
  std::string body = templates_.render(template_name, vars, &error);
  if (!error.empty()) throw std::runtime_error("template " + template_name + ": " + error);
  auto reply_to = vars.find("confirm_address");
  queue_notice(cfg_, db_, list, to,
               compose_notice(list, "request", to, subject, body, reply_to == vars.end() ? "" : reply_to->second));
  autoreply_record(
      db_, list, to,
      template_name == "mail/confirm.txt" || template_name == "mail/invite.txt" ? "confirm" : template_name);
}

SubResult Subscriptions::do_subscribe(const ListRow& list, const std::string& address, const std::string& via) {
  Store store(db_);
  auto r = store.add_members(list, {address});
  if (r.added == 0) return {SubStatus::already_member, address + " is already a member", address, {}};
  log_event(LogLevel::info, "subscribed", {{"list", list.address()}, {"address", address}, {"via", via}});
  send(list, address, "mail/welcome.txt", "Welcome to the \"" + list.name + "\" mailing list", {});
  return {SubStatus::subscribed, address + " is now a member of " + list.address(), address, {}};
}

SubResult Subscriptions::do_unsubscribe(const ListRow& list, const std::string& address, const std::string& via) {
  Store store(db_);
  if (store.remove_members(list, {address}) == 0)
    return {SubStatus::not_member, address + " is not a member", address, {}};
  log_event(LogLevel::info, "unsubscribed", {{"list", list.address()}, {"address", address}, {"via", via}});
  send(list, address, "mail/goodbye.txt", "You have left the \"" + list.name + "\" mailing list", {});
  return {SubStatus::unsubscribed, address + " has left " + list.address(), address, {}};
}

SubResult Subscriptions::request_subscribe(const ListRow& list, const std::string& address_in, const std::string& via,
                                           bool by_owner) {
  auto norm = smtp::normalize_address(address_in);
  if (!norm) return {SubStatus::invalid_address, "not a valid address: " + address_in, address_in, {}};
  const std::string& address = *norm;
  Store store(db_);
  if (store.is_banned(list, address)) return {SubStatus::banned, address + " may not join this list", address, {}};
  if (store.membership(list, address))
    return {SubStatus::already_member, address + " is already a member", address, {}};
  const auto& policy = list.settings.subscribe_policy;
  WriteTx tx(db_);
  SubResult out;
  if (by_owner || policy == "open") {
    out = do_subscribe(list, address, via);
  } else if (policy == "moderate") {
    out = request_approval(list, address, via);
  } else {
    if (!confirm_allowed(list, address))
      return {SubStatus::rate_limited,
              "too many confirmation requests for " + address + "; try again tomorrow",
              address,
              {}};
    std::string token = create_token("subscribe", &list, address, via, static_cast<std::int64_t>(cfg_.tokens_ttl));
    send(list, address, "mail/confirm.txt", "Confirm subscription to " + list.address() + " (confirm " + token + ")",
         {{"action", "subscribe"},
          {"subscribe", "yes"},
          {"token", token},
          {"confirm_address", list.name + "-confirm+" + token + "@" + list.host},
          {"confirm_url", cfg_.base_url + "/confirm/" + token},
          {"ttl_days", std::to_string(cfg_.tokens_ttl / 86400)}});
    log_event(LogLevel::info, "confirm-sent",
              {{"list", list.address()}, {"address", address}, {"action", "subscribe"}});
    out = {SubStatus::confirmation_sent, "a confirmation request was sent to " + address, address, token};
  }
  tx.commit();
  return out;
}

SubResult Subscriptions::request_approval(const ListRow& list, const std::string& address, const std::string& via) {
  SQLite::Statement q(db_,
                      "INSERT OR IGNORE INTO subscription_requests(list_id, action, address, via, created) VALUES "
                      "(?, 'subscribe', ?, ?, ?)");
  q.bind(1, list.id);
  q.bind(2, address);
  q.bind(3, via);
  q.bind(4, now_unix());
  if (q.exec() > 0) {
    Store store(db_);
    for (auto& owner : store.members(list, "owner"))
      send(list, owner.email, "mail/owner-request.txt", "Subscription request for " + list.address(),
           {{"address", address}});
    log_event(LogLevel::info, "subscription-pending", {{"list", list.address()}, {"address", address}});
  }
  return {SubStatus::pending_approval, "the request of " + address + " awaits the list owner's approval", address, {}};
}

SubResult Subscriptions::request_unsubscribe(const ListRow& list, const std::string& address_in, const std::string& via,
                                             bool by_owner) {
  auto norm = smtp::normalize_address(address_in);
  if (!norm) return {SubStatus::invalid_address, "not a valid address: " + address_in, address_in, {}};
  const std::string& address = *norm;
  Store store(db_);
  // The same answer whether or not the address is a member: no membership probing by mail.
  if (!store.membership(list, address))
    return {SubStatus::not_member, "if " + address + " is a member, a confirmation request was sent", address, {}};
  WriteTx tx(db_);
  SubResult out;
  if (by_owner || list.settings.unsubscribe_policy == "open") {
    out = do_unsubscribe(list, address, via);
  } else {
    if (!confirm_allowed(list, address))
      return {SubStatus::rate_limited,
              "too many confirmation requests for " + address + "; try again tomorrow",
              address,
              {}};
    std::string token = create_token("unsubscribe", &list, address, via, static_cast<std::int64_t>(cfg_.tokens_ttl));
    send(list, address, "mail/confirm.txt",
         "Confirm unsubscription from " + list.address() + " (confirm " + token + ")",
         {{"action", "unsubscribe"},
          {"token", token},
          {"confirm_address", list.name + "-confirm+" + token + "@" + list.host},
          {"confirm_url", cfg_.base_url + "/confirm/" + token},
          {"ttl_days", std::to_string(cfg_.tokens_ttl / 86400)}});
    out = {SubStatus::confirmation_sent, "if " + address + " is a member, a confirmation request was sent", address,
           token};
  }
  tx.commit();
  return out;
}

SubResult Subscriptions::invite(const ListRow& list, const std::string& address_in) {
  auto norm = smtp::normalize_address(address_in);
  if (!norm) return {SubStatus::invalid_address, "not a valid address: " + address_in, address_in, {}};
  Store store(db_);
  if (store.membership(list, *norm)) return {SubStatus::already_member, *norm + " is already a member", *norm, {}};
  if (!confirm_allowed(list, *norm)) return {SubStatus::rate_limited, "too many invitations to " + *norm, *norm, {}};
  WriteTx tx(db_);
  // An invitation is an owner-approved subscription: confirming it skips moderation.
  std::string token = create_token("subscribe", &list, *norm, "invite", static_cast<std::int64_t>(cfg_.tokens_ttl));
  send(list, *norm, "mail/invite.txt", "Invitation to join " + list.address() + " (confirm " + token + ")",
       {{"token", token}, {"confirm_address", list.name + "-confirm+" + token + "@" + list.host}});
  tx.commit();
  return {SubStatus::invited, "an invitation was sent to " + *norm, *norm, token};
}

SubResult Subscriptions::confirm(const std::string& raw, const ListRow* list) {
  WriteTx tx(db_);
  auto t = consume_token(raw);
  if (!t || (list && t->list_id != list->id) ||
      (t->action != "subscribe" && t->action != "unsubscribe" && t->action != "set")) {
    return {SubStatus::invalid_token, "unknown, used or expired confirmation token", {}, {}};
  }
  Store store(db_);
  std::optional<ListRow> target;
  for (auto& l : store.all_lists())
    if (l.id == t->list_id) target = l;
  if (!target) return {SubStatus::invalid_token, "the list of this token no longer exists", t->address, {}};
  SubResult out;
  if (t->action == "set") {
    out = apply_setting(*target, t->address, t->payload);
  } else if (t->action == "subscribe") {
    if (target->settings.subscribe_policy == "confirm_then_moderate" && t->payload != "invite")
      out = request_approval(*target, t->address, "confirm");
    else
      out = do_subscribe(*target, t->address, "confirm");
  } else {
    out = do_unsubscribe(*target, t->address, "confirm");
  }
  tx.commit();
  return out;
}

SubResult Subscriptions::apply_setting(const ListRow& list, const std::string& address, const std::string& payload) {
  // payload: "digest=on|off" or "nomail=on|off" (made by the `set` email command).
  auto eq = payload.find('=');
  std::string key = payload.substr(0, eq), value = eq == std::string::npos ? "" : payload.substr(eq + 1);
  const char* sql = nullptr;
  if (key == "digest")
    sql =
        "UPDATE memberships SET delivery = ? WHERE list_id = ? AND role = 'member' AND person_id = (SELECT id FROM "
        "people WHERE email = ?)";
  else if (key == "nomail")
    sql =
        "UPDATE memberships SET nomail = ? WHERE list_id = ? AND role = 'member' AND person_id = (SELECT id FROM "
        "people WHERE email = ?)";
  if (!sql || (value != "on" && value != "off"))
    return {SubStatus::invalid_token, "malformed setting token", address, {}};
  SQLite::Statement q(db_, sql);
  if (key == "digest")
    q.bind(1, value == "on" ? "digest_mime" : "regular");
  else
    q.bind(1, value == "on" ? 1 : 0);
  q.bind(2, list.id);
  q.bind(3, address);
  if (q.exec() == 0) return {SubStatus::not_member, address + " is not a member of " + list.address(), address, {}};
  log_event(LogLevel::info, "member-setting", {{"list", list.address()}, {"address", address}, {"set", payload}});
  return {SubStatus::setting_changed, key + " is now " + value + " for " + address, address, {}};
}

std::vector<PendingRequest> Subscriptions::pending(const ListRow& list) {
  SQLite::Statement q(db_,
                      "SELECT id, action, address, created FROM subscription_requests WHERE list_id = ? ORDER BY id");
  q.bind(1, list.id);
  std::vector<PendingRequest> out;
  while (q.executeStep())
    out.push_back(
        {q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(), q.getColumn(3).getInt64()});
  return out;
}

namespace {
std::optional<std::string> take_request(SQLite::Database& db, const ListRow& list, std::int64_t id) {
  SQLite::Statement q(db, "DELETE FROM subscription_requests WHERE id = ? AND list_id = ? RETURNING address");
  q.bind(1, id);
  q.bind(2, list.id);
  if (!q.executeStep()) return std::nullopt;
  std::string a = q.getColumn(0).getString();
  while (q.executeStep()) {
  }
  return a;
}
}  // namespace

SubResult Subscriptions::approve(const ListRow& list, std::int64_t request_id) {
  WriteTx tx(db_);
  auto address = take_request(db_, list, request_id);
  if (!address) return {SubStatus::invalid_token, "no such pending request", {}, {}};
  auto out = do_subscribe(list, *address, "approved");
  tx.commit();
  return out;
}

SubResult Subscriptions::reject(const ListRow& list, std::int64_t request_id, const std::string& reason) {
  WriteTx tx(db_);
  auto address = take_request(db_, list, request_id);
  if (!address) return {SubStatus::invalid_token, "no such pending request", {}, {}};
  send(list, *address, "mail/refused.txt", "Your request to join " + list.address(), {{"reason", reason}});
  tx.commit();
  log_event(LogLevel::info, "subscription-refused", {{"list", list.address()}, {"address", *address}});
  return {SubStatus::rejected, "the request of " + *address + " was refused", *address, {}};
}

}  // namespace listd
