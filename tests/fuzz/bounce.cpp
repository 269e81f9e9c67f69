// bounce.cpp - fuzz target: the bounce/DSN detector (listd/bounce bounce_parse), with and
// without a VERP address (first byte). Invariants: a non-bounce names nobody; at most
// kMaxBouncedAddresses addresses, each already normalised (normalize_address is a no-op on
// it) and unique; a 4.x.x status is never permanent; status and diagnostic are one line.
#include <set>

#include "listd/bounce.hpp"
#include "smtp/address.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string verp = (data[0] & 1) ? "ana@mired.org" : "";
  auto r = listd::bounce_parse(fuzz::as_text(data + 1, size - 1), verp);
  if (!r.is_bounce) {
    FUZZ_CHECK(r.addresses.empty(), "not a bounce but names addresses");
    return 0;
  }
  FUZZ_CHECK(!r.format.empty(), "bounce without a format");
  FUZZ_CHECK(r.addresses.size() <= listd::kMaxBouncedAddresses, "too many addresses");
  std::set<std::string> seen;
  for (auto& a : r.addresses) {
    auto n = smtp::normalize_address(a.address, true);
    FUZZ_CHECK(n && *n == a.address, "address not normalised: " + a.address);
    FUZZ_CHECK(seen.insert(a.address).second, "address twice: " + a.address);
    FUZZ_CHECK(a.diagnostic.find_first_of("\r\n") == std::string::npos, "diagnostic with a line break");
    FUZZ_CHECK(a.status.find_first_of("\r\n") == std::string::npos, "status with a line break");
    if (!a.status.empty() && a.status[0] == '4') FUZZ_CHECK(!a.permanent, "4.x.x status counted as permanent");
  }
  return 0;
}
