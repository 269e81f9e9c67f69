// address.cpp - fuzz target: RFC 5321 mailboxes (smtp/address). The first byte picks the
// SMTPUTF8 mode. Invariants: parse -> str() -> parse gives the same mailbox; normalize is
// idempotent and agrees with parse; limits (64/255/256 octets) hold for anything accepted;
// accepted text has no control bytes; valid_domain() accepts every parsed domain.
#include "smtp/address.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool utf8 = data[0] & 1;
  std::string_view in = fuzz::as_text(data + 1, size - 1);
  auto r = smtp::parse_mailbox(in, utf8);
  auto n = smtp::normalize_address(in, utf8);
  FUZZ_CHECK(r.mailbox.has_value() == n.has_value(), "parse and normalize disagree");
  if (!r) {
    (void)smtp::to_string(r.error);
    return 0;
  }
  const auto& m = *r.mailbox;
  FUZZ_CHECK(!m.local.empty() && m.local.size() <= smtp::kMaxLocalPart, "local part size");
  FUZZ_CHECK(!m.domain.empty() && m.domain.size() <= smtp::kMaxDomain, "domain size");
  FUZZ_CHECK(m.str().size() <= smtp::kMaxPath, "path size");
  for (unsigned char c : m.str()) FUZZ_CHECK(c >= 32 && c != 127, "control byte accepted");
  if (!utf8)
    for (unsigned char c : m.str()) FUZZ_CHECK(c < 128, "non-ASCII accepted without SMTPUTF8");
  FUZZ_CHECK(smtp::valid_domain(m.domain, utf8), "parsed domain is not valid_domain()");

  auto again = smtp::parse_mailbox(m.str(), utf8);
  FUZZ_CHECK(again.mailbox.has_value(), "formatted mailbox does not parse: " + m.str());
  FUZZ_CHECK(again.mailbox->local == m.local && again.mailbox->domain == m.domain, "round trip changed it");
  auto n2 = smtp::normalize_address(*n, utf8);
  FUZZ_CHECK(n2 && *n2 == *n, "normalize is not idempotent: " + *n);
  return 0;
}
