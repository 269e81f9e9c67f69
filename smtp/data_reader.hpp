// data_reader.hpp - the message content of DATA (dot-terminated) and BDAT (chunked) transfers.
//
// Pure: bytes in, unstuffed content out, no I/O. Used by ServerSession for every transaction.
// Only <CR><LF>.<CR><LF> ends DATA (RFC 5321 §4.1.1.4); a line starting with '.' loses that dot
// (§4.5.2). Bare CR and bare LF never end a line or the data: they are passed through as
// content and flagged, so the session can refuse the message (SMTP smuggling, CVE-2023-51764,
// SECURITY S-01/S-02). Also flagged, never fatal mid-stream (the data is always read to its
// end so one DATA gives one reply): size over the limit (content stops being copied, memory
// stays flat), text lines over max_line octets with CRLF (§4.5.3.1.6), NUL bytes, too many
// Received: header fields (a loop), content that does not start with a header field, and a
// header over the size / field count / field size caps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace smtp {

struct DataLimits {
  std::uint64_t max_size = 10485760;  // content octets (after unstuffing, CRLF counted as 2)
  std::size_t max_line = 1000;        // octets per line including the CRLF
  unsigned max_received = 100;        // Received: fields in the header at which we refuse
  // Header caps (SECURITY S-05). The header ends at the first empty line, or at the first line
  // that is neither a field ("name:") nor a folded continuation (SP/HT first).
  std::size_t max_header_size = 65536;        // octets of the header, CRLFs included
  unsigned max_header_fields = 1000;          // fields; a folded field counts once
  std::size_t max_header_field_size = 32768;  // octets of one field with its folded lines
};

enum class DataProblem {
  none,
  too_big,
  long_line,
  bare_cr,
  bare_lf,
  nul,
  too_many_hops,
  no_header,
  header_too_big,
  too_many_fields,
  field_too_big
};
const char* to_string(DataProblem p);

class DataReader {
 public:
  enum class Mode { dot, chunked };
  DataReader(Mode mode, DataLimits limits);

  // feed - consume bytes and append the content to `out`. In dot mode stops right after the
  // terminator (done() is then true) and returns how many bytes it used; the rest belongs to
  // the next command. In chunked mode everything given is content.
  std::size_t feed(std::string_view in, std::string& out);
  // finish - chunked mode, after the LAST chunk: settle a CR held back at the very end.
  void finish(std::string& out);

  bool done() const { return state_ == State::done; }
  std::uint64_t size() const { return size_; }
  // problem - the first problem found (the one the session reports); none if the content is fine.
  DataProblem problem() const { return problem_; }

 private:
  enum class State { line_start, mid, cr, dot, dot_cr, done };
  void mid(char c, std::string& out);
  void emit(char c, std::string& out);
  void end_of_line();
  void flag(DataProblem p) {
    if (problem_ == DataProblem::none) problem_ = p;
  }

  Mode mode_;
  DataLimits lim_;
  State state_ = State::line_start;
  std::uint64_t size_ = 0;
  std::size_t line_len_ = 0;
  DataProblem problem_ = DataProblem::none;
  // Header bookkeeping.
  bool in_header_ = true;
  bool first_line_ = true;
  int name_state_ = 0;  // header line: 0 scanning a field name, 1 saw "name:", 2 not a field name
  std::size_t header_size_ = 0, field_size_ = 0;
  unsigned fields_ = 0;
  char prefix_[9] = {};
  std::size_t prefix_len_ = 0;
  unsigned received_ = 0;
};

}  // namespace smtp
