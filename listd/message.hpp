// message.hpp - read-only facts about an RFC 5322 message, parsed with GMime.
//
// Called by the posting pipeline (rules, archive index) and by tests. Input is the raw
// message with LF or CRLF line ends; nothing here touches disk or the database.
// Malformed input never throws: missing or unparsable fields come back empty, and
// `parsed_ok` says whether GMime found a header block at all.
// RFC 5322 §3.6 (fields), RFC 2047 (encoded words, decoded to UTF-8 here).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace listd {

// Call once per process before any GMime use (idempotent, thread-safe).
void mime_init();

struct MessageInfo {
  bool parsed_ok = false;               // GMime recognised a header block
  std::string message_id;               // without angle brackets; empty if absent
  std::string in_reply_to;              // first msg-id of In-Reply-To, no brackets
  std::vector<std::string> references;  // msg-ids, no brackets, in order
  long long date = 0;                   // Date: as unix time (UTC); 0 if absent/bad
  std::string from_address;             // first From: mailbox, lower-cased domain
  std::string from_name;                // its display name, decoded UTF-8
  std::string sender_address;           // Sender: mailbox if present
  std::string reply_to;                 // Reply-To: as written (decoded)
  std::string subject;                  // decoded UTF-8, unfolded
  std::vector<std::string> list_ids;    // every List-Id value, id part only (no <>)
  std::vector<std::string> been_there;  // every X-BeenThere value, trimmed, lower case
  std::string precedence;               // Precedence: value, lower case
  std::string auto_submitted;           // Auto-Submitted: value, lower case (RFC 3834)
  std::string approved;                 // Approved: / Approve: header value (moderator password)
  std::string content_type;             // top-level "type/subtype", lower case
  std::string first_text;               // first text/plain part decoded to UTF-8, at most
                                        // kMaxFirstText bytes (for administrivia checks and previews)
  std::size_t size = 0;                 // bytes of the raw input
};

constexpr std::size_t kMaxFirstText = 64 * 1024;

// message_info - parse `raw` and return what the pipeline needs. Never throws.
MessageInfo message_info(std::string_view raw);

// to_lf - canonical on-disk form: CRLF -> LF (bare CR kept as content). Idempotent.
std::string to_lf(std::string_view raw);

}  // namespace listd
