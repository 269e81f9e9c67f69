// web_view_test.cpp - archive_view: the text/plain alternative is preferred, HTML is kept as
// source text (escaping happens in the template), attachments are listed with their decoded
// bytes, hostile or missing file names survive, garbage never throws.
#include <gtest/gtest.h>

#include "web-admin/archive_view.hpp"

using namespace listd::web;

TEST(WebView, AlternativePrefersPlainText) {
  const char* m =
      "From: a@b\nSubject: =?utf-8?q?caf=C3=A9?=\nMIME-Version: 1.0\nContent-Type: multipart/alternative; "
      "boundary=X\n\n--X\nContent-Type: text/plain; charset=utf-8\n\nplain body\n--X\nContent-Type: "
      "text/html\n\n<b>html body</b>\n--X--\n";
  auto v = render_message(m);
  EXPECT_NE(v.text.find("plain body"), std::string::npos);
  EXPECT_EQ(v.text.find("html body"), std::string::npos);
  EXPECT_NE(v.headers.find("Subject: café"), std::string::npos);
  EXPECT_TRUE(v.attachments.empty());
}

TEST(WebView, HtmlOnlyIsSourceTextAndAttachmentsAreDecoded) {
  const char* m =
      "From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/html\n\n"
      "<script>x()</script>\n--X\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
      "Content-Disposition: attachment; filename=\"../../etc/<passwd>\"\n\naGVsbG8=\n--X\n"
      "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\nAAEC\n--X--\n";
  auto v = render_message(m, true);
  EXPECT_NE(v.text.find("[HTML part, shown as source]\n<script>x()</script>"), std::string::npos);
  ASSERT_EQ(v.attachments.size(), 2u);
  EXPECT_EQ(v.attachments[0].filename, "../../etc/<passwd>");  // shown escaped, downloaded sanitised
  EXPECT_EQ(v.attachments[0].data, "hello");
  EXPECT_EQ(v.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(v.attachments[1].filename, "part-2.bin");
  EXPECT_EQ(v.attachments[1].size, 3u);
  EXPECT_TRUE(render_message(m, false).attachments[0].data.empty());
}

TEST(WebView, GarbageAndDeepNestingNeverThrow) {
  EXPECT_NO_THROW(render_message(""));
  EXPECT_NO_THROW(render_message("\x01\x02 not a message at all"));
  std::string deep = "Content-Type: multipart/mixed; boundary=B0\n\n";
  for (int i = 1; i < 60; ++i)
    deep += "--B" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=B" + std::to_string(i) + "\n\n";
  deep += "--B59\nContent-Type: text/plain\n\ndeep\n";
  MessageView v;
  EXPECT_NO_THROW(v = render_message(deep));
  EXPECT_EQ(v.text.find("deep"), std::string::npos);  // beyond kMaxDepth: not shown, no crash
}
