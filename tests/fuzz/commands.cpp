// commands.cpp - fuzz target: email commands in a message to NAME-request@ (listd/commands
// parse_commands). The first input line is the Subject, the rest the body text. Invariants:
// at most kMaxCommands commands and kMaxUnrecognised unrecognised lines; verbs are lower case
// and one of the known set; every command keeps its line; no command is taken twice.
#include <set>

#include "listd/commands.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto [subject, body] = fuzz::split_first_line(fuzz::as_text(data, size));
  auto r = listd::parse_commands(subject, body);
  FUZZ_CHECK(r.commands.size() <= static_cast<std::size_t>(listd::kMaxCommands), "too many commands");
  FUZZ_CHECK(r.unrecognised.size() <= static_cast<std::size_t>(listd::kMaxUnrecognised), "too many unrecognised");
  static const std::set<std::string> kVerbs = {"subscribe", "unsubscribe", "confirm", "help", "info", "who", "set"};
  for (std::size_t i = 0; i < r.commands.size(); ++i) {
    auto& c = r.commands[i];
    FUZZ_CHECK(kVerbs.count(c.verb) == 1, "unknown verb '" + c.verb + "'");
    FUZZ_CHECK(!c.line.empty(), "command without its line");
    for (auto& a : c.args) FUZZ_CHECK(!a.empty(), "empty argument");
    for (std::size_t j = 0; j < i; ++j)
      FUZZ_CHECK(r.commands[j].verb != c.verb || r.commands[j].args != c.args, "the same command twice");
  }
  return 0;
}
