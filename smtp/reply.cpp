// reply.cpp - rendering of SMTP replies; see reply.hpp.
#include "smtp/reply.hpp"

namespace smtp {

namespace {
void append_clean(std::string& out, const std::string& text) {
  for (char c : text) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
}
}  // namespace

std::string Reply::wire() const {
  std::string out;
  std::vector<std::string> ls = lines.empty() ? std::vector<std::string>{""} : lines;
  for (std::size_t i = 0; i < ls.size(); ++i) {
    out += std::to_string(code);
    out += i + 1 < ls.size() ? '-' : ' ';
    if (!enhanced.empty()) {
      out += enhanced;
      out += ' ';
    }
    append_clean(out, ls[i]);
    out += "\r\n";
  }
  return out;
}

std::string Reply::first_line() const {
  std::string w = wire();
  return w.substr(0, w.find("\r\n"));
}

}  // namespace smtp
