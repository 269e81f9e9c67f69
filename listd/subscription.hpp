// subscription.hpp - subscribe / unsubscribe with confirmation tokens and owner approval:
// the one code path used by email commands (-request, -join, -leave, -confirm+TOKEN), the web
// pages and the CLI.
//
// Tokens (SECURITY P8): 128 bits from getrandom, hex-encoded (32 chars); only their SHA-256
// is stored (table pending_tokens), so a database leak reveals no live token. Single use,
// expiring after `ttl` seconds (config tokens.ttl, default 3 days), bound to one action, list
// and address. Confirmation mails to one address are rate-limited (kConfirmPerAddressPerDay)
// so nobody can be mail-bombed through subscription requests by a third party.
// Policies per list (setting subscribe_policy): open | confirm (default) | moderate |
// confirm_then_moderate; unsubscribe_policy: confirm (default) | open.
// Every state change that needs consent needs a token; owners may subscribe people directly
// (CLI/web) or invite them (the invitee confirms).
// Errors: SubscriptionResult.status says what happened; nothing here throws for user mistakes
// (only SQLite/IO trouble throws). Notices (confirm, welcome, goodbye, owner requests) are
// queued as delivery jobs (kind 'notice') and reach people through the relay.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "listd/config.hpp"
#include "listd/store.hpp"
#include "listd/templates.hpp"

namespace listd {

constexpr int kConfirmPerAddressPerDay = 3;  // confirmation mails to one address per list per 24 h

enum class SubStatus {
  subscribed,         // now a member (welcome sent)
  unsubscribed,       // no longer a member (goodbye sent)
  confirmation_sent,  // a confirm mail went to the address
  pending_approval,   // waiting for an owner/moderator
  already_member,     // nothing to do
  not_member,         // unsubscribe of a non-member (no mail is sent: no address probing)
  rate_limited,       // too many confirmation mails to this address recently
  invalid_address,    // not an RFC 5321 address
  banned,             // address matches a ban pattern
  invalid_token,      // unknown, used, expired, or bound to another list/action
  rejected,           // an owner refused the request
  invited,            // an invitation went to the address
  setting_changed,    // a confirmed `set digest|nomail on|off`
};
const char* to_string(SubStatus s);

struct SubResult {
  SubStatus status;
  std::string detail;   // human text for replies and logs
  std::string address;  // normalised address concerned
  std::string token;    // the raw token, when one was created (tests and the CLI only)
};

// A pending request an owner can act on (subscription awaiting approval).
struct PendingRequest {
  std::int64_t id = 0;
  std::string action;  // "subscribe"
  std::string address;
  std::int64_t created = 0;
};

class Subscriptions {
 public:
  Subscriptions(const Config& cfg, SQLite::Database& db, const Templates& templates);

  // request_subscribe - `via` is "email" | "web" | "cli" (logged). `by_owner` skips the
  // confirmation (the owner vouches; CLI/web admin only). `digest` sets digest delivery.
  SubResult request_subscribe(const ListRow& list, const std::string& address, const std::string& via,
                              bool by_owner = false);
  SubResult request_unsubscribe(const ListRow& list, const std::string& address, const std::string& via,
                                bool by_owner = false);
  // invite - the owner invites; the invitee confirms with the token in the mail.
  SubResult invite(const ListRow& list, const std::string& address);

  // confirm - a token from NAME-confirm+TOKEN@, a `confirm TOKEN` command line or the web
  // link. `list` (optional) must match the token's list when given.
  SubResult confirm(const std::string& token, const ListRow* list = nullptr);
  // token_info - what a token would do (for a web confirm page), without consuming it.
  std::optional<PendingRequest> token_info(const std::string& token);

  // Owner decisions on requests of moderated lists.
  std::vector<PendingRequest> pending(const ListRow& list);
  SubResult approve(const ListRow& list, std::int64_t request_id);
  SubResult reject(const ListRow& list, std::int64_t request_id, const std::string& reason);

  // Single-use token primitives (also used by moderation and one-click unsubscribe).
  std::string create_token(const std::string& action, const ListRow* list, const std::string& address,
                           const std::string& payload, std::int64_t ttl_seconds);
  struct Token {
    std::string action, address, payload;
    std::int64_t list_id = 0;
  };
  std::optional<Token> consume_token(const std::string& raw);  // nullopt: unknown/used/expired

 private:
  SubResult do_subscribe(const ListRow& list, const std::string& address, const std::string& via);
  SubResult do_unsubscribe(const ListRow& list, const std::string& address, const std::string& via);
  SubResult apply_setting(const ListRow& list, const std::string& address, const std::string& payload);
  SubResult request_approval(const ListRow& list, const std::string& address, const std::string& via);
  bool confirm_allowed(const ListRow& list, const std::string& address);
  void send(const ListRow& list, const std::string& to, const std::string& template_name, const std::string& subject,
            TemplateVars vars);
  const Config& cfg_;
  SQLite::Database& db_;
  const Templates& templates_;
};

// compose_notice - a complete RFC 5322 notice from the list (From: NAME-owner or -request),
// UTF-8 text/plain, with Auto-Submitted: auto-replied and Precedence: bulk (RFC 3834).
// `reply_to` (optional) sets Reply-To:, e.g. NAME-confirm+TOKEN@HOST on confirmation mails so
// that a plain reply confirms.
std::string compose_notice(const ListRow& list, const std::string& from_local, const std::string& to,
                           const std::string& subject, const std::string& body, const std::string& reply_to = "");

// queue_notice - write the notice durably to queue/ and create a 'notice' delivery job to
// `to` in one transaction. Envelope sender NAME-bounces@HOST.
void queue_notice(const Config& cfg, SQLite::Database& db, const ListRow& list, const std::string& to,
                  const std::string& message);

// rfc2047_encode - text as is when it is plain ASCII, else one RFC 2047 B-encoded UTF-8 word
// (for our own header values: subjects of notices, display names).
std::string rfc2047_encode(std::string_view text);

// autoreply_sent_today / autoreply_record - the log behind every per-address rate limit on
// automatic mail (table autoreply_log; kind "confirm", "reply", ...), SECURITY P7.
int autoreply_sent_today(SQLite::Database& db, const ListRow& list, const std::string& address,
                         const std::string& kind);
void autoreply_record(SQLite::Database& db, const ListRow& list, const std::string& address, const std::string& kind);

// token_hash - hex SHA-256 of a raw token (what pending_tokens stores).
std::string token_hash(const std::string& raw);

}  // namespace listd
