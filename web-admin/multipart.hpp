// multipart.hpp - a pure, incremental parser of multipart/form-data request bodies (RFC 7578
// over RFC 2046 §5.1.1): bytes in, parts out, no I/O. Used by web-admin/app.cpp for forms
// with a file input (the members page's address file), which work without JavaScript.
//
// feed() takes the body in pieces of any size (whole, byte by byte, split anywhere) and
// answers need_more, done (the close delimiter was seen; an epilogue is ignored) or error;
// finish() says error when the body ended before the close delimiter. Limits (MultipartLimits):
// part count, bytes of one part's header block and of one part's content, and total body
// bytes; past any of them the answer is error with a message naming the limit. Every part
// needs `Content-Disposition: form-data; name=...`. Nothing throws for bad input.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace listd::web {

struct MultipartLimits {
  std::size_t max_parts = 64;
  std::size_t max_header_bytes = 8 * 1024;               // one part's header block
  std::size_t max_part_bytes = 8 * 1024 * 1024;          // one part's content
  std::size_t max_total_bytes = 8 * 1024 * 1024 + 4096;  // the whole body (preamble included)
};

struct MultipartPart {
  std::string name;                     // Content-Disposition name
  std::optional<std::string> filename;  // set for a file input (may be empty: no file chosen)
  std::string content_type;             // as sent ("" when absent: text/plain by RFC 7578 §4.4)
  std::string data;
};

enum class MultipartStatus { need_more, done, error };

// multipart_boundary - the boundary parameter of a multipart/form-data Content-Type value,
// or nullopt when the type is another one or the boundary is missing or invalid (RFC 2046
// §5.1.1: 1 to 70 characters of bchars, not ending in a space).
std::optional<std::string> multipart_boundary(std::string_view content_type);

// header_params - "type; a=b; c=\"d\"" -> {"type", {{"a","b"},{"c","d"}}}: type and parameter
// names lower-cased, quoted-strings unquoted (backslash escapes). nullopt when malformed.
struct HeaderValue {
  std::string type;
  std::vector<std::pair<std::string, std::string>> params;
  std::optional<std::string> param(std::string_view name) const;
};
std::optional<HeaderValue> header_params(std::string_view value);

class MultipartParser {
 public:
  explicit MultipartParser(std::string boundary, MultipartLimits limits = {});

  MultipartStatus feed(std::string_view bytes);
  MultipartStatus finish();  // end of body: done, or error when the close delimiter is missing

  const std::vector<MultipartPart>& parts() const { return parts_; }
  std::vector<MultipartPart> take_parts() { return std::move(parts_); }
  const std::string& error() const { return error_; }
  bool limit_exceeded() const { return limit_exceeded_; }  // the error is a limit (HTTP 413), not bad syntax

 private:
  enum class State { preamble, after_delimiter, headers, body, epilogue, failed };
  MultipartStatus run();
  MultipartStatus fail(std::string why, bool limit = false);
  bool parse_headers(std::string_view block);

  std::string delimiter_;  // CRLF "--" boundary
  MultipartLimits limits_;
  State state_ = State::preamble;
  std::string buf_;  // bytes not yet consumed
  std::size_t total_ = 0;
  std::vector<MultipartPart> parts_;
  std::string error_;
  bool limit_exceeded_ = false;
};

}  // namespace listd::web
