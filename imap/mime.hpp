// mime.hpp - the MIME facts IMAP needs, from a raw RFC 5322 message with CRLF line ends:
// the part tree with byte ranges (RFC 2045/2046), ENVELOPE and BODYSTRUCTURE strings
// (RFC 3501 §7.4.2) and BODY[section] extraction (RFC 3501 §6.4.5).
//
// Pure and allocation-bounded: nesting deeper than kMaxMimeDepth is treated as an opaque
// leaf, never an error. Malformed input never throws; it gives the best structure it can
// (the same policy as Dovecot: a broken multipart becomes text with its raw body).
// Callers: listd's archive indexer (precomputes ENVELOPE/BODYSTRUCTURE) and imap::Session.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imap {

constexpr int kMaxMimeDepth = 20;
constexpr std::size_t kMaxMimeParts = 500;

struct MimePart {
  std::size_t header_begin = 0, body_begin = 0, body_end = 0;  // offsets into the message
  std::string type = "text", subtype = "plain";                // lower case
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<MimePart> children;  // multipart: the parts; message/rfc822: one, the message
  bool multipart() const { return type == "multipart" && !children.empty(); }
  bool rfc822() const { return type == "message" && subtype == "rfc822" && !children.empty(); }
};

// to_crlf - LF or mixed line ends -> CRLF (the IMAP wire form). Idempotent.
std::string to_crlf(std::string_view raw);

// parse_mime - the part tree of a whole message (CRLF line ends).
MimePart parse_mime(std::string_view msg);

// header_value - first field `name` (case-insensitive) of a header block, unfolded; `found`
// tells absent from empty.
std::string header_value(std::string_view header, std::string_view name, bool* found = nullptr);

// header_fields - the field lines of `header` whose names are (or, negate, are not) in
// `names`, each with its CRLF, then a final CRLF (RFC 3501 HEADER.FIELDS[.NOT]).
std::string header_fields(std::string_view header, const std::vector<std::string>& names, bool negate);

// envelope - "(date subject (from) (sender) (reply-to) (to) (cc) (bcc) in-reply-to message-id)".
std::string envelope(std::string_view header);

// bodystructure - BODYSTRUCTURE (extended = true) or BODY (false) of `part` in `msg`.
std::string bodystructure(const MimePart& part, std::string_view msg, bool extended);

// fetch_section - the bytes of BODY[section] (section text without brackets, e.g. "1.2.MIME",
// "HEADER.FIELDS (SUBJECT)"). False if the section does not parse; a section naming a part
// that does not exist gives true and an empty result, as RFC 3501 allows.
bool fetch_section(const MimePart& root, std::string_view msg, std::string_view section, std::string& out);

// Response formatting (RFC 3501 §4.3 / §9 nstring).
std::string quoted_or_literal(std::string_view s);             // "..." if safe, else {n}\r\n...
std::string nstring(std::string_view s, bool present = true);  // NIL when !present

}  // namespace imap
