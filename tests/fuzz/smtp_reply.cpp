// smtp_reply.cpp - fuzz target: SMTP replies as the relay's client reads them
// (smtp/client_proto: ReplyParser, parse_ehlo, ClientTransaction). Invariants: the replies are
// the same whether the bytes come in one read or in pieces; a well-formed reply has a code in
// 200..599 and at least one line; a transaction driven by any reply sequence keeps one result
// per recipient, never writes after `done`, and a malformed reply makes the connection unusable.
#include "smtp/client_proto.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

std::vector<smtp::ParsedReply> drain(smtp::ReplyParser& p) {
  std::vector<smtp::ParsedReply> out;
  while (auto r = p.next()) out.push_back(std::move(*r));
  return out;
}

bool same(const smtp::ParsedReply& a, const smtp::ParsedReply& b) {
  return a.code == b.code && a.malformed == b.malformed && a.lines == b.lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  std::string_view in = fuzz::as_text(data + 1, size - 1);

  smtp::ReplyParser whole;
  whole.feed(in);
  auto replies = drain(whole);
  smtp::ReplyParser split;
  std::vector<smtp::ParsedReply> replies_split;
  for (auto piece : fuzz::pieces(in, (mode & 1) ? 5 : 700)) {
    split.feed(piece);
    for (auto& r : drain(split)) replies_split.push_back(std::move(r));
  }
  FUZZ_CHECK(replies.size() == replies_split.size(), "split reads give another number of replies");
  for (std::size_t i = 0; i < replies.size(); ++i) {
    FUZZ_CHECK(same(replies[i], replies_split[i]),
               "split reads give another reply: " + replies[i].text() + " vs " + replies_split[i].text());
    auto& r = replies[i];
    if (!r.malformed) {
      FUZZ_CHECK(r.code >= 200 && r.code <= 599 && !r.lines.empty(), "well-formed reply without code or lines");
      FUZZ_CHECK(r.lines.size() <= smtp::kMaxReplyLines, "too many lines accepted");
      (void)r.text();
    }
  }
  if (replies.empty()) return 0;

  // The first reply is the EHLO answer; the rest drive one transaction.
  smtp::Extensions ext = smtp::parse_ehlo(replies[0]);
  ext.esmtp = true;
  if (mode & 2) ext.pipelining = true;
  if (mode & 4) ext.chunking = true;
  std::vector<std::string> rcpts = {"a@x.test", "b@x.test", "c@x.test"};
  smtp::ClientTransaction t(ext, "list-bounces@lists.test", rcpts, 1234, mode & 8);
  auto step = t.start();
  if (step != smtp::ClientTransaction::Step::done)
    FUZZ_CHECK(step == smtp::ClientTransaction::Step::write_commands && !t.commands().empty(), "nothing to write");
  bool saw_malformed = false;
  for (std::size_t i = 1; i < replies.size() && step != smtp::ClientTransaction::Step::done; ++i) {
    saw_malformed = saw_malformed || replies[i].malformed;
    step = t.on_reply(replies[i]);
    FUZZ_CHECK(t.results().size() == rcpts.size(), "results lost a recipient");
  }
  if (saw_malformed) FUZZ_CHECK(!t.connection_usable(), "connection still usable after a malformed reply");
  if (step != smtp::ClientTransaction::Step::done) t.fail_all("connection lost");
  FUZZ_CHECK(t.results().size() == rcpts.size(), "results lost a recipient");
  return 0;
}
