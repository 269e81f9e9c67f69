// address_test.cpp - RFC 5321 mailbox parsing at and past its limits.
#include <gtest/gtest.h>

#include "smtp/address.hpp"

using namespace smtp;

struct AddrRow {
  const char* name;
  std::string text;
  bool ok;
  AddressError error;
};

// The row's name only (gtest's default prints raw bytes, padding included: Valgrind noise).
void PrintTo(const AddrRow& r, std::ostream* os) {
  *os << r.name;
}

class Addresses : public ::testing::TestWithParam<AddrRow> {};

TEST_P(Addresses, Row) {
  auto r = parse_mailbox(GetParam().text);
  EXPECT_EQ(static_cast<bool>(r), GetParam().ok) << GetParam().text;
  if (!GetParam().ok) {
    EXPECT_EQ(r.error, GetParam().error) << to_string(r.error);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, Addresses,
    ::testing::Values(
        AddrRow{"plain", "ana@mired.org", true, {}}, AddrRow{"dots_plus", "ana.b+tag@sub.mired.org", true, {}},
        AddrRow{"quoted", "\"ana b\"@mired.org", true, {}}, AddrRow{"quoted_escape", "\"a\\\"b\"@mired.org", true, {}},
        AddrRow{"local_64", std::string(64, 'a') + "@mired.org", true, {}},
        AddrRow{"local_65", std::string(65, 'a') + "@mired.org", false, AddressError::too_long},
        AddrRow{"path_over_256", "a@" + std::string(251, 'b') + ".org", false, AddressError::too_long},
        AddrRow{"label_64", "a@" + std::string(64, 'b') + ".org", false, AddressError::bad_domain},
        AddrRow{"empty", "", false, AddressError::empty}, AddrRow{"no_at", "ana", false, AddressError::missing_at},
        AddrRow{"empty_local", "@mired.org", false, AddressError::bad_local},
        AddrRow{"empty_quoted", "\"\"@mired.org", false, AddressError::bad_local},
        AddrRow{"space_quoted", "\" \"@mired.org", false, AddressError::bad_local},
        AddrRow{"unbalanced_quote", "\"ana@mired.org", false, AddressError::bad_local},
        AddrRow{"double_dot", "a..b@mired.org", false, AddressError::bad_local},
        AddrRow{"leading_dot", ".a@mired.org", false, AddressError::bad_local},
        AddrRow{"space", "a b@mired.org", false, AddressError::bad_local},
        AddrRow{"cr", "a\rb@mired.org", false, AddressError::control_char},
        AddrRow{"nul", std::string("a\0b@mired.org", 13), false, AddressError::control_char},
        AddrRow{"utf8", "jos\xc3\xa9@mired.org", false, AddressError::non_ascii},
        AddrRow{"no_dot_domain", "ana@localhost", false, AddressError::bad_domain},
        AddrRow{"literal", "ana@[127.0.0.1]", false, AddressError::bad_domain},
        AddrRow{"hyphen_label", "ana@-mired.org", false, AddressError::bad_domain},
        AddrRow{"bang", "a!b@mired.org", true, {}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Address, Normalize) {
  EXPECT_EQ(normalize_address("Ana@Mired.ORG").value_or(""), "ana@mired.org");
  EXPECT_FALSE(normalize_address("not an address"));
  EXPECT_EQ(normalize_address("jos\xc3\xa9@mired.org", true).value_or(""), "jos\xc3\xa9@mired.org");
}
