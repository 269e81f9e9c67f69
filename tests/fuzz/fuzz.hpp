// fuzz.hpp - helpers shared by the libFuzzer targets in tests/fuzz/ (docs/fuzzing.md).
//
// FUZZ_CHECK turns a broken invariant into an abort() with a message, so libFuzzer saves the
// input as a crash exactly as it does for a sanitizer report. pieces() cuts the input at
// offsets derived from the input itself (deterministic: the same input gives the same cuts),
// so push parsers are fed in arbitrary chunks and compared against one whole feed.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond, what)                                                                  \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  %s\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                                  \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

namespace fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// pieces - `in` cut into chunks of 1..max_chunk bytes; the lengths come from an FNV-1a hash of
// the input driving a xorshift generator.
inline std::vector<std::string_view> pieces(std::string_view in, unsigned max_chunk = 7) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : in) h = (h ^ c) * 1099511628211ull;
  if (h == 0) h = 1;
  std::vector<std::string_view> out;
  while (!in.empty()) {
    h ^= h << 13;
    h ^= h >> 7;
    h ^= h << 17;
    std::size_t n = 1 + h % max_chunk;
    if (n > in.size()) n = in.size();
    out.push_back(in.substr(0, n));
    in.remove_prefix(n);
  }
  return out;
}

// split_first_line - "a\nrest" -> ("a", "rest"); no LF -> (in, "").
inline std::pair<std::string_view, std::string_view> split_first_line(std::string_view in) {
  auto lf = in.find('\n');
  if (lf == std::string_view::npos) return {in, {}};
  return {in.substr(0, lf), in.substr(lf + 1)};
}

}  // namespace fuzz
