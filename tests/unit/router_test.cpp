// router_test.cpp - every list address form routes to the right role; anything else is refused.
#include <gtest/gtest.h>

#include "listd/router.hpp"

using namespace listd;

namespace {
bool exists(const std::string& n, const std::string& h) {
  return h == "lists.mired.org" && (n == "mi_lista" || n == "dev" || n == "a-b");
}

struct RouteRow {
  const char* name;
  const char* address;
  bool routed;
  const char* list;
  Role role;
  const char* detail;
};

// Test names print the row's name: gtest's default prints the raw bytes, padding included,
// which Valgrind reports as uninitialised reads.
void PrintTo(const RouteRow& r, std::ostream* os) {
  *os << r.name;
}

class Routes : public ::testing::TestWithParam<RouteRow> {};
}  // namespace

TEST_P(Routes, Row) {
  const auto& p = GetParam();
  auto r = route_address(p.address, exists);
  ASSERT_EQ(r.has_value(), p.routed) << p.address;
  if (!r) return;
  EXPECT_EQ(r->list_name, p.list);
  EXPECT_EQ(r->host, "lists.mired.org");
  EXPECT_EQ(r->role, p.role);
  EXPECT_EQ(r->detail, p.detail);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, Routes,
    ::testing::Values(
        RouteRow{"post", "mi_lista@lists.mired.org", true, "mi_lista", Role::post, ""},
        RouteRow{"post_uppercase", "MI_LISTA@Lists.Mired.ORG", true, "mi_lista", Role::post, ""},
        RouteRow{"request", "mi_lista-request@lists.mired.org", true, "mi_lista", Role::request, ""},
        RouteRow{"join", "mi_lista-join@lists.mired.org", true, "mi_lista", Role::join, ""},
        RouteRow{"subscribe", "mi_lista-subscribe@lists.mired.org", true, "mi_lista", Role::join, ""},
        RouteRow{"leave", "mi_lista-leave@lists.mired.org", true, "mi_lista", Role::leave, ""},
        RouteRow{"unsubscribe", "mi_lista-unsubscribe@lists.mired.org", true, "mi_lista", Role::leave, ""},
        RouteRow{"owner", "mi_lista-owner@lists.mired.org", true, "mi_lista", Role::owner, ""},
        RouteRow{"bounces", "mi_lista-bounces@lists.mired.org", true, "mi_lista", Role::bounces, ""},
        RouteRow{"verp", "mi_lista-bounces+bob=mired.org@lists.mired.org", true, "mi_lista", Role::bounces,
                 "bob=mired.org"},
        RouteRow{"confirm", "mi_lista-confirm+0123abcd@lists.mired.org", true, "mi_lista", Role::confirm, "0123abcd"},
        RouteRow{"hyphenated_list", "a-b-owner@lists.mired.org", true, "a-b", Role::owner, ""},
        RouteRow{"hyphenated_post", "a-b@lists.mired.org", true, "a-b", Role::post, ""},
        RouteRow{"unknown_list", "nosuch@lists.mired.org", false, "", Role::post, ""},
        RouteRow{"unknown_list_request", "nosuch-request@lists.mired.org", false, "", Role::post, ""},
        RouteRow{"foreign_domain", "mi_lista@example.org", false, "", Role::post, ""},
        RouteRow{"confirm_without_token", "mi_lista-confirm@lists.mired.org", false, "", Role::post, ""},
        RouteRow{"detail_on_post", "mi_lista+x@lists.mired.org", false, "", Role::post, ""},
        RouteRow{"detail_on_owner", "mi_lista-owner+x@lists.mired.org", false, "", Role::post, ""},
        RouteRow{"bad_verp", "mi_lista-bounces+nobody@lists.mired.org", false, "", Role::post, ""},
        RouteRow{"percent_hack", "bob%mired.org@lists.mired.org", false, "", Role::post, ""},
        RouteRow{"bang_path", "mired.org!bob@lists.mired.org", false, "", Role::post, ""},
        RouteRow{"empty", "", false, "", Role::post, ""}, RouteRow{"no_at", "mi_lista", false, "", Role::post, ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Router, VerpDecode) {
  EXPECT_EQ(verp_decode("bob=mired.org").value_or(""), "bob@mired.org");
  EXPECT_EQ(verp_decode("a=b=mired.org").value_or(""), "a=b@mired.org");
  EXPECT_FALSE(verp_decode("nobody"));
  EXPECT_FALSE(verp_decode("=mired.org"));
  EXPECT_FALSE(verp_decode("bob="));
}

TEST(Router, NulByteIsNotTruncation) {
  std::string with_nul("mi_lista\0x@lists.mired.org", 26);
  EXPECT_FALSE(route_address(with_nul, exists));
}
