// wire.cpp - see wire.hpp.
#include "smtp/wire.hpp"

namespace smtp {

void WireEncoder::feed(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size() + in.size() / 32 + 8);
  std::size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {  // CRLF in the input
        out += "\r\n";
        line_start_ = true;
        ++i;
        continue;
      }
      out += '\r';  // a lone CR: data, not a line end
      line_start_ = false;
    }
    if (c == '\r') {
      pending_cr_ = true;
      ++i;
      continue;
    }
    if (c == '\n') {
      out += "\r\n";
      line_start_ = true;
      ++i;
      continue;
    }
    if (line_start_ && stuff_ && c == '.') out += '.';
    line_start_ = false;
    // Copy the run up to the next CR or LF in one go.
    std::size_t j = i;
    while (j < in.size() && in[j] != '\r' && in[j] != '\n') ++j;
    out.append(in.data() + i, j - i);
    i = j;
  }
}

void WireEncoder::finish(std::string& out) {
  if (pending_cr_) {
    pending_cr_ = false;
    out += "\r\n";  // a trailing CR closes the last line
    line_start_ = true;
  }
  if (!line_start_) out += "\r\n";
  line_start_ = true;
  if (stuff_) out += ".\r\n";
}

std::string render_data(std::string_view message) {
  std::string out;
  WireEncoder e(true);
  e.feed(message, out);
  e.finish(out);
  return out;
}

std::string render_bdat(std::string_view message) {
  std::string out;
  WireEncoder e(false);
  e.feed(message, out);
  e.finish(out);
  return out;
}

}  // namespace smtp
