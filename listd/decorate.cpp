// decorate.cpp - list headers, subject prefix and footer on an accepted post (see decorate.hpp).
//
// decorate_headers() touches only the header block: GMime parses the message (and says whether
// there is one), the block is rebuilt field by field keeping untouched fields byte-exact and in
// place, new fields are formatted by GMime and appended, and the body is copied byte for byte.
// add_footer() edits the MIME structure with GMime and writes it back with LF line ends; parts
// it does not touch keep their bytes, as GMime writes parsed headers and content back as read.
// RFC 2369 (List-Help/-Post/-Subscribe/-Unsubscribe/-Archive), RFC 2919 (List-Id),
// RFC 8058 (one-click unsubscribe), RFC 2047 (encoded words), RFC 2046 §5.1 (multipart),
// RFC 3676 (format=flowed), RFC 1847 (multipart/signed).
#include "listd/decorate.hpp"

#include <gmime/gmime.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "listd/message.hpp"

namespace listd {
namespace {

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

struct FormatOptionsFree {
  void operator()(GMimeFormatOptions* p) const { g_mime_format_options_free(p); }
};
using FormatOptions = std::unique_ptr<GMimeFormatOptions, FormatOptionsFree>;

// Output is always LF (decorate.hpp: "Output uses LF line ends").
FormatOptions lf_format() {
  FormatOptions fo(g_mime_format_options_new());
  g_mime_format_options_set_newline_format(fo.get(), GMIME_NEWLINE_FORMAT_UNIX);
  return fo;
}

std::string write_object(GMimeObject* obj) {
  FormatOptions fo = lf_format();
  GPtr<GMimeStream> out(g_mime_stream_mem_new());
  g_mime_object_write_to_stream(obj, fo.get(), out.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with_ci(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && g_ascii_strncasecmp(s.data(), p.data(), p.size()) == 0;
}

// Unfolded raw value of one header, trimmed (for values that are never encoded).
std::string header_raw(GMimeHeader* h) {
  const char* raw = g_mime_header_get_raw_value(h);
  if (raw == nullptr) raw = g_mime_header_get_value(h);
  std::string unfolded;
  for (const char* p = raw ? raw : ""; *p != '\0'; ++p) {
    if (*p != '\n' && *p != '\r') unfolded.push_back(*p);
  }
  return std::string(trim(unfolded));
}

int header_count(GMimeObject* obj) {
  GMimeHeaderList* hl = obj ? g_mime_object_get_header_list(obj) : nullptr;
  return hl ? g_mime_header_list_get_count(hl) : 0;
}

// GMime keeps the top-level Content-* fields on the body part and the rest on the message.
int message_header_count(GMimeMessage* msg) {
  return header_count(GMIME_OBJECT(msg)) + header_count(g_mime_message_get_mime_part(msg));
}

// A parsed message together with the stream and parser it came from.
struct Parsed {
  GPtr<GMimeStream> stream;
  GPtr<GMimeParser> parser;
  GPtr<GMimeMessage> msg;
  explicit operator bool() const { return msg != nullptr; }
};

// Parse LF text; an input without a header block counts as "cannot parse".
Parsed parse_message(const std::string& lf) {
  Parsed p;
  if (lf.empty()) return p;
  p.stream.reset(g_mime_stream_mem_new_with_buffer(lf.data(), lf.size()));
  p.parser.reset(g_mime_parser_new_with_stream(p.stream.get()));
  p.msg.reset(g_mime_parser_construct_message(p.parser.get(), nullptr));
  if (!p.msg) return p;
  // GMime keeps a line like ": value" as a header without a name; written back it is no
  // header at all, and at the top of a message whose other fields moved (a wrapped body)
  // it leaves a message no parser reads. Such a line carries nothing: drop it.
  for (GMimeObject* obj : {GMIME_OBJECT(p.msg.get()), g_mime_message_get_mime_part(p.msg.get())}) {
    GMimeHeaderList* hl = obj ? g_mime_object_get_header_list(obj) : nullptr;
    for (int i = hl ? g_mime_header_list_get_count(hl) - 1 : -1; i >= 0; --i) {
      const char* name = g_mime_header_get_name(g_mime_header_list_get_header_at(hl, i));
      if (name == nullptr || *name == '\0') g_mime_header_list_remove_at(hl, i);
    }
  }
  if (message_header_count(p.msg.get()) == 0) p.msg.reset();
  return p;
}

// The header block of LF text, split by RFC 5322 §2.2 field syntax: each field with its name
// and its exact text (folds included, always ending in "\n"), and the offset of the first body
// byte. A line that is neither a field nor a fold ends the block even without a blank line.
struct RawField {
  std::string_view name;
  std::string text;
};
struct HeaderBlock {
  std::vector<RawField> fields;
  std::size_t body = 0;
};

HeaderBlock split_header_block(std::string_view lf) {
  HeaderBlock hb;
  std::size_t pos = 0;
  while (pos < lf.size()) {
    std::size_t nl = lf.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? lf.size() : nl;
    std::size_t next = nl == std::string_view::npos ? lf.size() : nl + 1;
    std::string_view line = lf.substr(pos, end - pos);
    if (line.empty()) {
      hb.body = next;
      return hb;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !hb.fields.empty()) {
      hb.fields.back().text.append(line).push_back('\n');  // continuation of a folded field
      pos = next;
      continue;
    }
    std::size_t i = 0;  // field-name = 1*ftext (printable US-ASCII except ":")
    while (i < line.size() && line[i] > 32 && line[i] < 127 && line[i] != ':') ++i;
    std::size_t name_end = i;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (name_end == 0 || i >= line.size() || line[i] != ':') {
      hb.body = pos;
      return hb;
    }
    hb.fields.push_back({line.substr(0, name_end), std::string(line) + "\n"});
    pos = next;
  }
  hb.body = lf.size();
  return hb;
}

// Case-insensitive ASCII equality (field names, RFC 5322 §1.2.2; addresses we compare).
bool name_is(std::string_view name, const char* want) {
  std::string_view w(want);
  return name.size() == w.size() && g_ascii_strncasecmp(name.data(), want, w.size()) == 0;
}

// The value of a raw field, unfolded and trimmed.
std::string field_value(const RawField& f) {
  std::string v;
  for (char c : std::string_view(f.text).substr(f.text.find(':') + 1)) {
    if (c != '\n') v.push_back(c);
  }
  return std::string(trim(v));
}

// Header lines as GMime formats them: RFC 2047 encoding (UTF-8, only the words that need it)
// and folding at 78 columns.
std::string format_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  GPtr<GMimeHeaderList> hl(g_mime_header_list_new(nullptr));
  for (const auto& [name, value] : fields) {
    g_mime_header_list_append(hl.get(), name.c_str(), value.c_str(), "utf-8");
  }
  FormatOptions fo = lf_format();
  GChars text(g_mime_header_list_to_string(hl.get(), fo.get()));
  return text ? std::string(text.get()) : std::string();
}

constexpr const char* kReplacedHeaders[] = {
    "List-Id",      "List-Post",  "List-Help",  "List-Subscribe", "List-Unsubscribe", "List-Unsubscribe-Post",
    "List-Archive", "List-Owner", "Precedence",
};

// 64-bit FNV-1a; stable across runs and platforms, unlike std::hash.
std::uint64_t fnv1a(std::string_view data, std::uint64_t salt) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ salt;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Deterministic wrapper boundary (so golden files are stable) that does not occur in the
// message (RFC 2046 §5.1.1).
std::string wrapper_boundary(std::string_view message) {
  for (std::uint64_t salt = 0;; ++salt) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "=_listd_%016llx", static_cast<unsigned long long>(fnv1a(message, salt)));
    if (message.find(buf) == std::string_view::npos) return buf;
  }
}

// The footer as its own part: text/plain; charset=utf-8, inline, 7bit when ASCII and
// quoted-printable otherwise (readable, and safe over 7-bit transports).
GPtr<GMimeObject> footer_part(const std::string& footer) {
  GPtr<GMimeObject> part(GMIME_OBJECT(g_mime_text_part_new_with_subtype("plain")));
  g_mime_text_part_set_charset(GMIME_TEXT_PART(part.get()), "utf-8");
  GPtr<GMimeStream> data(g_mime_stream_mem_new_with_buffer(footer.data(), footer.size()));
  GPtr<GMimeDataWrapper> wrapper(g_mime_data_wrapper_new_with_stream(data.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(GMIME_PART(part.get()), wrapper.get());
  g_mime_part_set_content_encoding(
      GMIME_PART(part.get()), is_ascii(footer) ? GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  g_mime_object_set_disposition(part.get(), "inline");
  return part;
}

// Transfer-decoded bytes of a leaf part (still in the part's charset).
std::string decoded_content(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return {};
  GPtr<GMimeStream> out(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, out.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

bool is_ascii_charset(std::string_view cs) {
  return cs.empty() || cs == "us-ascii" || cs == "ascii" || cs == "ansi_x3.4-1968" || cs == "iso646-us" || cs == "us";
}

bool is_utf8_charset(std::string_view cs) {
  return cs == "utf-8" || cs == "utf8";
}

// Charsets where a byte-wise "\n" test and plain concatenation would be wrong.
bool is_wide_charset(std::string_view cs) {
  return cs.find("utf-16") != std::string_view::npos || cs.find("utf-32") != std::string_view::npos ||
         cs.find("ucs") != std::string_view::npos || cs.find("utf-7") != std::string_view::npos;
}

// RFC 3676 §4.2/§4.4: footer lines must end without a space (or they would flow into the
// next line) and lines starting with " ", ">" or "From " are space-stuffed.
std::string flowed_safe(std::string_view footer) {
  std::string out;
  std::size_t pos = 0;
  while (pos < footer.size()) {
    std::size_t nl = footer.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? footer.size() : nl;
    std::string_view line = footer.substr(pos, end - pos);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    if (!line.empty() && (line[0] == ' ' || line[0] == '>' || line.substr(0, 5) == "From ")) {
      out.push_back(' ');
    }
    out.append(line);
    if (nl != std::string_view::npos) out.push_back('\n');
    pos = end + 1;
  }
  return out;
}

std::string lf_to_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 16);
  for (char c : s) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

enum class Appended { no, same_mime, mime_changed };

// text/plain: append the footer inside the part, in its charset and transfer encoding.
// Returns `no` (caller wraps instead) when the footer cannot be said in that charset, and
// `mime_changed` when the charset or the transfer encoding had to change.
Appended append_to_text_part(GMimePart* part, const std::string& footer) {
  GMimeObject* obj = GMIME_OBJECT(part);
  const char* cs_param = g_mime_object_get_content_type_parameter(obj, "charset");
  std::string charset = lower_ascii(cs_param ? trim(cs_param) : std::string_view());
  if (is_wide_charset(charset)) return Appended::no;
  const char* format = g_mime_object_get_content_type_parameter(obj, "format");
  bool flowed = format != nullptr && g_ascii_strcasecmp(format, "flowed") == 0;

  std::string body = decoded_content(part);
  std::string add;
  if (!body.empty() && body.back() != '\n') add = "\n";  // a newline separates text and footer
  std::string_view last_line(body);
  if (!last_line.empty() && last_line.back() == '\n') last_line.remove_suffix(1);
  if (!last_line.empty() && last_line.back() == '\r') last_line.remove_suffix(1);
  if (flowed && !last_line.empty() && last_line.back() == ' ') {
    add += "\n";  // RFC 3676 §4.2: end the flowed paragraph before the footer starts
  }
  add += flowed ? flowed_safe(footer) : footer;
  if (body.find("\r\n") != std::string::npos) add = lf_to_crlf(add);  // base64 bodies keep CRLF

  std::string encoded;
  bool relabel_utf8 = false;
  if (is_ascii(add)) {
    encoded = add;  // ASCII is the same bytes in every charset we append to in place
  } else if (is_ascii_charset(charset)) {
    // us-ascii text with a non-ASCII footer: the text is also valid UTF-8, so relabel.
    if (!g_utf8_validate(body.data(), static_cast<gssize>(body.size()), nullptr)) {
      return Appended::no;
    }
    encoded = add;
    relabel_utf8 = true;
  } else if (is_utf8_charset(charset)) {
    encoded = add;
  } else {
    GError* err = nullptr;
    gsize written = 0;
    GChars converted(
        g_convert(add.data(), static_cast<gssize>(add.size()), charset.c_str(), "UTF-8", nullptr, &written, &err));
    if (err != nullptr || !converted) {
      if (err != nullptr) g_error_free(err);
      return Appended::no;
    }
    encoded.assign(converted.get(), written);
  }

  std::string text = body + encoded;
  GPtr<GMimeStream> data(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
  GPtr<GMimeDataWrapper> wrapper(g_mime_data_wrapper_new_with_stream(data.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, wrapper.get());
  Appended result = Appended::same_mime;
  if (relabel_utf8) {
    g_mime_object_set_content_type_parameter(obj, "charset", "utf-8");
    result = Appended::mime_changed;
  }
  GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
  if ((enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT) && !is_ascii(text)) {
    // 7bit can no longer hold the text. Quoted-printable rather than 8bit: it survives any
    // relay without 8BITMIME and keeps the ASCII bulk of the text readable (RFC 2045 §6.7).
    g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    result = Appended::mime_changed;
  }
  return result;
}

bool is_inline_text_plain(GMimeObject* obj) {
  if (!GMIME_IS_PART(obj)) return false;
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (ct == nullptr || !g_mime_content_type_is_type(ct, "text", "plain")) return false;
  return !g_mime_part_is_attachment(GMIME_PART(obj));  // an attached .txt is wrapped
}

bool is_plain_mixed(GMimeObject* obj) {
  if (!GMIME_IS_MULTIPART(obj) || GMIME_IS_MULTIPART_SIGNED(obj) || GMIME_IS_MULTIPART_ENCRYPTED(obj)) {
    return false;
  }
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  return ct != nullptr && g_mime_content_type_is_type(ct, "multipart", "mixed");
}

// Anything else: a new multipart/mixed holding the original entity untouched plus the footer
// part. GMime moves the entity's own Content-* headers with it; MIME-Version and every other
// header stay on the message.
void wrap_with_footer(GMimeMessage* msg, GMimeObject* body, const std::string& footer, std::string_view lf) {
  GPtr<GMimeMultipart> mixed(g_mime_multipart_new_with_subtype("mixed"));
  g_mime_multipart_set_boundary(mixed.get(), wrapper_boundary(lf).c_str());
  g_mime_multipart_add(mixed.get(), body);  // takes its own reference
  g_mime_multipart_add(mixed.get(), footer_part(footer).get());
  g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed.get()));
}

std::string list_url(const ListIdentity& list, const char* page) {
  return list.base_url + "/lists/" + list.address() + "/" + page;
}

}  // namespace

std::optional<std::string> decorate_headers(std::string_view raw, const ListIdentity& list,
                                            const DecorateOptions& opts) {
  mime_init();
  std::string lf = to_lf(raw);
  Parsed parsed = parse_message(lf);
  if (!parsed) return std::nullopt;
  HeaderBlock hb = split_header_block(lf);
  const std::string address = list.address();

  // Subject: prefix rule on the decoded text (decoded exactly as message_info() sees it).
  std::optional<std::string> subject;  // set when the Subject field is rewritten or added
  bool has_subject = false;
  for (const RawField& f : hb.fields) {
    if (name_is(f.name, "Subject")) has_subject = true;
  }
  if (!opts.subject_prefix.empty()) {
    std::string current = message_info(std::string_view(lf).substr(0, hb.body)).subject;
    std::string next = prefixed_subject(opts.subject_prefix, current);
    if (!has_subject || next != current) subject = next;
  }
  std::string reply_to;
  if (opts.reply_to == ReplyToPolicy::list) reply_to = address;
  if (opts.reply_to == ReplyToPolicy::address) reply_to = opts.reply_to_address;

  // What goes away: list headers of an earlier hop (we are the list now; RFC 2369, RFC 2919),
  // a copy of our own X-BeenThere, and Reply-To when the policy sets it.
  auto dropped = [&](std::string_view name, const std::string& value) {
    for (const char* r : kReplacedHeaders) {
      if (name_is(name, r)) return true;
    }
    if (name_is(name, "X-BeenThere")) return name_is(value, address.c_str());
    return !reply_to.empty() && name_is(name, "Reply-To");
  };

  // What is appended, in this order.
  std::vector<std::pair<std::string, std::string>> added;
  if (subject && !has_subject) added.emplace_back("Subject", *subject);
  if (!reply_to.empty()) added.emplace_back("Reply-To", reply_to);
  added.emplace_back("X-BeenThere", address);
  added.emplace_back("Precedence", "list");
  // RFC 2919 §3: List-Id: [phrase] <name.host>; the phrase is RFC 2047-encoded when needed.
  std::string list_id = "<" + list.list_id() + ">";
  if (!list.description.empty()) {
    GChars phrase(g_mime_utils_header_encode_phrase(nullptr, list.description.c_str(), "utf-8"));
    if (phrase) list_id = std::string(phrase.get()) + " " + list_id;
  }
  added.emplace_back("List-Id", list_id);
  const std::string mailto = "<mailto:" + list.name + "-";
  const std::string at_host = "@" + list.host;
  added.emplace_back("List-Post", "<mailto:" + address + ">");                       // RFC 2369 §3.4
  added.emplace_back("List-Help", mailto + "request" + at_host + "?subject=help>");  // §3.1
  added.emplace_back("List-Subscribe",
                     mailto + "join" + at_host + ">, <" + list_url(list, "subscribe") + ">");  // RFC 2369 §3.3
  added.emplace_back("List-Unsubscribe",
                     mailto + "leave" + at_host + ">, <" + list_url(list, "unsubscribe") + ">");  // §3.2
  added.emplace_back("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");                      // RFC 8058 §3.1
  if (opts.archive) added.emplace_back("List-Archive", "<" + list_url(list, "archive") + ">");

  if (static_cast<int>(hb.fields.size()) == message_header_count(parsed.msg.get())) {
    // Our reading of the header block agrees with GMime's: rebuild it line by line, keeping
    // every untouched field's bytes and position, and copy the body byte for byte.
    std::string out;
    out.reserve(lf.size() + 1024);
    bool subject_done = false;
    for (const RawField& f : hb.fields) {
      std::string value = field_value(f);
      if (dropped(f.name, value)) continue;
      if (subject && !subject_done && name_is(f.name, "Subject")) {
        out += format_fields({{"Subject", *subject}});  // rewritten where it stood
        subject_done = true;
        continue;
      }
      out += f.text;
    }
    out += format_fields(added);
    out += '\n';
    out.append(lf, hb.body, std::string::npos);
    return out;
  }

  // GMime read the header block differently (malformed input): edit its header list instead
  // and let it write the message.
  GMimeObject* obj = GMIME_OBJECT(parsed.msg.get());
  GMimeHeaderList* hl = g_mime_object_get_header_list(obj);
  for (int i = g_mime_header_list_get_count(hl) - 1; i >= 0; --i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(hl, i);
    if (dropped(g_mime_header_get_name(h), header_raw(h))) g_mime_header_list_remove_at(hl, i);
  }
  if (subject && has_subject) {
    if (GMimeHeader* h = g_mime_header_list_get_header(hl, "Subject")) {
      FormatOptions fo = lf_format();
      g_mime_header_set_value(h, fo.get(), subject->c_str(), "utf-8");
    }
  }
  for (const auto& [name, value] : added) {
    g_mime_header_list_append(hl, name.c_str(), value.c_str(), "utf-8");
  }
  return write_object(obj);
}

std::string add_footer(std::string_view raw, std::string_view footer) {
  mime_init();
  std::string lf = to_lf(raw);
  if (footer.empty()) return lf;
  Parsed parsed = parse_message(lf);
  if (!parsed) return lf;
  GMimeMessage* msg = parsed.msg.get();
  GMimeObject* body = g_mime_message_get_mime_part(msg);
  if (body == nullptr) return lf;

  std::string foot = to_lf(footer);
  if (foot.back() != '\n') foot += '\n';

  Appended appended = Appended::no;
  if (is_plain_mixed(body)) {
    g_mime_multipart_add(GMIME_MULTIPART(body), footer_part(foot).get());
    appended = Appended::mime_changed;
  } else if (is_inline_text_plain(body)) {
    appended = append_to_text_part(GMIME_PART(body), foot);
  }
  if (appended == Appended::no) {
    wrap_with_footer(msg, body, foot, lf);
    appended = Appended::mime_changed;
  }
  GMimeHeaderList* hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
  if (appended == Appended::mime_changed && !g_mime_header_list_contains(hl, "MIME-Version")) {
    g_mime_header_list_append(hl, "MIME-Version", "1.0", nullptr);  // RFC 2045 §4
  }
  return write_object(GMIME_OBJECT(msg));
}

std::string prefixed_subject(std::string_view prefix, std::string_view subject) {
  std::string_view tag = trim(prefix);
  if (tag.empty()) return std::string(subject);

  // Drop every copy of the prefix (and the blanks after it), wherever a reply put it.
  std::string rest;
  std::string_view s = subject;
  while (!s.empty()) {
    if (starts_with_ci(s, tag)) {
      s.remove_prefix(tag.size());
      while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
      continue;
    }
    rest.push_back(s.front());
    s.remove_prefix(1);
  }

  // A leading run of reply markers collapses to one "Re: ".
  static constexpr std::string_view kMarkers[] = {"re:", "aw:", "sv:", "antw:"};
  bool reply = false;
  std::string_view r = trim(rest);
  for (bool found = true; found;) {
    found = false;
    for (std::string_view m : kMarkers) {
      if (starts_with_ci(r, m)) {
        r = trim(r.substr(m.size()));
        reply = found = true;
        break;
      }
    }
  }

  std::string out(tag);
  out += reply ? " Re: " : " ";
  out += r.empty() ? std::string_view("(no subject)") : r;
  return out;
}

}  // namespace listd
