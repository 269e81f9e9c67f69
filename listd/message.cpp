// message.cpp - read-only facts about an RFC 5322 message (see message.hpp), on GMime 3.
//
// Everything here is defensive: the input is whatever a stranger sent to the list. GMime is
// asked for a header block; every field is then read with a fallback to "empty", and every
// text that leaves this file is valid UTF-8 (invalid bytes become U+FFFD).
// RFC 5322 §3.6 (fields), RFC 2045 §6 (transfer encodings), RFC 2047 (encoded words),
// RFC 2919 (List-Id), RFC 3834 (Auto-Submitted).
#include "listd/message.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <mutex>

namespace listd {
namespace {

// GObject and g_malloc ownership as unique_ptr, so no early return leaks (tests run under LSan).
struct GObjectUnref {
  void operator()(void* p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(void* p) const { g_free(p); }
};
using GChars = std::unique_ptr<char, GFree>;

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string trim(std::string_view s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

// Guarantee valid UTF-8 on the way out (GMime already converts 8-bit header bytes, but
// a wrongly labelled encoded-word can still leave junk).
std::string valid_utf8(std::string_view s) {
  if (g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr)) return std::string(s);
  GChars fixed(g_utf8_make_valid(s.data(), static_cast<gssize>(s.size())));
  return fixed ? std::string(fixed.get()) : std::string();
}

// One RFC 2047 §2 encoded-word at the start of `s`: =?charset?B|Q?text?=
struct EncodedWord {
  std::string_view charset;
  char encoding = 0;
  std::string_view text;
  std::size_t length = 0;  // bytes of `s` it spans; 0 = no encoded word here
};

EncodedWord encoded_word_at(std::string_view s) {
  EncodedWord w;
  if (s.substr(0, 2) != "=?") return w;
  auto q1 = s.find('?', 2);
  if (q1 == std::string_view::npos || q1 == 2 || q1 + 3 > s.size() || s[q1 + 2] != '?') return w;
  char enc = s[q1 + 1];
  if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') return w;
  auto end = s.find("?=", q1 + 3);
  if (end == std::string_view::npos) return w;
  std::string_view text = s.substr(q1 + 3, end - q1 - 3);
  if (text.find_first_of(" \t") != std::string_view::npos) return w;
  w.charset = s.substr(2, q1 - 2);
  w.encoding = static_cast<char>(enc & ~0x20);
  w.text = text;
  w.length = end + 2;
  return w;
}

// Payload bytes of one encoded word (RFC 2047 §4.1 B, §4.2 Q).
std::string encoded_word_bytes(const EncodedWord& w) {
  if (w.encoding == 'B') {
    std::string b64(w.text);
    gsize n = 0;
    GChars bytes(reinterpret_cast<char*>(g_base64_decode(b64.c_str(), &n)));
    return bytes ? std::string(bytes.get(), n) : std::string();
  }
  std::string out;
  for (std::size_t i = 0; i < w.text.size(); ++i) {
    char c = w.text[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < w.text.size() && g_ascii_isxdigit(w.text[i + 1]) &&
               g_ascii_isxdigit(w.text[i + 2])) {
      out.push_back(static_cast<char>(g_ascii_xdigit_value(w.text[i + 1]) * 16 + g_ascii_xdigit_value(w.text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// GMime 3.2.13 drops the second of two adjacent B-encoded words in the same charset when the
// first ends in "=" padding ("=?UTF-8?B?UmV1bmnDs24=?= =?UTF-8?B?IGRlbA==?=" decodes to
// "Reunión"). Work around it: merge every run of adjacent same-charset encoded words into one
// B word before GMime decodes. Joining the bytes first also repairs mailers that split one
// multi-byte character across two words. RFC 2047 §6.2: blanks between words are dropped.
std::string merge_encoded_words(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    EncodedWord first = encoded_word_at(in.substr(i));
    if (first.length == 0) {
      out.push_back(in[i++]);
      continue;
    }
    std::string bytes = encoded_word_bytes(first);
    std::size_t words = 1;
    std::size_t end = i + first.length;
    for (;;) {
      std::size_t j = end;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
      EncodedWord next = encoded_word_at(in.substr(j));
      if (next.length == 0 || next.charset.size() != first.charset.size() ||
          g_ascii_strncasecmp(next.charset.data(), first.charset.data(), first.charset.size()) != 0) {
        break;
      }
      bytes += encoded_word_bytes(next);
      ++words;
      end = j + next.length;
    }
    if (words == 1) {
      out.append(in.substr(i, first.length));
    } else {
      GChars b64(g_base64_encode(reinterpret_cast<const guchar*>(bytes.data()), bytes.size()));
      out += "=?";
      out.append(first.charset);
      out += "?B?";
      out += b64 ? b64.get() : "";
      out += "?=";
    }
    i = end;
  }
  return out;
}

// Unfold (RFC 5322 §2.2.3) and decode encoded words (RFC 2047 §6) of a raw header value.
std::string header_text(GMimeHeader* header) {
  const char* raw = g_mime_header_get_raw_value(header);
  if (raw == nullptr) raw = g_mime_header_get_value(header);
  if (raw == nullptr) return {};
  std::string unfolded;
  for (const char* p = raw; *p != '\0'; ++p) {
    if (*p != '\r' && *p != '\n') unfolded.push_back(*p);
  }
  std::string merged = merge_encoded_words(unfolded);
  GChars decoded(g_mime_utils_header_decode_text(nullptr, merged.c_str()));
  return valid_utf8(trim(decoded ? decoded.get() : unfolded));
}

// Every header named `name` (case-insensitive), in order.
std::vector<GMimeHeader*> headers_named(GMimeObject* obj, const char* name) {
  std::vector<GMimeHeader*> out;
  GMimeHeaderList* list = g_mime_object_get_header_list(obj);
  int n = list ? g_mime_header_list_get_count(list) : 0;
  for (int i = 0; i < n; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    const char* hn = h ? g_mime_header_get_name(h) : nullptr;
    if (hn != nullptr && g_ascii_strcasecmp(hn, name) == 0) out.push_back(h);
  }
  return out;
}

std::string first_header_text(GMimeObject* obj, const char* name) {
  auto hs = headers_named(obj, name);
  return hs.empty() ? std::string() : header_text(hs.front());
}

std::vector<std::string> parse_msg_ids(const std::string& text) {
  std::vector<std::string> ids;
  GMimeReferences* refs = g_mime_references_parse(nullptr, text.c_str());
  if (refs == nullptr) return ids;
  for (int i = 0; i < g_mime_references_length(refs); ++i) {
    const char* id = g_mime_references_get_message_id(refs, i);
    if (id != nullptr && *id != '\0') ids.push_back(valid_utf8(id));
  }
  g_mime_references_free(refs);
  return ids;
}

// First mailbox in an address list, descending into groups (RFC 5322 §3.4).
InternetAddressMailbox* first_mailbox(InternetAddressList* list) {
  if (list == nullptr) return nullptr;
  for (int i = 0; i < internet_address_list_length(list); ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(a)) return INTERNET_ADDRESS_MAILBOX(a);
    if (INTERNET_ADDRESS_IS_GROUP(a)) {
      auto* m = first_mailbox(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)));
      if (m != nullptr) return m;
    }
  }
  return nullptr;
}

// local@domain with the domain lower-cased (domains are case-insensitive, local parts not).
std::string mailbox_address(InternetAddressMailbox* mb) {
  const char* addr = mb ? internet_address_mailbox_get_addr(mb) : nullptr;
  if (addr == nullptr) return {};
  std::string a = valid_utf8(addr);
  auto at = a.rfind('@');
  if (at == std::string::npos) return a;
  return a.substr(0, at + 1) + lower_ascii(a.substr(at + 1));
}

// Convert `in` from `charset` to UTF-8; an invalid or truncated sequence becomes U+FFFD
// and conversion goes on. Unknown charsets fall back to GMime's 8-bit guesser.
std::string to_utf8(std::string_view in, const char* charset) {
  const char* cs = charset ? g_mime_charset_iconv_name(charset) : nullptr;
  if (cs == nullptr || g_ascii_strcasecmp(cs, "UTF-8") == 0 || g_ascii_strcasecmp(charset, "us-ascii") == 0) {
    return valid_utf8(in);
  }
  iconv_t cd = g_mime_iconv_open("UTF-8", cs);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    GChars guessed(g_mime_utils_decode_8bit(nullptr, in.data(), in.size()));
    return valid_utf8(guessed ? guessed.get() : std::string(in));
  }
  std::string out;
  out.reserve(in.size() + in.size() / 2);
  char buf[4096];
  char* inp = const_cast<char*>(in.data());  // iconv's signature, not written to
  size_t inleft = in.size();
  while (inleft > 0) {
    char* outp = buf;
    size_t outleft = sizeof buf;
    size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);
    out.append(buf, static_cast<size_t>(outp - buf));
    if (rc != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) continue;
    out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
    if (errno == EILSEQ) {
      ++inp;
      --inleft;
    } else {
      break;  // EINVAL: incomplete sequence at the end of the input
    }
  }
  char* outp = buf;
  size_t outleft = sizeof buf;
  iconv(cd, nullptr, nullptr, &outp, &outleft);  // flush shift state
  out.append(buf, static_cast<size_t>(outp - buf));
  g_mime_iconv_close(cd);
  return valid_utf8(out);
}

// Cut at most `max` bytes without splitting a UTF-8 sequence.
void truncate_utf8(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

bool is_text_plain(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  return ct != nullptr && g_mime_content_type_is_type(ct, "text", "plain");
}

// Depth-first walk for the first text/plain leaf; parts marked as attachments are only used
// when there is no inline text/plain at all.
GMimeObject* find_text_plain(GMimeObject* obj, GMimeObject** attachment_fallback, int depth) {
  if (obj == nullptr || depth > 64) return nullptr;
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    for (int i = 0; i < g_mime_multipart_get_count(mp); ++i) {
      GMimeObject* hit = find_text_plain(g_mime_multipart_get_part(mp, i), attachment_fallback, depth + 1);
      if (hit != nullptr) return hit;
    }
    return nullptr;
  }
  if (!GMIME_IS_PART(obj) || !is_text_plain(obj)) return nullptr;
  if (g_mime_part_is_attachment(GMIME_PART(obj))) {
    if (*attachment_fallback == nullptr) *attachment_fallback = obj;
    return nullptr;
  }
  return obj;
}

// Decoded (transfer encoding) and converted (charset) text of a leaf, capped. Reads only what
// the cap needs, so a 50 MB body costs no more than a small one.
std::string part_text(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return {};
  GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
  if (raw == nullptr) return {};
  GPtr<GMimeStream> filtered(g_mime_stream_filter_new(raw));
  GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);
  if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
      enc == GMIME_CONTENT_ENCODING_UUENCODE) {
    GPtr<GMimeFilter> dec(g_mime_filter_basic_new(enc, FALSE));
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), dec.get());
  }
  g_mime_stream_reset(filtered.get());
  // Worst case 4 input bytes per output character (UTF-32); enough to fill the cap.
  const std::size_t want = 4 * kMaxFirstText + 4;
  std::string bytes;
  char buf[8192];
  while (bytes.size() < want) {
    ssize_t n = g_mime_stream_read(filtered.get(), buf, sizeof buf);
    if (n <= 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  if (bytes.size() > want) bytes.resize(want);
  const char* charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  std::string text = to_utf8(bytes, charset);
  truncate_utf8(text, kMaxFirstText);
  return text;
}

void fill_info(GMimeMessage* msg, MessageInfo& info) {
  GMimeObject* obj = GMIME_OBJECT(msg);
  if (const char* id = g_mime_message_get_message_id(msg)) info.message_id = valid_utf8(id);

  auto irt = parse_msg_ids(first_header_text(obj, "In-Reply-To"));
  if (!irt.empty()) info.in_reply_to = irt.front();
  for (GMimeHeader* h : headers_named(obj, "References")) {
    for (auto& id : parse_msg_ids(header_text(h))) info.references.push_back(std::move(id));
  }

  if (GDateTime* dt = g_mime_message_get_date(msg)) info.date = g_date_time_to_unix(dt);

  if (auto* mb = first_mailbox(g_mime_message_get_from(msg))) {
    info.from_address = mailbox_address(mb);
    if (const char* name = internet_address_get_name(INTERNET_ADDRESS(mb))) {
      info.from_name = valid_utf8(trim(name));
    }
  }
  if (auto* mb = first_mailbox(g_mime_message_get_sender(msg))) {
    info.sender_address = mailbox_address(mb);
  }
  info.reply_to = first_header_text(obj, "Reply-To");
  info.subject = first_header_text(obj, "Subject");

  for (GMimeHeader* h : headers_named(obj, "List-Id")) {
    std::string v = header_text(h);  // RFC 2919 §3: [phrase] "<" list-id ">"
    auto open = v.rfind('<');
    auto close = v.rfind('>');
    if (open != std::string::npos && close != std::string::npos && close > open) {
      v = trim(v.substr(open + 1, close - open - 1));
    }
    if (!v.empty()) info.list_ids.push_back(v);
  }
  for (GMimeHeader* h : headers_named(obj, "X-BeenThere")) {
    std::string v = lower_ascii(header_text(h));
    if (!v.empty()) info.been_there.push_back(v);
  }
  info.precedence = lower_ascii(first_header_text(obj, "Precedence"));
  info.auto_submitted = lower_ascii(first_header_text(obj, "Auto-Submitted"));
  info.approved = first_header_text(obj, "Approved");
  if (info.approved.empty()) info.approved = first_header_text(obj, "Approve");

  GMimeObject* body = g_mime_message_get_mime_part(msg);
  GMimeContentType* ct = body ? g_mime_object_get_content_type(body) : nullptr;
  if (ct != nullptr) {
    GChars mime(g_mime_content_type_get_mime_type(ct));
    if (mime) info.content_type = lower_ascii(valid_utf8(mime.get()));
  } else {
    info.content_type = "text/plain";  // RFC 2045 §5.2 default
  }

  GMimeObject* fallback = nullptr;
  GMimeObject* text = find_text_plain(body, &fallback, 0);
  if (text == nullptr) text = fallback;
  if (text != nullptr) info.first_text = part_text(GMIME_PART(text));
}

}  // namespace

void mime_init() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

MessageInfo message_info(std::string_view raw) {
  mime_init();
  MessageInfo info;
  info.size = raw.size();
  if (raw.empty()) return info;
  std::string lf = to_lf(raw);
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(lf.data(), lf.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!msg) return info;
  // GMime keeps the top-level Content-* fields on the body part, the rest on the message.
  GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(msg.get()));
  GMimeObject* body = g_mime_message_get_mime_part(msg.get());
  GMimeHeaderList* body_headers = body ? g_mime_object_get_header_list(body) : nullptr;
  int count = (headers ? g_mime_header_list_get_count(headers) : 0) +
              (body_headers ? g_mime_header_list_get_count(body_headers) : 0);
  if (count == 0) return info;
  info.parsed_ok = true;
  fill_info(msg.get(), info);
  return info;
}

std::string to_lf(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  // A run of CRs right before an LF goes with it ("\r\r\n" -> "\n"), so that the result has
  // no CRLF left and a second pass changes nothing; any other CR is content and stays.
  std::size_t i = 0;
  while (i < raw.size()) {
    if (raw[i] != '\r') {
      out.push_back(raw[i++]);
      continue;
    }
    std::size_t j = i;
    while (j < raw.size() && raw[j] == '\r') ++j;
    if (j == raw.size() || raw[j] != '\n') out.append(raw.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace listd
