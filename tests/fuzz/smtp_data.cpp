// smtp_data.cpp - fuzz target: DATA and BDAT content (smtp/data_reader). Dot mode is checked
// against a reference reading of RFC 5321 §4.1.1.4/§4.5.2: DATA ends exactly after the first
// <CRLF>.<CRLF> (or a "." CRLF first line) and at no other place (bare CR or LF never end it),
// and the content is the input up to that CRLF with one leading dot removed per line. Every
// split of the input gives the same content and problem; chunked mode passes bytes unchanged.
// The relay's side (smtp/wire): render_data() of any stored message ends with <CRLF>.<CRLF>
// and holds no earlier terminator, and WireEncoder gives the same bytes for any split.
// The first input byte picks small limits (max_size, max_line) so the flags are reached.
#include "smtp/data_reader.hpp"
#include "smtp/wire.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

// reference - what DATA must yield: (bytes consumed or npos, content).
std::pair<std::size_t, std::string> reference(std::string_view in) {
  std::size_t end = std::string_view::npos, content_end = 0;
  if (in.substr(0, 3) == ".\r\n") {
    end = 3;
  } else if (auto p = in.find("\r\n.\r\n"); p != std::string_view::npos) {
    end = p + 5;
    content_end = p + 2;
  }
  std::string_view body = end == std::string_view::npos ? in : in.substr(0, content_end);
  std::string out;
  bool line_start = true;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (line_start && body[i] == '.') {
      line_start = false;
      continue;
    }
    out.push_back(body[i]);
    line_start = body[i] == '\n' && i > 0 && body[i - 1] == '\r';
  }
  // Unterminated input ending in CR: the reader holds that CR back until it sees what follows.
  if (end == std::string_view::npos && !out.empty() && out.back() == '\r') out.pop_back();
  return {end, out};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  std::string_view in = fuzz::as_text(data + 1, size - 1);
  smtp::DataLimits lim;
  lim.max_size = (mode & 1) ? 64 : 1 << 20;
  lim.max_line = (mode & 2) ? 20 : 1000;
  lim.max_received = (mode & 4) ? 2 : 100;

  // Dot mode, one feed.
  smtp::DataReader whole(smtp::DataReader::Mode::dot, lim);
  std::string out_whole;
  std::size_t used = whole.feed(in, out_whole);
  auto [ref_end, ref_content] = reference(in);
  if (ref_end == std::string_view::npos) {
    FUZZ_CHECK(!whole.done() && used == in.size(), "DATA ended without <CRLF>.<CRLF>");
  } else {
    FUZZ_CHECK(whole.done() && used == ref_end, "DATA did not end right after the first <CRLF>.<CRLF>");
  }
  FUZZ_CHECK(whole.size() == ref_content.size(), "size() " + std::to_string(whole.size()) +
                                                     " is not the content size " + std::to_string(ref_content.size()) +
                                                     " out " + std::to_string(out_whole.size()));
  if (ref_content.size() <= lim.max_size) {
    FUZZ_CHECK(out_whole == ref_content, "content differs from the unstuffed input");
  } else {
    FUZZ_CHECK(whole.problem() != smtp::DataProblem::none, "oversize not flagged");
    FUZZ_CHECK(out_whole == ref_content.substr(0, lim.max_size), "oversize content not a prefix");
  }

  // Dot mode, fed in pieces: the same outcome.
  smtp::DataReader split(smtp::DataReader::Mode::dot, lim);
  std::string out_split;
  std::size_t used_split = 0;
  for (auto piece : fuzz::pieces(in)) {
    if (split.done()) break;
    used_split += split.feed(piece, out_split);
  }
  FUZZ_CHECK(split.done() == whole.done() && used_split == used, "split feed ends elsewhere");
  FUZZ_CHECK(out_split == out_whole && split.problem() == whole.problem(), "split feed differs");

  // Chunked (BDAT): every byte is content, in any split.
  smtp::DataReader chunked(smtp::DataReader::Mode::chunked, lim);
  std::string out_chunked;
  for (auto piece : fuzz::pieces(in, 13)) FUZZ_CHECK(chunked.feed(piece, out_chunked) == piece.size(), "BDAT short");
  chunked.finish(out_chunked);
  FUZZ_CHECK(chunked.size() == in.size(), "BDAT size");
  FUZZ_CHECK(out_chunked == in.substr(0, std::min<std::size_t>(in.size(), lim.max_size)), "BDAT content changed");

  // The relay's wire form of the same bytes as a stored message.
  std::string wire = smtp::render_data(in);
  FUZZ_CHECK((wire.size() >= 5 && wire.compare(wire.size() - 5, 5, "\r\n.\r\n") == 0) || wire == ".\r\n",
             "DATA form without its terminator");
  FUZZ_CHECK(wire.rfind(".\r\n", 0) != 0 || wire.size() == 3, "DATA form starts with a terminator");
  FUZZ_CHECK(wire.find("\r\n.\r\n") == wire.size() - 5 || wire == ".\r\n", "DATA form ends early");
  for (bool stuff : {true, false}) {
    smtp::WireEncoder enc(stuff);
    std::string pieced;
    for (auto piece : fuzz::pieces(in, 5)) enc.feed(piece, pieced);
    enc.finish(pieced);
    FUZZ_CHECK(pieced == (stuff ? wire : smtp::render_bdat(in)), "WireEncoder differs for a split input");
  }
  return 0;
}
