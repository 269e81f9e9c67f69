// decorate.hpp - turn an accepted post into what the list sends and archives.
//
// Two steps, both pure (bytes in, bytes out), built on GMime:
//   decorate_headers(): subject prefix without doubling, RFC 2369 / 2919 / 8058 list headers,
//     X-BeenThere, Precedence: list, Reply-To policy. Used for the archive copy and the
//     delivered copy.
//   add_footer(): the list footer, added without breaking MIME:
//     text/plain                -> appended to the text in the part's own charset and
//                                  transfer encoding (if the footer cannot be expressed in
//                                  that charset, falls back to wrapping, below);
//     multipart/mixed           -> a new text/plain; charset=utf-8 part at the end;
//     anything else (multipart/alternative, multipart/signed, single non-text parts)
//                               -> wrapped: a new multipart/mixed holding the original
//                                  entity untouched (so signatures stay valid) and the
//                                  footer part. This is what Mailman 2 and 3 do.
// Errors: input that GMime cannot parse as a message at all returns std::nullopt from
// decorate_headers(); the pipeline then holds the post for the moderator.
// Output uses LF line ends. Header order of the original is kept; new headers are appended
// after the existing ones, removed ones are the list headers we replace (List-*, X-BeenThere,
// Precedence, and Reply-To when the policy sets it).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace listd {

enum class ReplyToPolicy { none, list, address };

struct ListIdentity {
  std::string name;         // "mi_lista"
  std::string host;         // "lists.mired.org"
  std::string description;  // display name in List-Id, may be empty; UTF-8
  std::string base_url;     // "http://lists.mired.org:8080" (no trailing slash)
  std::string address() const { return name + "@" + host; }
  std::string list_id() const { return name + "." + host; }  // RFC 2919 §3
};

struct DecorateOptions {
  std::string subject_prefix;  // e.g. "[mi_lista]"; empty = leave the subject alone
  ReplyToPolicy reply_to = ReplyToPolicy::none;
  std::string reply_to_address;  // used with ReplyToPolicy::address
  bool archive = true;           // add List-Archive
};

// decorate_headers - see the file comment. `raw` may use LF or CRLF.
std::optional<std::string> decorate_headers(std::string_view raw, const ListIdentity& list,
                                            const DecorateOptions& opts);

// add_footer - append `footer` (UTF-8 text, LF line ends) as described above.
// An empty footer returns the input unchanged (normalised to LF).
std::string add_footer(std::string_view raw, std::string_view footer);

// prefixed_subject - the subject rule alone, on decoded UTF-8 text:
//   ("[mi_lista]", "Hello")                 -> "[mi_lista] Hello"
//   ("[mi_lista]", "Re: [mi_lista] Hello")  -> "[mi_lista] Re: Hello"
//   ("[mi_lista]", "RE: Re: [mi_lista] Re: Hello") -> "[mi_lista] Re: Hello"
//   ("[mi_lista]", "AW: [mi_lista] Hallo")  -> "[mi_lista] Re: Hallo"
//   Reply markers recognised, case-insensitively, in any run: "Re:", "Aw:", "Sv:", "Antw:";
//   a run collapses to one "Re: ". "Fwd:" and other text are kept as written.
//   ("[mi_lista]", "")                      -> "[mi_lista] (no subject)"
std::string prefixed_subject(std::string_view prefix, std::string_view subject);

}  // namespace listd
