// moderation_mail.hpp - moderation by email: a notice with a single-use token to owners and
// moderators for each held post, their replies, and the `Approved:` header.
//
// notify_held() sends "NAME post from X requires approval" to the list's owners and moderators,
// with Reply-To NAME-confirm+TOKEN@HOST (token action "moderate", payload the held row id,
// 128 bits, expiring with tokens.ttl). A reply from an owner or moderator to that address acts
// on the post by the first word of the reply's Subject (after Re:) or first body line:
// `approve`, `reject [REASON]`, `defer` (leave it held; the token stays valid), `discard`;
// a plain reply with none of these discards, as Mailman 2 did. Anyone else's reply is refused.
// approved_by_password(): an `Approved:` (or `Approve:`) header whose value is the password of
// one of the list's owners or moderators lifts any hold (not loop, ban or reject rules); the
// header is always removed before the post is stored or sent (strip_fields), so a password
// never reaches the archive or the members.
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>
#include <string_view>
#include <vector>

#include "listd/commands.hpp"
#include "listd/config.hpp"
#include "listd/message.hpp"
#include "listd/store.hpp"
#include "listd/templates.hpp"

namespace listd {

void notify_held(const Config& cfg, SQLite::Database& db, const Templates& templates, const ListRow& list,
                 std::int64_t held_id, const std::string& sender, const std::string& subject,
                 const std::string& reason);

// handle_moderation_reply - `token` came to NAME-confirm+TOKEN and is a "moderate" token.
CommandOutcome handle_moderation_reply(const Config& cfg, SQLite::Database& db, const Templates& templates,
                                       const ListRow& list, const std::string& token, const MessageInfo& info,
                                       const std::string& requester);

bool approved_by_password(SQLite::Database& db, const ListRow& list, const std::string& password);

// strip_fields - remove every header field named in `names` (case-insensitive), with its
// continuation lines, from the header block of `raw` (LF line ends). The body is untouched.
std::string strip_fields(std::string_view raw, const std::vector<std::string>& names);

}  // namespace listd
