// relay_test.cpp - the relay's pure parts: transaction planning (grouping by domain, the
// max_recipients cut, VERP), the VERP sender and the retry backoff schedule; the chunked
// copy of a member job's recipients on a real SQLite file; personalized messages from
// segments (both wire forms, dot-stuffing across segment boundaries, footer placement
// checked against decorate's add_footer on its golden inputs, quoted-printable).
#include <SQLiteCpp/Transaction.h>
#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "listd/db.hpp"
#include "listd/decorate.hpp"
#include "listd/delivery.hpp"
#include "listd/message.hpp"
#include "listd/relay.hpp"
#include "listd/relay_personalize.hpp"
#include "listd/store.hpp"
#include "smtp/wire.hpp"
#include "test_util.hpp"

using namespace listd;

namespace {
std::vector<JobRecipient> wave(std::initializer_list<const char*> addrs) {
  std::vector<JobRecipient> w;
  std::int64_t id = 1;
  for (auto a : addrs) w.push_back({id++, a, 0});
  return w;
}
}  // namespace

TEST(Plan, SmarthostCutsByMaxRecipientsOnly) {
  auto w = wave({"a@x.org", "b@y.org", "c@x.org", "d@z.org", "e@x.org"});
  auto p = plan_transactions(w, "l-bounces@h", 2, false, false);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].rcpts, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(p[1].rcpts, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(p[2].rcpts, (std::vector<std::size_t>{4}));
  for (auto& t : p) {
    EXPECT_EQ(t.domain, "");
    EXPECT_EQ(t.envelope_from, "l-bounces@h");
  }
}

TEST(Plan, MxGroupsByDomainCaseInsensitively) {
  auto w = wave({"a@x.org", "b@Y.org", "c@X.ORG", "d@y.org", "e@x.org", "f@y.org"});
  auto p = plan_transactions(w, "l-bounces@h", 2, true, false);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].domain, "x.org");
  EXPECT_EQ(p[0].rcpts, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(p[1].domain, "y.org");
  EXPECT_EQ(p[1].rcpts, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(p[2].domain, "x.org");
  EXPECT_EQ(p[2].rcpts, (std::vector<std::size_t>{4}));
  EXPECT_EQ(p[3].domain, "y.org");
  EXPECT_EQ(p[3].rcpts, (std::vector<std::size_t>{5}));
}

TEST(Plan, EveryRecipientExactlyOnce) {
  std::vector<JobRecipient> w;
  for (int i = 0; i < 1000; ++i)
    w.push_back({i + 1, "u" + std::to_string(i) + "@d" + std::to_string(i % 7) + ".org", 0});
  for (bool by_domain : {false, true})
    for (unsigned max : {1u, 3u, 100u, 5000u}) {
      auto p = plan_transactions(w, "s@h", max, by_domain, false);
      std::vector<int> seen(w.size(), 0);
      for (auto& t : p) {
        EXPECT_LE(t.rcpts.size(), max);
        EXPECT_FALSE(t.rcpts.empty());
        for (auto i : t.rcpts) {
          ++seen[i];
          if (by_domain) {
            EXPECT_EQ(w[i].address.substr(w[i].address.find('@') + 1), t.domain);
          }
        }
      }
      for (auto n : seen) EXPECT_EQ(n, 1);
    }
}

TEST(Plan, VerpIsOneRecipientPerTransaction) {
  auto w = wave({"ana@mired.org", "bob@x.org"});
  auto p = plan_transactions(w, "mi_lista-bounces@lists.mired.org", 100, false, true);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].envelope_from, "mi_lista-bounces+ana=mired.org@lists.mired.org");
  EXPECT_EQ(p[1].envelope_from, "mi_lista-bounces+bob=x.org@lists.mired.org");
  EXPECT_EQ(p[1].rcpts, (std::vector<std::size_t>{1}));
}

TEST(Verp, SenderForm) {
  EXPECT_EQ(verp_sender("l-bounces@h.org", "a.b+c@d.org"), "l-bounces+a.b+c=d.org@h.org");
  EXPECT_EQ(verp_sender("", "a@d"), "");  // null sender stays null
}

TEST(Backoff, DoublesUpToTheCap) {
  EXPECT_EQ(backoff_delay(0, 300, 3600), 300);
  EXPECT_EQ(backoff_delay(1, 300, 3600), 600);
  EXPECT_EQ(backoff_delay(2, 300, 3600), 1200);
  EXPECT_EQ(backoff_delay(3, 300, 3600), 2400);
  EXPECT_EQ(backoff_delay(4, 300, 3600), 3600);
  EXPECT_EQ(backoff_delay(60, 300, 3600), 3600);
  EXPECT_EQ(backoff_delay(0, 1, 1), 1);
}

// Member jobs are copied into delivery_recipients in chunks (kFirstFillChunk, then kFillChunk): the first with
// the job, the rest by job_fill_more; total follows, and the job is complete only at the end.
TEST(Fill, MemberJobInChunks) {
  test::TempDir dir;
  auto db = db_open(dir.path() / "listd.db", true);
  Store store(*db);
  auto l = store.create_list("big", "lists.mired.org", "owner@mired.org");
  std::vector<std::string> emails;
  const int n = kFirstFillChunk + kFillChunk + 123;
  for (int i = 0; i < n; ++i) emails.push_back("u" + std::to_string(i) + "@d" + std::to_string(i % 9) + ".org");
  emails.push_back("poster@mired.org");
  store.add_members(l, emails);
  auto rows = [&] { return db->execAndGet("SELECT count(*) FROM delivery_recipients").getInt(); };
  auto total = [&] { return db->execAndGet("SELECT total FROM delivery_jobs").getInt(); };
  std::int64_t job = 0;
  {
    SQLite::Transaction tx(*db);
    job = job_create_for_members(*db, l, "post", "spool-1", "queue/x", "big-bounces@lists.mired.org", "nobody@x.org");
    tx.commit();
  }
  EXPECT_EQ(rows(), kFirstFillChunk);
  EXPECT_EQ(total(), kFirstFillChunk);
  EXPECT_TRUE(job_fill_more(*db, job));
  EXPECT_EQ(rows(), kFirstFillChunk + kFillChunk);
  EXPECT_TRUE(job_fill_more(*db, job));
  EXPECT_EQ(rows(), n + 1);
  EXPECT_EQ(total(), n + 1);
  EXPECT_FALSE(job_fill_more(*db, job));
  EXPECT_EQ(db->execAndGet("SELECT count(DISTINCT address) FROM delivery_recipients").getInt(), n + 1);
  EXPECT_EQ(db->execAndGet("SELECT fill_cursor FROM delivery_jobs").getInt(), -1);
  // the same spool id again: the same job, nothing copied twice
  SQLite::Transaction tx(*db);
  EXPECT_EQ(job_create_for_members(*db, l, "post", "spool-1", "queue/x", "big-bounces@lists.mired.org", "x@y.org"),
            job);
  EXPECT_EQ(rows(), n + 1);
}

TEST(RelayConfig, KeysAndErrors) {
  auto cfg = parse_config(
      "[relay]\nmode = mx\nper_destination = 2\nauth_user = u\nauth_password = p w\nresolver = 127.0.0.1:5353\n"
      "mx_port = 2525\ncommand_timeout = 30\n",
      "/etc/listd/listd.conf");
  EXPECT_EQ(cfg.relay.mode, RelayMode::mx);
  EXPECT_EQ(cfg.relay.per_destination, 2u);
  EXPECT_EQ(cfg.relay.auth_user, "u");
  EXPECT_EQ(cfg.relay.auth_password, "p w");
  EXPECT_EQ(cfg.relay.resolver.host, "127.0.0.1");
  EXPECT_EQ(cfg.relay.resolver.port, 5353);
  EXPECT_EQ(cfg.relay.mx_port, 2525);
  EXPECT_EQ(cfg.relay.command_timeout, 30u);
  EXPECT_THROW(parse_config("[relay]\nresolver = dns.example:53\n", "/x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[relay]\nmx_port = 0\n", "/x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[relay]\ncommand_timeout = 0\n", "/x.conf"), ConfigError);
  EXPECT_EQ(parse_config("", "/x.conf").relay.keep_delivered, 86400u);
  EXPECT_EQ(parse_config("[relay]\nkeep_delivered = 0\n", "/x.conf").relay.keep_delivered, 0u);
  EXPECT_THROW(parse_config("[relay]\nkeep_delivered = -1\n", "/x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[relay]\nkeep_delivered = 31536001\n", "/x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[relay]\nkeep_delivered = 1d\n", "/x.conf"), ConfigError);
}

// --- personalize = footer | full: segments (listd/relay_personalize.hpp) -----------------------

namespace {

const char* const kPersonalFooter =
    "_______________________________________________\n"
    "mi_lista mailing list -- mi_lista@lists.mired.org\n"
    "You are subscribed as \x1flistd:member_address\x1f\n"
    "Unsubscribe: \x1flistd:unsubscribe_url\x1f\n";

PersonalContext personal_ctx(Personalize mode = Personalize::footer, std::string footer = kPersonalFooter) {
  return PersonalContext{mode, std::move(footer), "mi_lista@lists.mired.org", "http://lists.mired.org:8080"};
}

// The footer as decorate would add it for one member (placeholders filled in).
std::string concrete_footer(const std::string& tmpl, const std::string& member) {
  std::string out;
  PersonalContext c = personal_ctx();
  for (std::size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, kMemberAddressSlot.size(), kMemberAddressSlot) == 0) {
      out += member;
      i += kMemberAddressSlot.size();
    } else if (tmpl.compare(i, kUnsubscribeUrlSlot.size(), kUnsubscribeUrlSlot) == 0) {
      out += unsubscribe_url(c, member);
      i += kUnsubscribeUrlSlot.size();
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

std::string joined(const std::vector<std::string_view>& v) {
  std::string s;
  for (auto p : v) s += p;
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every text/plain leaf, decoded to UTF-8, in order (what a reader sees).
void collect_text(GMimeObject* obj, std::string& out) {
  if (GMIME_IS_MULTIPART(obj)) {
    int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
    for (int i = 0; i < n; ++i) collect_text(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i), out);
  } else if (GMIME_IS_TEXT_PART(obj)) {
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    if (g_mime_content_type_is_type(ct, "text", "plain")) {
      char* t = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
      if (t) out += t;
      out += "\n<part end>\n";
      g_free(t);
    }
  }
}

std::string reader_text(const std::string& lf) {
  GMimeStream* st = g_mime_stream_mem_new_with_buffer(lf.data(), lf.size());
  GMimeParser* p = g_mime_parser_new_with_stream(st);
  GMimeMessage* m = g_mime_parser_construct_message(p, nullptr);
  std::string out;
  if (m) collect_text(g_mime_message_get_mime_part(m), out);
  for (auto& c : out)  // CRLF inside decoded base64 text is the text's own business
    if (c == '\r') c = ' ';
  if (m) g_object_unref(m);
  g_object_unref(p);
  g_object_unref(st);
  return out;
}

}  // namespace

TEST(Personalize, SegmentsEqualTheWholeRenderingInBothWireForms) {
  for (const char* name : {"plain_ascii", "base64_utf8", "latin1", "flowed", "mixed_attachment", "alternative",
                           "signed", "html_only", "no_subject"}) {
    SCOPED_TRACE(name);
    std::string in = slurp(std::string(LISTD_TEST_DATA) + "/decorate/" + name + ".in.eml");
    PersonalMessage pm(in, personal_ctx());
    std::string scratch;
    std::vector<std::string_view> data, bdat;
    for (const char* member : {"ana@mired.org", "bob+x@example.org", "josé@ejemplo.es"}) {
      pm.render(member, scratch, data, bdat);
      std::string lf = pm.render_lf(member);
      EXPECT_EQ(joined(data), smtp::render_data(lf));
      EXPECT_EQ(joined(bdat), smtp::render_bdat(lf));
    }
  }
}

TEST(Personalize, FooterLandsWhereDecorateWouldPutItEncodedLikeThePart) {
  struct Case {
    const char* name;
    const char* placement;
  } cases[] = {{"plain_ascii", "text-part"}, {"base64_utf8", "text-part"},     {"latin1", "text-part"},
               {"flowed", "text-part"},      {"mixed_attachment", "new-part"}, {"alternative", "wrapped"},
               {"signed", "wrapped"},        {"html_only", "wrapped"}};
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string in = slurp(std::string(LISTD_TEST_DATA) + "/decorate/" + c.name + ".in.eml");
    PersonalMessage pm(in, personal_ctx());
    EXPECT_EQ(pm.placement(), c.placement);
    for (const char* member : {"ana@mired.org", "bob@example.org"}) {
      std::string mine = pm.render_lf(member);
      std::string theirs = add_footer(in, concrete_footer(kPersonalFooter, member));
      EXPECT_EQ(reader_text(mine), reader_text(theirs));
      EXPECT_NE(reader_text(mine).find(std::string("You are subscribed as ") + member), std::string::npos);
    }
  }
}

TEST(Personalize, SignedEntityIsCarriedByteForByte) {
  std::string in = to_lf(slurp(std::string(LISTD_TEST_DATA) + "/decorate/signed.in.eml"));
  PersonalMessage pm(in, personal_ctx());
  std::string out = pm.render_lf("ana@mired.org");
  auto body = in.find("\n\n");
  std::string signed_body = in.substr(body + 2);
  EXPECT_NE(out.find(signed_body.substr(0, signed_body.size() - 1)), std::string::npos);
  EXPECT_NE(out.find("multipart/mixed"), std::string::npos);
}

TEST(Personalize, HeadersPerMemberFooterModeKeepsToFullModeReplacesIt) {
  std::string in =
      "From: a@b.org\nTo: mi_lista@lists.mired.org\nSubject: s\nList-Unsubscribe: <mailto:mi_lista-leave@lists.mired."
      "org>,\n <http://lists.mired.org:8080/lists/mi_lista@lists.mired.org/unsubscribe>\nList-Id: <x>\n\nhi\n";
  PersonalMessage foot(in, personal_ctx(Personalize::footer));
  std::string f = foot.render_lf("bob+x@example.org");
  EXPECT_NE(f.find("To: mi_lista@lists.mired.org\n"), std::string::npos);
  EXPECT_NE(f.find("List-Unsubscribe: <mailto:mi_lista-leave@lists.mired.org>,\n "
                   "<http://lists.mired.org:8080/lists/mi_lista@lists.mired.org/unsubscribe?address=bob%2Bx%40example."
                   "org>\nList-Id: <x>\n"),
            std::string::npos)
      << f;
  EXPECT_EQ(f.find("List-Unsubscribe"), f.rfind("List-Unsubscribe"));  // replaced, not added
  PersonalMessage full(in, personal_ctx(Personalize::full));
  std::string g = full.render_lf("bob+x@example.org");
  EXPECT_NE(g.find("To: bob+x@example.org\n"), std::string::npos);
  EXPECT_EQ(g.find("To: mi_lista"), std::string::npos);
  EXPECT_NE(g.find("\n\nhi\n___"), std::string::npos);
}

TEST(Personalize, DotStuffingAcrossSegmentBoundaries) {
  // The body's last line and the footer's first line both start with a dot; so does a line
  // of the footer after the member's address, and the body has no final line end.
  std::string in = "From: a@b.org\nSubject: s\n\n.first\nbody\n.last";
  PersonalMessage pm(in, personal_ctx(Personalize::footer, ".sig\n\x1flistd:member_address\x1f\n.end"));
  std::string scratch;
  std::vector<std::string_view> data, bdat;
  pm.render(".dot@x.org", scratch, data, bdat);
  std::string d = joined(data), b = joined(bdat);
  EXPECT_NE(d.find("\r\n\r\n..first\r\nbody\r\n..last\r\n..sig\r\n..dot@x.org\r\n..end\r\n.\r\n"), std::string::npos)
      << d;
  EXPECT_NE(b.find("\r\n\r\n.first\r\nbody\r\n.last\r\n.sig\r\n.dot@x.org\r\n.end\r\n"), std::string::npos) << b;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (d[i] == '\n') {
      ASSERT_TRUE(i > 0 && d[i - 1] == '\r') << "bare LF at " << i;
    }
  }
}

TEST(Personalize, SharedPiecesAreTheSameBytesForEveryMember) {
  std::string in = "From: a@b.org\nSubject: s\n\n" + std::string(5000, 'x') + "\n";
  PersonalMessage pm(in, personal_ctx());
  std::string s1, s2;
  std::vector<std::string_view> d1, b1, d2, b2;
  pm.render("a@x.org", s1, d1, b1);
  pm.render("b@x.org", s2, d2, b2);
  ASSERT_EQ(d1.size(), d2.size());
  std::size_t own = 0;
  for (std::size_t i = 0; i < d1.size(); ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(d1[i].data(), d2[i].data());  // shared: same memory, not a copy
    } else {
      own += d1[i].size();
    }
  }
  EXPECT_LT(own, 600u);  // the member's own bytes: footer and header lines only
}

TEST(Personalize, Base64TailIsReencodedWithTheFooter) {
  std::string text(100, 'a');  // 57 bytes shared, 43 carried into each member's piece
  std::string in =
      "From: a@b.org\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: base64\n\n" +
      base64_lines(text);
  PersonalMessage pm(in, personal_ctx(Personalize::footer, "Hola \x1flistd:member_address\x1f ñ\n"));
  std::string out = pm.render_lf("ana@mired.org");
  EXPECT_EQ(reader_text(out), text + "\nHola ana@mired.org ñ\n\n<part end>\n");
  for (std::size_t p = out.find("\n\n") + 2, nl; (nl = out.find('\n', p)) != std::string::npos; p = nl + 1)
    EXPECT_LE(nl - p, 76u);
}

TEST(Personalize, SevenBitPartTurnsQuotedPrintableForANonAsciiFooter) {
  std::string in = "From: a@b.org\nSubject: s\n\nplain = text\n";
  PersonalMessage pm(in, personal_ctx(Personalize::footer, "Adiós \x1flistd:member_address\x1f\n"));
  std::string out = pm.render_lf("ana@mired.org");
  EXPECT_NE(out.find("quoted-printable"), std::string::npos) << out;
  EXPECT_NE(out.find("charset=utf-8"), std::string::npos) << out;
  EXPECT_EQ(reader_text(out), "plain = text\nAdiós ana@mired.org\n\n<part end>\n");
}

// An ASCII footer template with the member's address: a UTF-8 address (SMTPUTF8) must not
// land as raw 8-bit bytes in a 7bit us-ascii part: that member's copy has the part in UTF-8
// quoted-printable; an ASCII address keeps the part as it came.
TEST(Personalize, SevenBitPartCarriesANonAsciiMemberAddress) {
  std::string in = "From: a@b.org\nSubject: s\n\nplain text = 1\n";
  PersonalMessage pm(in, personal_ctx(Personalize::footer, "You are \x1flistd:member_address\x1f\n"));
  for (std::string member : {"jos\xc3\xa9@ejemplo.org", "ana@mired.org"}) {
    bool ascii = member[0] == 'a';
    std::string out = pm.render_lf(member);
    EXPECT_EQ(out.find("quoted-printable") != std::string::npos, !ascii) << out;
    EXPECT_EQ(out.find("charset=utf-8") != std::string::npos, !ascii) << out;
    std::string body = out.substr(out.find("\n\n") + 2);
    EXPECT_TRUE(std::all_of(body.begin(), body.end(), [](char c) { return static_cast<unsigned char>(c) < 128; }))
        << body;
    EXPECT_EQ(reader_text(out), "plain text = 1\nYou are " + member + "\n\n<part end>\n");
    std::string scratch;  // the relay's segments are the same copy
    std::vector<std::string_view> data, bdat;
    pm.render(member, scratch, data, bdat);
    EXPECT_EQ(joined(data), smtp::render_data(out));
    EXPECT_EQ(joined(bdat), smtp::render_bdat(out));
  }
}

TEST(QuotedPrintable, Rules) {
  struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"abc\n", "abc\n"},
      {"a=b\n", "a=3Db\n"},
      {"trailing \n", "trailing=20\n"},
      {"tab\t\n", "tab=09\n"},
      {"ñ\n", "=C3=B1\n"},
      {"no newline", "no newline=\n"},
      {"", ""},
  };
  for (auto& c : cases) EXPECT_EQ(quoted_printable(c.in), c.out) << c.in;
  std::string long_line(200, 'x');
  std::string q = quoted_printable(long_line + "\n");
  std::string back;
  for (std::size_t p = 0, nl; (nl = q.find('\n', p)) != std::string::npos; p = nl + 1) {
    std::string line = q.substr(p, nl - p);
    EXPECT_LE(line.size(), 76u);
    if (!line.empty() && line.back() == '=') line.pop_back();
    back += line;
  }
  EXPECT_EQ(back, long_line);
  // an '=' escape is never split by a soft break
  std::string eq = quoted_printable(std::string(74, 'x') + "==\n");
  EXPECT_EQ(eq, std::string(74, 'x') + "=\n=3D=3D\n");
}

TEST(WireEncoder, ResumesAtASegmentBoundary) {
  std::string out;
  smtp::WireEncoder mid(true, false);
  mid.feed(".not at a line start\n.at one", out);
  EXPECT_EQ(out, ".not at a line start\r\n..at one");
  EXPECT_FALSE(mid.at_line_start());
  smtp::WireEncoder start(true, true);
  std::string o2;
  start.feed(".x\n", o2);
  EXPECT_EQ(o2, "..x\r\n");
  EXPECT_TRUE(start.at_line_start());
}
