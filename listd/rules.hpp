// rules.hpp - the posting rules: each a small pure function over the facts of one post.
//
// evaluate_post() runs them in order and stops at the first that decides:
//   1. loop        our List-Id or X-BeenThere already present      -> discard
//   2. banned      sender matches a ban (exact or ^regex)           -> discard (no backscatter)
//   2b. autoreply  Auto-Submitted other than "no" (RFC 3834: a vacation reply to a post)
//                  -> hold: never redistributed, but a moderator can still see it
//   3. emergency   list in emergency moderation                     -> hold
//   4. administrivia  the post looks like a command ("subscribe")  -> hold
//   5. size        larger than the list's max_message_size (KiB)    -> hold
//   6. moderated   sender is a member with the moderation flag      -> hold
//   7. nonmember   sender is not a member (member_only lists)       -> nonmember_action
//   otherwise accept.
// Inputs are gathered by the caller (pipeline.cpp) into PostFacts so the rules need no
// database and are unit-tested directly.
#pragma once

#include <string>
#include <string_view>

#include "listd/message.hpp"
#include "listd/store.hpp"

namespace listd {

enum class Verdict { accept, hold, reject, discard };
const char* to_string(Verdict v);

struct Decision {
  Verdict verdict = Verdict::accept;
  std::string rule;    // which rule decided ("" for plain accept)
  std::string reason;  // human text for logs, held-message notices and rejections
};

struct PostFacts {
  std::string list_address;  // "mi_lista@lists.mired.org"
  std::string list_id;       // "mi_lista.lists.mired.org"
  const ListSettings* settings = nullptr;
  const MessageInfo* info = nullptr;
  std::string sender;  // the address the rules judge (From:, else envelope sender)
  bool sender_is_member = false;
  bool sender_moderated = false;
  bool sender_banned = false;
};

Decision rule_loop(const PostFacts& f);
Decision rule_banned(const PostFacts& f);
Decision rule_autoreply(const PostFacts& f);
Decision rule_emergency(const PostFacts& f);
Decision rule_administrivia(const PostFacts& f);
Decision rule_size(const PostFacts& f);
Decision rule_moderated(const PostFacts& f);
Decision rule_nonmember(const PostFacts& f);

Decision evaluate_post(const PostFacts& f);

// looks_like_command - true when the subject or the first lines of the body are just a
// list command (subscribe, unsubscribe, remove, help, set ..., confirm ...), as Mailman's
// administrivia check does. Looks at most kAdministriviaLines non-empty, unquoted lines.
constexpr int kAdministriviaLines = 5;
bool looks_like_command(std::string_view subject, std::string_view body);

}  // namespace listd
