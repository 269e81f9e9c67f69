// decorate.cpp - fuzz target: MIME decoration (listd/decorate) and the message facts the
// pipeline reads (listd/message: RFC 5322 headers and addresses, RFC 2047). The input is a
// message. Invariants: decorate_headers() output parses again with GMime, has the same number
// of leaf parts and carries exactly one List-Id; add_footer() output parses and has the same
// leaves or exactly one more (the footer part); decoration is stable under LF/CRLF input.
#include <gmime/gmime.h>

#include "listd/decorate.hpp"
#include "listd/message.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

int leaves(GMimeObject* obj, int depth = 0) {
  FUZZ_CHECK(depth < 1000, "MIME tree too deep");
  if (obj == nullptr) return 0;
  if (GMIME_IS_MULTIPART(obj)) {
    int n = 0;
    auto* mp = GMIME_MULTIPART(obj);
    if (g_mime_multipart_get_count(mp) == 0) return 1;  // an empty multipart is still one entity
    for (int i = 0; i < g_mime_multipart_get_count(mp); ++i) n += leaves(g_mime_multipart_get_part(mp, i), depth + 1);
    return n;
  }
  return 1;
}

// parts - leaf parts of the message in `raw`, -1 if GMime finds no message.
int parts(const std::string& raw) {
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(raw.data(), raw.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  int n = msg ? leaves(g_mime_message_get_mime_part(msg)) : -1;
  if (msg) g_object_unref(msg);
  g_object_unref(parser);
  g_object_unref(stream);
  return n;
}

std::size_t count(const std::string& hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool init = (listd::mime_init(), true);
  (void)init;
  std::string_view in = fuzz::as_text(data, size);
  auto info = listd::message_info(in);
  FUZZ_CHECK(info.size == in.size(), "size");
  FUZZ_CHECK(info.first_text.size() <= listd::kMaxFirstText, "first_text over its limit");

  // Every intake path refuses NUL bytes (SMTP/LMTP 554 5.6.0, the pipe exits 65), so a
  // message with one never reaches decoration.
  if (in.find('\0') != std::string_view::npos) return 0;
  listd::ListIdentity list{"mi_lista", "lists.mired.org", "Lista de prueba", "http://lists.mired.org"};
  listd::DecorateOptions opt;
  opt.subject_prefix = "[mi_lista]";
  opt.reply_to = (size & 1) ? listd::ReplyToPolicy::list : listd::ReplyToPolicy::none;
  auto out = listd::decorate_headers(in, list, opt);
  if (!out) return 0;
  std::string lf = listd::to_lf(in);
  int before = parts(lf);
  FUZZ_CHECK(before >= 0, "decorated a message GMime cannot parse");
  int decorated = parts(*out);
  FUZZ_CHECK(decorated == before, "decorate_headers changed the part count from " + std::to_string(before) + " to " +
                                      std::to_string(decorated));
  FUZZ_CHECK(listd::message_info(*out).parsed_ok, "decorated message has no header block");
  auto header_end = out->find("\n\n");
  std::string head = "\n" + out->substr(0, header_end);
  FUZZ_CHECK(count(head, "\nList-Id:") == 1, "List-Id not exactly once in the header");

  std::string footed = listd::add_footer(*out, "--\nmi_lista mailing list\nhttp://lists.mired.org/\n");
  int after = parts(footed);
  FUZZ_CHECK(after == decorated || after == decorated + 1,
             "add_footer changed the part count from " + std::to_string(decorated) + " to " + std::to_string(after));
  FUZZ_CHECK(listd::message_info(footed).parsed_ok, "message with footer has no header block");
  return 0;
}
