// imap_parser.cpp - fuzz target: IMAP commands with literals (imap/parser). The stream is
// parsed once whole and once in input-chosen pieces; commands and errors (not continuation
// requests, which depend on timing) must be the same. Every atom also goes through
// parse_sequence_set(). The first byte picks small limits so each one is reached.
// Invariants: same events for any split; limits hold for what is returned; a sequence set
// gives ordered, non-zero ranges no higher than '*'.
#include "imap/parser.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

std::size_t count(const std::vector<imap::Value>& v, std::size_t depth, std::size_t* max_depth) {
  std::size_t n = v.size();
  if (depth > *max_depth) *max_depth = depth;
  for (auto& x : v)
    if (x.is_list()) n += count(x.items, depth + 1, max_depth);
  return n;
}

void check_sequences(const std::vector<imap::Value>& v) {
  for (auto& x : v) {
    if (x.is_list()) {
      check_sequences(x.items);
      continue;
    }
    std::vector<imap::SeqRange> set;
    if (!imap::parse_sequence_set(x.text, 50, set)) continue;
    FUZZ_CHECK(!set.empty(), "empty sequence set accepted");
    for (auto& r : set) FUZZ_CHECK(r.lo >= 1 && r.lo <= r.hi, "bad range from " + x.text);
    (void)imap::in_sequence_set(set, 7);
  }
}

// events - "C tag name nargs" / "E tag error fatal" per event, in order.
std::vector<std::string> run(imap::CommandParser& p, bool* fatal, const imap::ParserLimits& lim) {
  std::vector<std::string> ev;
  while (!*fatal) {
    auto r = p.next();
    if (r.status == imap::Status::need_more) break;
    if (r.status == imap::Status::continuation) continue;
    if (r.status == imap::Status::error) {
      FUZZ_CHECK(!r.error.empty(), "error without text");
      ev.push_back("E " + r.tag + " " + r.error + (r.fatal ? " fatal" : ""));
      *fatal = r.fatal;
      continue;
    }
    auto& c = r.command;
    FUZZ_CHECK(!c.tag.empty() && !c.name.empty(), "command without tag or name");
    std::size_t depth = 0;
    FUZZ_CHECK(count(c.args, 0, &depth) <= lim.max_items, "more items than max_items");
    FUZZ_CHECK(depth <= lim.max_depth, "deeper than max_depth");
    for (auto& a : c.args)
      if (a.is_string()) FUZZ_CHECK(a.text.size() <= lim.max_command, "string over max_command");
    check_sequences(c.args);
    ev.push_back("C " + c.tag + " " + c.name + " " + std::to_string(c.args.size()));
  }
  return ev;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  std::string_view in = fuzz::as_text(data + 1, size - 1);
  imap::ParserLimits lim;
  if (mode & 1) {
    lim.max_line = 64;
    lim.max_literal = 16;
    lim.max_command = 128;
    lim.max_depth = 3;
    lim.max_items = 10;
  }
  imap::CommandParser whole(lim);
  bool fatal_whole = false;
  whole.feed(in);
  auto ev_whole = run(whole, &fatal_whole, lim);

  imap::CommandParser split(lim);
  bool fatal_split = false;
  std::vector<std::string> ev_split;
  for (auto piece : fuzz::pieces(in, (mode & 2) ? 3 : 40)) {
    if (fatal_split) break;
    split.feed(piece);
    for (auto& e : run(split, &fatal_split, lim)) ev_split.push_back(std::move(e));
  }
  auto show = [](const std::vector<std::string>& ev) {
    std::string s;
    for (auto& e : ev) s += "\n    " + e;
    return s;
  };
  FUZZ_CHECK(fatal_whole == fatal_split && ev_whole == ev_split,
             "events differ between whole and split input:" + show(ev_whole) + "\n  split:" + show(ev_split));
  return 0;
}
