// commands.hpp - email commands to NAME-request@ (and the -join / -leave / -confirm+TOKEN
// shortcuts): parsing (pure) and execution (through Subscriptions, one reply per message).
//
// Parsing (parse_commands): the Subject and then the body's lines of the first text part;
// quoted lines ("> ...") and empty lines are skipped; parsing stops at `end`, a signature
// separator ("-- "), or after kMaxUnrecognised unrecognised lines; at most kMaxCommands
// commands are taken. A `confirm TOKEN` anywhere in the Subject counts (a reply to our
// confirmation mail keeps it, "Re: ... (confirm TOKEN)").
// Loop safety, RFC 3834 §2: must_not_answer() says why a message gets no automatic reply
// (Auto-Submitted other than "no", Precedence bulk/list/junk, empty envelope sender, a
// mailer-daemon or -request/-owner/-bounces sender, our own List-Id/X-BeenThere).
// Replies per address and list are rate-limited (kRepliesPerAddressPerDay, SECURITY P7).
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>
#include <string_view>
#include <vector>

#include "listd/config.hpp"
#include "listd/message.hpp"
#include "listd/router.hpp"
#include "listd/store.hpp"
#include "listd/templates.hpp"

namespace listd {

constexpr int kMaxCommands = 10;
constexpr int kMaxUnrecognised = 5;
constexpr int kRepliesPerAddressPerDay = 10;

struct Command {
  std::string verb;               // lower case: subscribe, unsubscribe, confirm, help, info, who, set
  std::vector<std::string> args;  // as written
  std::string line;               // the line as found (for the reply)
};

struct ParsedCommands {
  std::vector<Command> commands;
  std::vector<std::string> unrecognised;
};

// parse_commands - see the file comment. Aliases: join -> subscribe, leave/remove ->
// unsubscribe.
ParsedCommands parse_commands(std::string_view subject, std::string_view body);

// must_not_answer - empty when an automatic reply is allowed, else the reason.
std::string must_not_answer(const MessageInfo& info, const std::string& envelope_sender, const std::string& list_id,
                            const std::string& list_address);

struct CommandOutcome {
  std::string outcome;  // "answered" | "silent" (loop safety / rate limit) | "confirmed" ...
  std::string detail;
};

// handle_command_mail - run the commands of one message for `route` (request, join, leave,
// confirm) inside the caller's transaction and queue the reply notice.
CommandOutcome handle_command_mail(const Config& cfg, SQLite::Database& db, const Templates& templates,
                                   const ListRow& list, const Route& route, const MessageInfo& info,
                                   const std::string& envelope_sender);

}  // namespace listd
