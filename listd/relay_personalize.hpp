// relay_personalize.hpp - personalize = footer | full: each member's own copy of a post,
// built from wire segments rendered once per job around a few small per-member pieces.
//
// The pipeline queues a personalized post without its footer and records the footer rendered
// with the placeholders below (delivery_jobs.footer). The relay (listd/relay.cpp) and the
// maildir transport build one PersonalMessage per job; render() then gives, per member, the
// segment list for one gathered write: shared pieces (DATA and BDAT forms, dot-stuffed once)
// and that member's footer and header lines, encoded like the part they go into. Where the
// footer goes follows listd/decorate.hpp: inside a top-level text/plain (its charset and
// transfer encoding: 7bit/8bit/quoted-printable/base64), as a new last part of a plain
// multipart/mixed, otherwise (multipart/signed, /alternative, non-text) in a new
// multipart/mixed wrapping the original entity byte for byte. No errors: a message GMime
// cannot read gets the header substitutions only. See docs/relay.md (Personalization).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "listd/templates.hpp"

namespace listd {

enum class Personalize { none, footer, full };
// personalize_from - "footer" / "full" -> that mode; anything else -> none.
Personalize personalize_from(std::string_view s);

// The footer template is rendered by the pipeline with these values for the per-member
// variables {{member_address}} and {{unsubscribe_url}}; the relay substitutes them.
inline constexpr std::string_view kMemberAddressSlot = "\x1flistd:member_address\x1f";
inline constexpr std::string_view kUnsubscribeUrlSlot = "\x1flistd:unsubscribe_url\x1f";
// personal_footer_vars - the two variables above, to merge into the footer's TemplateVars.
TemplateVars personal_footer_vars();

struct PersonalContext {
  Personalize mode = Personalize::footer;
  std::string footer;        // UTF-8, LF, with the placeholders; empty: no footer
  std::string list_address;  // NAME@HOST
  std::string base_url;      // Config::base_url, for the member's unsubscribe link
};

// unsubscribe_url - BASE/lists/NAME@HOST/unsubscribe?address=<member, percent-encoded>.
std::string unsubscribe_url(const PersonalContext& ctx, std::string_view member);

// quoted_printable - RFC 2045 6.7 encoding of LF-separated text (lines ≤ 76, "=\n" soft breaks).
std::string quoted_printable(std::string_view text);
// base64_lines - RFC 2045 6.8: 76-character lines, each ending in "\n".
std::string base64_lines(std::string_view bytes);

class PersonalMessage {
 public:
  // message: the queued post (LF or CRLF) without footer.
  PersonalMessage(std::string_view message, PersonalContext ctx);

  // One member's copy: `data` / `bdat` get the pieces of the DATA form (dot-stuffed, ending
  // "\r\n.\r\n") and of the BDAT form. They point into this object and into `scratch`, which
  // must outlive their use and is overwritten by the next call.
  void render(std::string_view member, std::string& scratch, std::vector<std::string_view>& data,
              std::vector<std::string_view>& bdat) const;
  // render_lf - the same copy as one LF string (maildir transport, tests).
  std::string render_lf(std::string_view member) const;

  // Where the footer went: "text-part", "new-part", "wrapped" or "none".
  const std::string& placement() const { return placement_; }

 private:
  PersonalMessage(std::string_view message, PersonalContext ctx, bool utf8_member);
  enum class SlotKind { list_unsubscribe, to, footer };
  enum class Enc { raw, qp, base64 };
  struct Slot {
    SlotKind kind;
    std::size_t begin, end;  // replaced range of the source text (begin == end: insertion)
  };
  std::string slot_text(const Slot& s, std::string_view member) const;
  std::string footer_text(std::string_view member) const;

  PersonalContext ctx_;
  std::string placement_ = "none";
  // The footer template cut at its placeholders: even indexes are text, odd ones name a
  // variable (0: member address, 1: unsubscribe URL).
  std::vector<std::string> footer_pieces_;
  std::vector<int> footer_vars_;
  Enc enc_ = Enc::raw;
  std::string charset_;  // convert the footer from UTF-8 to this ("": keep UTF-8)
  std::string lead_;     // decoded bytes before the footer (base64 carry, separating newline)
  bool crlf_ = false, flowed_ = false;
  std::vector<Slot> slots_;
  std::vector<std::string> lit_lf_, lit_data_, lit_bdat_;  // slots_.size() + 1 each
  // For members whose address is not ASCII, when the footer shows it in a us-ascii/7bit part.
  std::unique_ptr<PersonalMessage> utf8_;
};

}  // namespace listd
