// wire.hpp - render a stored message (LF or CRLF line ends) into SMTP wire form, once per job.
//
// Called by the relay (listd/relay.cpp) when a job starts; every transaction of that job then
// shares the result. Two forms: DATA form (CRLF, dot-stuffed, terminated by ".\r\n", RFC 5321
// 4.5.2 and 4.1.1.4) and BDAT form (CRLF only, RFC 3030: chunks are not dot-stuffed). A bare
// LF becomes CRLF; an existing CRLF stays; a lone CR is passed through. A message not ending
// in a line end gets one. WireEncoder is resumable (feed any split of the input, same output).
// No errors: every byte sequence has a wire form.
#pragma once

#include <string>
#include <string_view>

namespace smtp {

class WireEncoder {
 public:
  explicit WireEncoder(bool dot_stuff) : stuff_(dot_stuff) {}
  // Resume at a segment boundary: `line_start` says whether the output so far ends a line
  // (the relay renders a message in segments, listd/relay_personalize.hpp).
  WireEncoder(bool dot_stuff, bool line_start) : stuff_(dot_stuff), line_start_(line_start) {}
  // feed - append the wire form of `in` to `out`.
  void feed(std::string_view in, std::string& out);
  // finish - close the last line; in dot-stuffing mode also append the ".\r\n" terminator.
  void finish(std::string& out);
  // at_line_start - the output so far ends a line (no CR pending): the next '.' is stuffed.
  bool at_line_start() const { return line_start_ && !pending_cr_; }

 private:
  bool stuff_;
  bool line_start_ = true;
  bool pending_cr_ = false;  // a CR was seen, its LF (if any) not yet
};

// render_data - DATA form of a whole message (ends with "\r\n.\r\n").
std::string render_data(std::string_view message);
// render_bdat - BDAT form of a whole message (CRLF line ends, not stuffed, ends with CRLF).
std::string render_bdat(std::string_view message);

}  // namespace smtp
