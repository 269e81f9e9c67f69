// web_multipart_test.cpp - the multipart/form-data parser (web-admin/multipart.hpp), the
// archive search query builder (web-admin/archive_query.hpp) and the prepared statement cache
// (web-admin/stmt_cache.hpp). Table-driven: every body is fed
// whole, byte by byte, and split in two at every offset, and must give the same parts (or the
// same refusal); limits answer error with limit_exceeded().
#include <gtest/gtest.h>

#include "web-admin/archive_query.hpp"
#include "web-admin/multipart.hpp"
#include "web-admin/stmt_cache.hpp"

using namespace listd::web;

namespace {

struct Outcome {
  MultipartStatus status;
  std::vector<MultipartPart> parts;
  bool limit = false;
};

// feed - the body in the pieces given by CUTS (offsets), then finish().
Outcome feed(const std::string& boundary, const std::string& body, const std::vector<std::size_t>& cuts,
             MultipartLimits lim = {}) {
  MultipartParser p(boundary, lim);
  MultipartStatus st = MultipartStatus::need_more;
  std::size_t at = 0;
  std::vector<std::size_t> all = cuts;
  all.push_back(body.size());
  for (auto cut : all) {
    if (st == MultipartStatus::error) break;
    st = p.feed(std::string_view(body).substr(at, cut - at));
    at = cut;
  }
  if (st != MultipartStatus::error) st = p.finish();
  return {st, p.parts(), p.limit_exceeded()};
}

// every_split - whole, byte by byte, and every two-piece split must agree with each other.
Outcome every_split(const std::string& boundary, const std::string& body, MultipartLimits lim = {}) {
  Outcome whole = feed(boundary, body, {}, lim);
  std::vector<std::size_t> bytes;
  for (std::size_t i = 1; i < body.size(); ++i) bytes.push_back(i);
  auto check = [&](const Outcome& o, const std::string& how) {
    EXPECT_EQ(o.status, whole.status) << how;
    EXPECT_EQ(o.limit, whole.limit) << how;
    if (whole.status != MultipartStatus::done) return;
    ASSERT_EQ(o.parts.size(), whole.parts.size()) << how;
    for (std::size_t i = 0; i < o.parts.size(); ++i) {
      EXPECT_EQ(o.parts[i].name, whole.parts[i].name) << how;
      EXPECT_EQ(o.parts[i].data, whole.parts[i].data) << how;
      EXPECT_EQ(o.parts[i].filename, whole.parts[i].filename) << how;
    }
  };
  check(feed(boundary, body, bytes, lim), "byte by byte");
  for (std::size_t i = 0; i <= body.size(); ++i) check(feed(boundary, body, {i}, lim), "split at " + std::to_string(i));
  return whole;
}

const std::string kB = "----listdBoundary7MA4YWxk";

std::string curl_body() {
  return "--" + kB +
         "\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc123\r\n"
         "--" +
         kB +
         "\r\nContent-Disposition: form-data; name=\"addresses_file\"; filename=\"members.txt\"\r\n"
         "Content-Type: text/plain\r\n\r\nana@mired.org\r\nbob@mired.org\r\n\r\n"
         "--" +
         kB + "\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nadd\r\n--" + kB + "--\r\n";
}

}  // namespace

TEST(Multipart, BoundaryFromContentType) {
  struct Case {
    const char* ct;
    const char* boundary;  // nullptr: refused
  } cases[] = {
      {"multipart/form-data; boundary=abc", "abc"},
      {"Multipart/Form-Data; BOUNDARY=\"a b:c\"", "a b:c"},
      {"multipart/form-data;boundary=----WebKitFormBoundaryx1;charset=utf-8", "----WebKitFormBoundaryx1"},
      {"multipart/form-data", nullptr},
      {"multipart/mixed; boundary=abc", nullptr},
      {"multipart/form-data; boundary=", nullptr},
      {"multipart/form-data; boundary=\"trailing \"", nullptr},
      {"multipart/form-data; boundary=\"unclosed", nullptr},
      {"multipart/form-data; boundary=bad<char>", nullptr},
      {"multipart/form-data; boundary=\"01234567890123456789012345678901234567890123456789012345678901234567890\"",
       nullptr},  // 71 characters
  };
  for (auto& c : cases) {
    auto b = multipart_boundary(c.ct);
    if (c.boundary) {
      ASSERT_TRUE(b.has_value()) << c.ct;
      EXPECT_EQ(*b, c.boundary) << c.ct;
    } else {
      EXPECT_FALSE(b.has_value()) << c.ct;
    }
  }
}

TEST(Multipart, CurlStyleFormWithAFile) {
  auto o = every_split(kB, curl_body());
  ASSERT_EQ(o.status, MultipartStatus::done);
  ASSERT_EQ(o.parts.size(), 3u);
  EXPECT_EQ(o.parts[0].name, "csrf");
  EXPECT_EQ(o.parts[0].data, "abc123");
  EXPECT_FALSE(o.parts[0].filename.has_value());
  EXPECT_EQ(o.parts[1].name, "addresses_file");
  EXPECT_EQ(o.parts[1].filename, "members.txt");
  EXPECT_EQ(o.parts[1].content_type, "text/plain");
  EXPECT_EQ(o.parts[1].data, "ana@mired.org\r\nbob@mired.org\r\n");  // the CRLF before the delimiter is not data
  EXPECT_EQ(o.parts[2].data, "add");
}

TEST(Multipart, PreambleEpiloguePaddingEmptyFileAndQuotedNames) {
  std::string body = "This is a preamble.\r\n--" + kB +
                     "  \t\r\nContent-Disposition: form-data; name=\"a\\\"b\"; filename=\"\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n\r\n--" +
                     kB + "\r\ncontent-disposition:\r\n form-data; name=plain\r\n\r\nx--" + kB + "y\r\n--" + kB +
                     "--\r\nepilogue ignored --" + kB + "\r\n";
  auto o = every_split(kB, body);
  ASSERT_EQ(o.status, MultipartStatus::done);
  ASSERT_EQ(o.parts.size(), 2u);
  EXPECT_EQ(o.parts[0].name, "a\"b");
  ASSERT_TRUE(o.parts[0].filename.has_value());
  EXPECT_EQ(*o.parts[0].filename, "");  // a file input with no file chosen
  EXPECT_EQ(o.parts[0].data, "");
  EXPECT_EQ(o.parts[1].name, "plain");           // folded header line
  EXPECT_EQ(o.parts[1].data, "x--" + kB + "y");  // a boundary not after CRLF is data
}

TEST(Multipart, BinaryDataWithCrAndLfAndNul) {
  std::string data("\r\n\r\r\n-\0\xff--", 11);
  data += kB.substr(0, 10);
  std::string body = "--" + kB + "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"b.bin\"\r\n\r\n" + data +
                     "\r\n--" + kB + "--";
  auto o = every_split(kB, body);
  ASSERT_EQ(o.status, MultipartStatus::done);
  ASSERT_EQ(o.parts.size(), 1u);
  EXPECT_EQ(o.parts[0].data, data);
}

TEST(Multipart, MalformedBodiesAreRefused) {
  const std::string d = "--" + kB;
  const std::string cd = "Content-Disposition: form-data; name=\"x\"\r\n";
  struct Case {
    const char* what;
    std::string body;
  } cases[] = {
      {"empty body", ""},
      {"no delimiter at all", "just some text"},
      {"truncated before the close delimiter", d + "\r\n" + cd + "\r\nvalue"},
      {"truncated inside the headers", d + "\r\nContent-Disposition: form-da"},
      {"garbage after the delimiter", d + "x\r\n" + cd + "\r\nv\r\n" + d + "--"},
      {"CR without LF after the delimiter", d + "\rX" + cd + "\r\nv\r\n" + d + "--"},
      {"no Content-Disposition", d + "\r\nContent-Type: text/plain\r\n\r\nv\r\n" + d + "--"},
      {"no header block at all", d + "\r\n\r\nv\r\n" + d + "--"},
      {"not form-data", d + "\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nv\r\n" + d + "--"},
      {"no name", d + "\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nv\r\n" + d + "--"},
      {"empty name", d + "\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n" + d + "--"},
      {"unclosed quoted name", d + "\r\nContent-Disposition: form-data; name=\"x\r\n\r\nv\r\n" + d + "--"},
      {"header line without a colon", d + "\r\n" + cd + "garbage\r\n\r\nv\r\n" + d + "--"},
  };
  for (auto& c : cases) {
    auto o = every_split(kB, c.body);
    EXPECT_EQ(o.status, MultipartStatus::error) << c.what;
    EXPECT_FALSE(o.limit) << c.what;
  }
}

TEST(Multipart, LimitsAreEnforced) {
  const std::string d = "--" + kB;
  auto part = [&](const std::string& name, const std::string& v) {
    return d + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + v + "\r\n";
  };
  MultipartLimits lim;
  lim.max_parts = 3;
  lim.max_part_bytes = 10;
  lim.max_header_bytes = 60;
  lim.max_total_bytes = 400;
  // At the limits: accepted.
  auto ok = every_split(kB, part("a", "0123456789") + part("b", "") + part("c", "x") + d + "--", lim);
  EXPECT_EQ(ok.status, MultipartStatus::done);
  struct Case {
    const char* what;
    std::string body;
  } cases[] = {
      {"a fourth part", part("a", "1") + part("b", "2") + part("c", "3") + part("d", "4") + d + "--"},
      {"a part one byte too big", part("a", "0123456789X") + d + "--"},
      {"a header block too big", part(std::string(60, 'n'), "v") + d + "--"},
      {"an endless header block", d + "\r\nContent-Disposition: form-data; name=\"x\"; " + std::string(300, 'p')},
      {"the whole body too big", part("a", "1") + std::string(400, 'e')},
  };
  for (auto& c : cases) {
    auto o = every_split(kB, c.body, lim);
    EXPECT_EQ(o.status, MultipartStatus::error) << c.what;
    EXPECT_TRUE(o.limit) << c.what;
  }
}

TEST(Multipart, HeaderParams) {
  auto hv = header_params("form-data; name=\"a;b\"; filename=x.txt ;  empty=\"\"");
  ASSERT_TRUE(hv.has_value());
  EXPECT_EQ(hv->type, "form-data");
  EXPECT_EQ(hv->param("name"), "a;b");
  EXPECT_EQ(hv->param("filename"), "x.txt");
  EXPECT_EQ(hv->param("empty"), "");
  EXPECT_FALSE(hv->param("other").has_value());
  EXPECT_FALSE(header_params("").has_value());
  EXPECT_FALSE(header_params("; name=x").has_value());
  EXPECT_FALSE(header_params("form-data; name").has_value());
  EXPECT_FALSE(header_params("form-data; =x").has_value());
  EXPECT_FALSE(header_params("form-data; name=\"x\" junk").has_value());
}

TEST(ArchiveQuery, TermsBecomeQuotedLiterals) {
  struct Case {
    const char* input;
    const char* match;
    std::vector<std::string> short_terms;
  } cases[] = {
      {"", "", {}},
      {"   \t ", "", {}},
      {"hola", "\"hola\"", {}},
      {"hola mundo", "\"hola\" AND \"mundo\"", {}},
      {"\"buenos días\" curso", "\"buenos días\" AND \"curso\"", {}},
      {"NEAR(a b)", "\"NEAR(a\"", {"b)"}},
      {"foo* -bar ^baz", "\"foo*\" AND \"-bar\" AND \"^baz\"", {}},
      {"subject:hack OR body:x", "\"subject:hack\" AND \"body:x\"", {"OR"}},
      {"say \"hi", "\"say\"", {"hi"}},         // an unclosed quote runs to the end
      {"a\"\"\"b", "\"a\"\"\"\"\"\"b\"", {}},  // quotes inside a word are text
      {"\"x\"\"y\"", "", {"x", "y"}},
      {"it's \"\"", "\"it's\"", {}},
      {"ab é ñú", "", {"ab", "é", "ñú"}},
      {"días", "\"días\"", {}},
      {"a\"b\"c d", "\"a\"\"b\"\"c\"", {"d"}},
  };
  for (auto& c : cases) {
    auto q = archive_query(c.input);
    EXPECT_EQ(q.match, c.match) << c.input;
    EXPECT_EQ(q.short_terms, c.short_terms) << c.input;
  }
  EXPECT_EQ(fts_literal("say \"hi\""), "\"say \"\"hi\"\"\"");
}

TEST(ArchiveQuery, ManyTermsAreCappedAndLongOnesClipped) {
  std::string many;
  for (int i = 0; i < 40; ++i) many += "term" + std::to_string(i) + " ";
  auto q = archive_query(many);
  EXPECT_TRUE(q.truncated);
  EXPECT_NE(q.match.find("\"term15\""), std::string::npos);
  EXPECT_EQ(q.match.find("\"term16\""), std::string::npos);
  std::string longword;
  for (int i = 0; i < 150; ++i) longword += "é";  // 300 bytes
  q = archive_query(longword);
  EXPECT_EQ(q.match.size(), kMaxTermBytes + 2);  // clipped on a character boundary, plus quotes
  EXPECT_FALSE(q.truncated);
}

TEST(StmtCache, LeasesAreResetReusedAndNestedUsesGetTheirOwn) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (3);");
  StmtCache cache(db);
  const std::string sql = "SELECT x FROM t WHERE x >= ? ORDER BY x";
  SQLite::Statement* first = nullptr;
  {
    auto q = cache.get(sql);
    first = &*q;
    q->bind(1, 2);
    ASSERT_TRUE(q->executeStep());  // left in the middle of its rows
    EXPECT_EQ(q->getColumn(0).getInt(), 2);
    auto nested = cache.get(sql);  // the same SQL while the first is lent
    EXPECT_NE(&*nested, first);
    nested->bind(1, 3);
    ASSERT_TRUE(nested->executeStep());
    EXPECT_EQ(nested->getColumn(0).getInt(), 3);
  }
  auto again = cache.get(sql);
  EXPECT_EQ(&*again, first);           // reused
  EXPECT_FALSE(again->executeStep());  // reset, and the binding cleared: x >= NULL matches nothing
  auto own = lease(nullptr, db, "SELECT count(*) FROM t");
  ASSERT_TRUE(own->executeStep());
  EXPECT_EQ(own->getColumn(0).getInt(), 3);
}
