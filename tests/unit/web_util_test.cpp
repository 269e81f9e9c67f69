// web_util_test.cpp - percent decoding (whole, and every prefix), forms, cookies, escaping.
#include <gtest/gtest.h>

#include "web-admin/auth.hpp"
#include "web-admin/http_util.hpp"

using namespace listd::web;

TEST(WebUtil, PercentDecodeTable) {
  struct Case {
    const char* in;
    bool plus;
    const char* out;  // nullptr: refused
  };
  const Case cases[] = {
      {"abc", false, "abc"},   {"a%20b", false, "a b"}, {"a+b", false, "a+b"},         {"a+b", true, "a b"},
      {"%2e%2E", false, ".."}, {"%2F", false, "/"},     {"%", false, nullptr},         {"%4", false, nullptr},
      {"%zz", false, nullptr}, {"%00", false, nullptr}, {"%C3%B1", false, "\xC3\xB1"}, {"100%25", false, "100%"},
      {"", false, ""},
  };
  for (auto& c : cases) {
    auto r = percent_decode(c.in, c.plus);
    if (c.out == nullptr) {
      EXPECT_FALSE(r.has_value()) << c.in;
    } else {
      ASSERT_TRUE(r.has_value()) << c.in;
      EXPECT_EQ(*r, c.out) << c.in;
    }
  }
}

TEST(WebUtil, PercentDecodeEveryPrefixNeverCrashes) {
  std::string s = "a%41%zz%4%2B+%00%C3%B1";
  for (std::size_t i = 0; i <= s.size(); ++i) (void)percent_decode(s.substr(0, i), true);
  EXPECT_EQ(percent_encode("a b/<>@x"), "a%20b%2F%3C%3E@x");
  EXPECT_EQ(*percent_decode(percent_encode("ñ \"'<x>&")), "ñ \"'<x>&");
}

TEST(WebUtil, Forms) {
  auto f = parse_form("a=1&b=x+y&a=2&&c=%3Cscript%3E&d");
  ASSERT_TRUE(f);
  EXPECT_EQ(form_get(*f, "a"), "1");
  EXPECT_EQ(form_all(*f, "a"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(form_get(*f, "b"), "x y");
  EXPECT_EQ(form_get(*f, "c"), "<script>");
  EXPECT_EQ(form_get(*f, "d"), "");
  EXPECT_EQ(form_get(*f, "zz"), "");
  EXPECT_FALSE(parse_form("a=%G1"));
}

TEST(WebUtil, Cookies) {
  EXPECT_EQ(cookie_get("a=1; listd_session=abc; b=2", "listd_session"), "abc");
  EXPECT_EQ(cookie_get("xlistd_session=evil; listd_session=good", "listd_session"), "good");
  EXPECT_EQ(cookie_get("listd_session=\"q\"", "listd_session"), "q");
  EXPECT_EQ(cookie_get("a=1", "listd_session"), "");
  EXPECT_EQ(cookie_get("", "x"), "");
  EXPECT_EQ(cookie_get(";;=;x", "x"), "");
}

TEST(WebUtil, EscapingAndLoopbackAndCsrfCompare) {
  EXPECT_EQ(html_escape("<a href=\"javascript:x\">'&'</a>"),
            "&lt;a href=&quot;javascript:x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_TRUE(is_loopback_address("127.0.0.1"));
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_TRUE(is_loopback_address("::ffff:127.0.0.2"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1"));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", ""));  // an empty token never matches
  EXPECT_EQ(month_key(0), "1970-01");
  EXPECT_EQ(format_date(1796119200), "2026-12-01 10:00");
}
