// decorate_test.cpp - subject rule, list headers and footers.
//
// Golden files: tests/data/decorate/NAME.in.eml goes through decorate_headers() + add_footer()
// with the options below and must equal NAME.expected.eml byte for byte. With
// LISTD_UPDATE_GOLDEN=1 in the environment the test rewrites the expected files instead (review
// the diff before committing). Every output is also re-parsed with GMime.
#include "listd/decorate.hpp"

#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "listd/message.hpp"

namespace listd {
namespace {

const char* const kFooter =
    "_______________________________________________\n"
    "mi_lista mailing list -- mi_lista@lists.mired.org\n"
    "To unsubscribe send an email to mi_lista-leave@lists.mired.org\n";

ListIdentity test_list() {
  return ListIdentity{"mi_lista", "lists.mired.org", "Lista de prueba", "http://lists.mired.org:8080"};
}

DecorateOptions test_options() {
  DecorateOptions o;
  o.subject_prefix = "[mi_lista]";
  return o;
}

std::string data_path(const std::string& name) {
  return std::string(LISTD_TEST_DATA) + "/decorate/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string decorate_all(const std::string& raw) {
  auto headed = decorate_headers(raw, test_list(), test_options());
  EXPECT_TRUE(headed.has_value());
  return headed ? add_footer(*headed, kFooter) : std::string();
}

// --- small GMime helpers for the checks --------------------------------------------------------

struct Unref {
  void operator()(void* p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using GPtr = std::unique_ptr<T, Unref>;

struct ParsedMessage {
  GPtr<GMimeStream> stream;
  GPtr<GMimeParser> parser;
  GPtr<GMimeMessage> msg;
};

ParsedMessage parse(const std::string& raw) {
  mime_init();
  ParsedMessage p;
  p.stream.reset(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  p.parser.reset(g_mime_parser_new_with_stream(p.stream.get()));
  p.msg.reset(g_mime_parser_construct_message(p.parser.get(), nullptr));
  return p;
}

void collect_text(GMimeObject* obj, std::string& out) {
  if (GMIME_IS_MULTIPART(obj)) {
    for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(obj)); ++i) {
      collect_text(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i), out);
    }
  } else if (GMIME_IS_TEXT_PART(obj) &&
             g_mime_content_type_is_type(g_mime_object_get_content_type(obj), "text", "plain")) {
    char* text = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
    if (text) out += text;
    g_free(text);
  }
}

// Every text/plain part, decoded to UTF-8 and with LF line ends.
std::string all_plain_text(const std::string& raw) {
  ParsedMessage p = parse(raw);
  std::string out;
  if (p.msg) collect_text(g_mime_message_get_mime_part(p.msg.get()), out);
  return to_lf(out);
}

std::string header_of(const std::string& raw, const char* name) {
  ParsedMessage p = parse(raw);
  if (!p.msg) return {};
  const char* v = g_mime_object_get_header(GMIME_OBJECT(p.msg.get()), name);
  if (v == nullptr) {  // GMime keeps the top-level Content-* fields on the body part
    v = g_mime_object_get_header(g_mime_message_get_mime_part(p.msg.get()), name);
  }
  return v ? v : "";
}

std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

std::string headers_part(const std::string& raw) {
  return raw.substr(0, raw.find("\n\n") + 1);
}
std::string body_part(const std::string& raw) {
  return raw.substr(raw.find("\n\n") + 2);
}

// --- prefixed_subject ------------------------------------------------------------------------

struct SubjectRow {
  const char* name;
  const char* prefix;
  const char* in;
  const char* out;
};

const SubjectRow kSubjectRows[] = {
    {"plain", "[mi_lista]", "Hello", "[mi_lista] Hello"},
    {"reply_with_prefix", "[mi_lista]", "Re: [mi_lista] Hello", "[mi_lista] Re: Hello"},
    {"reply_run", "[mi_lista]", "RE: Re: [mi_lista] Re: Hello", "[mi_lista] Re: Hello"},
    {"german_reply", "[mi_lista]", "AW: [mi_lista] Hallo", "[mi_lista] Re: Hallo"},
    {"swedish_reply", "[mi_lista]", "SV: Hej", "[mi_lista] Re: Hej"},
    {"dutch_reply", "[mi_lista]", "Antw: [mi_lista] Hoi", "[mi_lista] Re: Hoi"},
    {"mixed_markers", "[mi_lista]", "aw: Sv:re: ANTW:  x", "[mi_lista] Re: x"},
    {"already_prefixed", "[mi_lista]", "[mi_lista] Hello", "[mi_lista] Hello"},
    {"already_prefixed_reply", "[mi_lista]", "[mi_lista] Re: Hello", "[mi_lista] Re: Hello"},
    {"prefix_case_insensitive", "[mi_lista]", "Re: [MI_LISTA] Hi", "[mi_lista] Re: Hi"},
    {"prefix_without_space", "[mi_lista]", "[mi_lista]Hello", "[mi_lista] Hello"},
    {"doubled_prefix", "[mi_lista]", "[mi_lista] [mi_lista] Hello", "[mi_lista] Hello"},
    {"fwd_kept", "[mi_lista]", "Fwd: [mi_lista] Hello", "[mi_lista] Fwd: Hello"},
    {"fwd_then_re_kept", "[mi_lista]", "Fwd: Re: news", "[mi_lista] Fwd: Re: news"},
    {"other_list_prefix_kept", "[mi_lista]", "Re: [other] Q", "[mi_lista] Re: [other] Q"},
    {"reply_word_not_marker", "[mi_lista]", "Reply: soon", "[mi_lista] Reply: soon"},
    {"empty", "[mi_lista]", "", "[mi_lista] (no subject)"},
    {"blank", "[mi_lista]", "   ", "[mi_lista] (no subject)"},
    {"only_prefix", "[mi_lista]", "[mi_lista]", "[mi_lista] (no subject)"},
    {"only_reply", "[mi_lista]", "Re: [mi_lista]", "[mi_lista] Re: (no subject)"},
    {"utf8_text", "[mi_lista]", "Re: Ñandú", "[mi_lista] Re: Ñandú"},
    {"utf8_prefix", "[lista-ñ]", "Re: [lista-ñ] hola", "[lista-ñ] Re: hola"},
    {"empty_prefix_leaves_subject", "", "Re: Re: x", "Re: Re: x"},
};

class PrefixedSubject : public ::testing::TestWithParam<SubjectRow> {};

TEST_P(PrefixedSubject, Rule) {
  const SubjectRow& r = GetParam();
  EXPECT_EQ(prefixed_subject(r.prefix, r.in), r.out);
  if (*r.prefix != '\0') {
    EXPECT_EQ(prefixed_subject(r.prefix, r.out), r.out);  // stable
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, PrefixedSubject, ::testing::ValuesIn(kSubjectRows),
                         [](const auto& info) { return std::string(info.param.name); });

// --- golden files ----------------------------------------------------------------------------

struct GoldenRow {
  const char* name;
  const char* subject;  // decoded Subject expected after decoration
  bool wrapped;         // footer went into a new multipart/mixed wrapper
};

const GoldenRow kGoldenRows[] = {
    {"plain_ascii", "[mi_lista] Hola a todos", false},
    {"reply_prefix", "[mi_lista] Re: hola", false},
    {"alternative", "[mi_lista] Agenda", true},
    {"signed", "[mi_lista] Signed announcement", true},
    {"mixed_attachment", "[mi_lista] Informe mensual", false},
    {"base64_utf8", "[mi_lista] Saludos", false},
    {"latin1", "[mi_lista] Café y mañana", false},
    {"other_list", "[mi_lista] [other] Cross-posted question", false},
    {"no_subject", "[mi_lista] (no subject)", false},
    {"html_only", "[mi_lista] Boletin", true},
    {"flowed", "[mi_lista] Flowed text", false},
};

class Golden : public ::testing::TestWithParam<GoldenRow> {};

TEST_P(Golden, MatchesExpectedFile) {
  const GoldenRow& row = GetParam();
  const std::string in = read_file(data_path(std::string(row.name) + ".in.eml"));
  const std::string expected_path = data_path(std::string(row.name) + ".expected.eml");
  const std::string out = decorate_all(in);
  const char* update = std::getenv("LISTD_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(expected_path, std::ios::binary) << out;
    GTEST_SKIP() << "rewrote " << expected_path;
  }
  EXPECT_EQ(out, read_file(expected_path));
}

TEST_P(Golden, OutputReparsesWithFooterAndListHeaders) {
  const GoldenRow& row = GetParam();
  const std::string in = read_file(data_path(std::string(row.name) + ".in.eml"));
  const std::string out = decorate_all(in);
  EXPECT_EQ(out.find('\r'), std::string::npos);

  MessageInfo mi = message_info(out);
  ASSERT_TRUE(mi.parsed_ok);
  EXPECT_EQ(mi.subject, row.subject);
  EXPECT_EQ(count_of(mi.subject, "[mi_lista]"), 1u);
  EXPECT_EQ(mi.list_ids, std::vector<std::string>{"mi_lista.lists.mired.org"});
  EXPECT_EQ(mi.been_there.back(), "mi_lista@lists.mired.org");
  EXPECT_EQ(mi.precedence, "list");
  EXPECT_NE(all_plain_text(out).find(kFooter), std::string::npos) << out;
  EXPECT_EQ(mi.content_type == "multipart/mixed" && message_info(in).content_type != "multipart/mixed", row.wrapped);
  // Decorating twice adds no second prefix and no second set of list headers.
  auto again = decorate_headers(out, test_list(), test_options());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(count_of(headers_part(*again), "\nList-Id:"), 1u);
  EXPECT_EQ(message_info(*again).subject, row.subject);
}

INSTANTIATE_TEST_SUITE_P(Files, Golden, ::testing::ValuesIn(kGoldenRows),
                         [](const auto& info) { return std::string(info.param.name); });

// The signature covers the first entity byte for byte (RFC 1847 §2.1, RFC 3156 §5): the
// wrapper must carry the original Content-* headers and body unchanged.
TEST(AddFooter, SignedEntityStaysByteIdentical) {
  const std::string in = read_file(data_path("signed.in.eml"));
  const std::string out = decorate_all(in);

  // The original entity: the top-level Content-* fields (with their folds) + blank + body.
  std::string entity;
  std::istringstream lines(headers_part(in));
  bool in_content_field = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) break;
    if (line[0] != ' ' && line[0] != '\t') in_content_field = line.rfind("Content-", 0) == 0;
    if (in_content_field) entity += line + "\n";
  }
  entity += "\n" + body_part(in);

  ParsedMessage p = parse(out);
  ASSERT_TRUE(p.msg);
  GMimeObject* top = g_mime_message_get_mime_part(p.msg.get());
  ASSERT_TRUE(GMIME_IS_MULTIPART(top));
  const std::string boundary = g_mime_multipart_get_boundary(GMIME_MULTIPART(top));
  EXPECT_EQ(boundary.rfind("=_listd_", 0), 0u);
  const std::string open = "\n--" + boundary + "\n";
  auto start = out.find(open);
  ASSERT_NE(start, std::string::npos);
  start += open.size();
  auto end = out.find("\n--" + boundary, start);
  ASSERT_NE(end, std::string::npos);
  // The LF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1).
  EXPECT_EQ(out.substr(start, end - start), entity);
  EXPECT_TRUE(GMIME_IS_MULTIPART_SIGNED(g_mime_multipart_get_part(GMIME_MULTIPART(top), 0)));
}

TEST(AddFooter, WrapperBoundaryIsDeterministic) {
  const std::string in = read_file(data_path("alternative.in.eml"));
  EXPECT_EQ(add_footer(in, kFooter), add_footer(in, kFooter));
  // A different message gets a different boundary.
  const std::string other = read_file(data_path("signed.in.eml"));
  EXPECT_NE(header_of(add_footer(in, kFooter), "Content-Type"), header_of(add_footer(other, kFooter), "Content-Type"));
}

TEST(AddFooter, WrapperMovesContentHeadersInside) {
  const std::string out = add_footer(read_file(data_path("html_only.in.eml")), kFooter);
  const std::string top = headers_part(out);
  EXPECT_EQ(top.find("Content-Transfer-Encoding"), std::string::npos) << top;
  EXPECT_EQ(top.find("Content-Description"), std::string::npos) << top;
  EXPECT_NE(top.find("MIME-Version: 1.0"), std::string::npos) << top;
  EXPECT_NE(top.find("multipart/mixed"), std::string::npos) << top;
  EXPECT_NE(out.find("\nContent-Type: text/html; charset=utf-8\n"
                     "Content-Transfer-Encoding: base64\n"
                     "Content-Description: HTML newsletter\n\n"),
            std::string::npos)
      << out;
}

// --- add_footer: charsets and transfer encodings ------------------------------------------------

TEST(AddFooter, EmptyFooterReturnsInputAsLf) {
  EXPECT_EQ(add_footer("Subject: x\r\n\r\nbody\r\n", ""), "Subject: x\n\nbody\n");
}

TEST(AddFooter, UnparsableInputIsReturnedAsLf) {
  EXPECT_EQ(add_footer("no header here\r\n", kFooter), "no header here\n");
}

TEST(AddFooter, NewlineSeparatesTextAndFooter) {
  const std::string out = add_footer("Subject: x\n\nno newline at end", "-- \nfooter\n");
  EXPECT_EQ(body_part(out), "no newline at end\n-- \nfooter\n");
}

TEST(AddFooter, NonAsciiFooterUpgradesUsAsciiToUtf8Qp) {
  const std::string in = "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\nhola\n";
  const std::string out = add_footer(in, "Lista de prueba ñ\n");
  EXPECT_NE(out.find("charset=utf-8"), std::string::npos) << out;
  EXPECT_NE(out.find("Content-Transfer-Encoding: quoted-printable"), std::string::npos) << out;
  EXPECT_NE(out.find("Lista de prueba =C3=B1"), std::string::npos) << out;
  EXPECT_EQ(all_plain_text(out), "hola\nLista de prueba ñ\n");
}

TEST(AddFooter, NonAsciiFooterIsConvertedToLatin1) {
  const std::string in = read_file(data_path("latin1.in.eml"));
  const std::string out = add_footer(in, "Pie de página\n");
  EXPECT_NE(out.find("charset=ISO-8859-1"), std::string::npos) << out;
  EXPECT_NE(out.find("Pie de p=E1gina"), std::string::npos) << out;  // á in ISO-8859-1
  EXPECT_EQ(count_of(out, "Content-Type:"), 1u) << out;              // not wrapped
  EXPECT_EQ(all_plain_text(out), "Mañana tomamos café a las diez.\nJosé\nPie de página\n");
}

TEST(AddFooter, FooterOutsideLatin1FallsBackToWrapping) {
  const std::string in = read_file(data_path("latin1.in.eml"));
  const std::string out = add_footer(in, "Cuota: 5 €\n");
  MessageInfo mi = message_info(out);
  EXPECT_EQ(mi.content_type, "multipart/mixed");
  EXPECT_EQ(mi.first_text, "Mañana tomamos café a las diez.\nJosé\n");
  EXPECT_NE(all_plain_text(out).find("Cuota: 5 €\n"), std::string::npos);
  EXPECT_NE(out.find("Cuota: 5 =E2=82=AC"), std::string::npos) << out;  // utf-8 QP part
}

TEST(AddFooter, Base64StaysBase64WithCrlfInside) {
  const std::string out = add_footer(read_file(data_path("base64_utf8.in.eml")), kFooter);
  EXPECT_NE(out.find("Content-Transfer-Encoding: base64"), std::string::npos);
  ParsedMessage p = parse(out);
  ASSERT_TRUE(p.msg);
  char* text = g_mime_text_part_get_text(GMIME_TEXT_PART(g_mime_message_get_mime_part(p.msg.get())));
  ASSERT_NE(text, nullptr);
  std::string t(text);
  g_free(text);
  EXPECT_EQ(t, "Buenos días, señor.\r\nÑandú en el campo.\r\n" +
                   std::string("_______________________________________________\r\n"
                               "mi_lista mailing list -- mi_lista@lists.mired.org\r\n"
                               "To unsubscribe send an email to "
                               "mi_lista-leave@lists.mired.org\r\n"));
}

TEST(AddFooter, SevenBitWithNonAsciiResultBecomesQuotedPrintable) {
  const std::string out = add_footer(
      "Subject: x\nContent-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: 7bit\n\nhi\n",
      "adiós\n");
  EXPECT_NE(out.find("Content-Transfer-Encoding: quoted-printable"), std::string::npos) << out;
  EXPECT_EQ(out.find("7bit"), std::string::npos) << out;
  EXPECT_NE(out.find("MIME-Version: 1.0"), std::string::npos) << out;
}

TEST(AddFooter, FlowedFooterHasNoTrailingSpaces) {
  const std::string out = add_footer(read_file(data_path("flowed.in.eml")), "trailing   \n>quoted\n");
  const std::string body = body_part(out);
  EXPECT_NE(body.find("soft break so the footer must not be joined to it. \n\ntrailing\n >quoted\n"), std::string::npos)
      << body;
}

TEST(AddFooter, TextAttachmentIsWrappedNotAppended) {
  const std::string in =
      "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; name=a.txt\n"
      "Content-Disposition: attachment; filename=a.txt\n\nfile content\n";
  const std::string out = add_footer(in, kFooter);
  EXPECT_EQ(message_info(out).content_type, "multipart/mixed");
  EXPECT_NE(out.find("\n\nfile content\n\n--=_listd_"), std::string::npos) << out;
}

TEST(AddFooter, MixedGetsFooterPartAtTheEnd) {
  const std::string in = read_file(data_path("mixed_attachment.in.eml"));
  const std::string out = add_footer(in, kFooter);
  ParsedMessage p = parse(out);
  ASSERT_TRUE(p.msg);
  GMimeMultipart* mp = GMIME_MULTIPART(g_mime_message_get_mime_part(p.msg.get()));
  ASSERT_EQ(g_mime_multipart_get_count(mp), 3);
  GMimeObject* last = g_mime_multipart_get_part(mp, 2);
  EXPECT_STREQ(g_mime_object_get_disposition(last), "inline");
  EXPECT_STREQ(g_mime_object_get_content_type_parameter(last, "charset"), "utf-8");
  // The original parts are untouched: the body up to the old closing delimiter is kept, and
  // the footer part follows under the same boundary.
  const std::string closing = "\n------=_Part_0_12345.67890--";
  const std::string kept = body_part(in).substr(0, body_part(in).find(closing));
  EXPECT_EQ(body_part(out).substr(0, kept.size()), kept);
  const std::string next = "\n------=_Part_0_12345.67890\nContent-Type: text/plain";
  EXPECT_EQ(body_part(out).substr(kept.size(), next.size()), next);
}

// --- decorate_headers ----------------------------------------------------------------------------

const char* const kSimple =
    "Received: by mx; Mon, 15 Jan 2024 10:30:01 +0100\n"
    "From: Ana <ana@mired.org>\n"
    "Subject: hola\n"
    "Reply-To: ana@mired.org\n"
    "X-Custom: keep me\n"
    "\n"
    "body line 1\r\n"
    "\n"
    "trailing spaces stay   \n";

TEST(DecorateHeaders, ListHeaderValues) {
  auto out = decorate_headers(kSimple, test_list(), test_options());
  ASSERT_TRUE(out);
  EXPECT_EQ(header_of(*out, "List-Id"), "Lista de prueba <mi_lista.lists.mired.org>");
  EXPECT_EQ(header_of(*out, "List-Post"), "<mailto:mi_lista@lists.mired.org>");
  EXPECT_EQ(header_of(*out, "List-Help"), "<mailto:mi_lista-request@lists.mired.org?subject=help>");
  EXPECT_EQ(header_of(*out, "List-Subscribe"),
            "<mailto:mi_lista-join@lists.mired.org>, "
            "<http://lists.mired.org:8080/lists/mi_lista@lists.mired.org/subscribe>");
  EXPECT_EQ(header_of(*out, "List-Unsubscribe"),
            "<mailto:mi_lista-leave@lists.mired.org>, "
            "<http://lists.mired.org:8080/lists/mi_lista@lists.mired.org/unsubscribe>");
  EXPECT_EQ(header_of(*out, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  EXPECT_EQ(header_of(*out, "List-Archive"), "<http://lists.mired.org:8080/lists/mi_lista@lists.mired.org/archive>");
  EXPECT_EQ(header_of(*out, "X-BeenThere"), "mi_lista@lists.mired.org");
  EXPECT_EQ(header_of(*out, "Precedence"), "list");
  EXPECT_EQ(header_of(*out, "Reply-To"), "ana@mired.org");  // policy none: untouched
}

TEST(DecorateHeaders, KeepsOrderAndBodyBytesAndAppendsAtTheEnd) {
  const std::string in = kSimple;
  auto out = decorate_headers(in, test_list(), test_options());
  ASSERT_TRUE(out);
  // The body is byte-exact, including the lone CRLF (inputs are normalised to LF first).
  EXPECT_EQ(body_part(*out), to_lf(body_part(in)));
  EXPECT_EQ(out->rfind("Received: by mx; Mon, 15 Jan 2024 10:30:01 +0100\n"
                       "From: Ana <ana@mired.org>\n"
                       "Subject: [mi_lista] hola\n"
                       "Reply-To: ana@mired.org\n"
                       "X-Custom: keep me\n"
                       "X-BeenThere: mi_lista@lists.mired.org\n",
                       0),
            0u)
      << *out;
}

TEST(DecorateHeaders, CrlfInputGivesLfOutput) {
  std::string crlf;
  for (char c : std::string(kSimple)) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto a = decorate_headers(crlf, test_list(), test_options());
  auto b = decorate_headers(kSimple, test_list(), test_options());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(DecorateHeaders, ReplyToPolicies) {
  DecorateOptions o = test_options();
  o.reply_to = ReplyToPolicy::list;
  auto out = decorate_headers(kSimple, test_list(), o);
  ASSERT_TRUE(out);
  EXPECT_EQ(header_of(*out, "Reply-To"), "mi_lista@lists.mired.org");
  EXPECT_EQ(count_of(*out, "Reply-To:"), 1u);

  o.reply_to = ReplyToPolicy::address;
  o.reply_to_address = "mods@mired.org";
  out = decorate_headers(kSimple, test_list(), o);
  ASSERT_TRUE(out);
  EXPECT_EQ(header_of(*out, "Reply-To"), "mods@mired.org");
  EXPECT_EQ(count_of(*out, "Reply-To:"), 1u);
}

TEST(DecorateHeaders, NoArchiveNoDescriptionNoPrefix) {
  ListIdentity l = test_list();
  l.description = "";
  DecorateOptions o;
  o.archive = false;
  auto out = decorate_headers(kSimple, l, o);
  ASSERT_TRUE(out);
  EXPECT_EQ(header_of(*out, "List-Id"), "<mi_lista.lists.mired.org>");
  EXPECT_EQ(out->find("List-Archive"), std::string::npos);
  EXPECT_NE(out->find("\nSubject: hola\n"), std::string::npos);
}

TEST(DecorateHeaders, NonAsciiDescriptionIsEncoded) {
  ListIdentity l = test_list();
  l.description = "Lista de prueba ñandú";
  auto out = decorate_headers(kSimple, l, test_options());
  ASSERT_TRUE(out);
  std::string raw_line = out->substr(out->find("\nList-Id:") + 1);
  raw_line = raw_line.substr(0, raw_line.find("\n"));
  EXPECT_TRUE(std::all_of(raw_line.begin(), raw_line.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x80;
  })) << raw_line;
  EXPECT_NE(raw_line.find("=?UTF-8?"), std::string::npos) << raw_line;
  MessageInfo mi = message_info(*out);
  EXPECT_EQ(mi.list_ids, std::vector<std::string>{"mi_lista.lists.mired.org"});
  EXPECT_EQ(header_of(*out, "List-Id"), "Lista de prueba ñandú <mi_lista.lists.mired.org>");
}

TEST(DecorateHeaders, NonAsciiSubjectIsUtf8EncodedAsciiIsNot) {
  auto out = decorate_headers("Subject: =?ISO-8859-1?Q?Caf=E9?=\n\nx\n", test_list(), test_options());
  ASSERT_TRUE(out);
  EXPECT_NE(out->find("Subject: [mi_lista] =?UTF-8?"), std::string::npos) << *out;
  EXPECT_EQ(message_info(*out).subject, "[mi_lista] Café");
  out = decorate_headers("Subject: Re: [mi_lista] plain\n\nx\n", test_list(), test_options());
  ASSERT_TRUE(out);
  EXPECT_NE(out->find("Subject: [mi_lista] Re: plain\n"), std::string::npos) << *out;
  EXPECT_EQ(out->find("=?"), std::string::npos) << *out;
}

TEST(DecorateHeaders, KeepsOtherListsBeenThereAndDropsTheirListHeaders) {
  auto out = decorate_headers(read_file(data_path("other_list.in.eml")), test_list(), test_options());
  ASSERT_TRUE(out);
  MessageInfo mi = message_info(*out);
  EXPECT_EQ(mi.been_there, (std::vector<std::string>{"other@lists.example.org", "mi_lista@lists.mired.org"}));
  EXPECT_EQ(out->find("other-"), std::string::npos) << *out;  // List-Help/-Owner/... gone
  EXPECT_EQ(out->find("bulk"), std::string::npos) << *out;
  EXPECT_EQ(count_of(*out, "Precedence:"), 1u);
}

TEST(DecorateHeaders, RawEightBitHeadersAreDecodedAndReencoded) {
  const std::string in = read_file(std::string(LISTD_TEST_DATA) + "/messages/raw_8bit_headers.eml");
  auto out = decorate_headers(in, test_list(), test_options());
  ASSERT_TRUE(out);
  EXPECT_EQ(message_info(*out).subject, "[mi_lista] Café con leche ñ");
  EXPECT_NE(out->find("Subject: [mi_lista] =?UTF-8?"), std::string::npos) << *out;
  EXPECT_NE(out->find("X-Legacy: caf\xe9 cr\xe8me \xff\xfe\n"), std::string::npos);  // untouched
  EXPECT_EQ(body_part(*out), body_part(in));
}

TEST(DecorateHeaders, MalformedFieldNameStillGivesAValidMessage) {
  // A field name with an 8-bit byte: our field reader and GMime may disagree on where the
  // header block ends; either way the result must parse and carry the list headers.
  const std::string in =
      "From: a@mired.org\nX-B\xe1"
      "d: 1\nSubject: hi\n\nbody\n";
  auto out = decorate_headers(in, test_list(), test_options());
  ASSERT_TRUE(out);
  MessageInfo mi = message_info(*out);
  EXPECT_TRUE(mi.parsed_ok);
  EXPECT_EQ(mi.list_ids, std::vector<std::string>{"mi_lista.lists.mired.org"});
  EXPECT_EQ(mi.from_address, "a@mired.org");
}

TEST(DecorateHeaders, UnparsableInputIsNullopt) {
  EXPECT_FALSE(decorate_headers("", test_list(), test_options()));
  EXPECT_FALSE(decorate_headers("no header block\nat all\n", test_list(), test_options()));
  EXPECT_FALSE(decorate_headers("\nbody only\n", test_list(), test_options()));
  std::string junk(4096, '\0');
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(i * 131 + 7);
  EXPECT_NO_THROW((void)decorate_headers(junk, test_list(), test_options()));
  EXPECT_NO_THROW((void)add_footer(junk, kFooter));
}

}  // namespace
}  // namespace listd
