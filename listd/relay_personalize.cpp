// relay_personalize.cpp - see relay_personalize.hpp.
//
// The job's message is analysed once with GMime (RFC 2045/2046 structure, as in
// listd/decorate.cpp) and cut into a source text plus "slots": ranges replaced per member
// (List-Unsubscribe, To) and the footer insertion point. Every slot starts at a line start
// and its text ends with a line end, so the shared pieces can be dot-stuffed once (RFC 5321
// 4.5.2) and a member's pieces are stuffed on their own, starting at a line start.
#include "listd/relay_personalize.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <utility>

#include "listd/message.hpp"
#include "smtp/client_proto.hpp"
#include "smtp/wire.hpp"

namespace listd {
namespace {

struct GObjectUnref {
  void operator()(void* p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct Parsed {
  GPtr<GMimeStream> stream;
  GPtr<GMimeParser> parser;
  GPtr<GMimeMessage> msg;
};

Parsed parse(const std::string& lf) {
  Parsed p;
  p.stream.reset(g_mime_stream_mem_new_with_buffer(lf.data(), lf.size()));
  p.parser.reset(g_mime_parser_new_with_stream(p.stream.get()));
  p.msg.reset(g_mime_parser_construct_message(p.parser.get(), nullptr));
  return p;
}

std::string write_lf(GMimeObject* obj) {
  GMimeFormatOptions* fo = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
  GPtr<GMimeStream> out(g_mime_stream_mem_new());
  g_mime_object_write_to_stream(obj, fo, out.get());
  g_mime_format_options_free(fo);
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

std::string decoded_content(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return {};
  GPtr<GMimeStream> out(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, out.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return o;
}

bool ascii_charset(const std::string& cs) {
  return cs.empty() || cs == "us-ascii" || cs == "ascii" || cs == "ansi_x3.4-1968" || cs == "iso646-us" || cs == "us";
}
bool utf8_charset(const std::string& cs) {
  return cs == "utf-8" || cs == "utf8";
}
bool wide_charset(const std::string& cs) {
  return cs.find("utf-16") != std::string::npos || cs.find("utf-32") != std::string::npos ||
         cs.find("ucs") != std::string::npos || cs.find("utf-7") != std::string::npos;
}

bool inline_text_plain(GMimeObject* obj) {
  if (!GMIME_IS_PART(obj)) return false;
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  return ct != nullptr && g_mime_content_type_is_type(ct, "text", "plain") &&
         !g_mime_part_is_attachment(GMIME_PART(obj));
}

bool plain_mixed(GMimeObject* obj) {
  if (!GMIME_IS_MULTIPART(obj) || GMIME_IS_MULTIPART_SIGNED(obj) || GMIME_IS_MULTIPART_ENCRYPTED(obj)) return false;
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  return ct != nullptr && g_mime_content_type_is_type(ct, "multipart", "mixed");
}

// End of the top-level header block: the offset just after its last field's "\n" (the blank
// line, if any, is not included). RFC 5322 2.2: a line that is not a field or a fold ends it.
std::size_t header_end(std::string_view lf) {
  std::size_t pos = 0;
  while (pos < lf.size()) {
    std::size_t nl = lf.find('\n', pos);
    if (nl == std::string_view::npos) return pos;
    std::string_view line = lf.substr(pos, nl - pos);
    if (line.empty()) return pos;
    if (line[0] != ' ' && line[0] != '\t') {
      std::size_t i = 0;
      while (i < line.size() && line[i] > 32 && line[i] < 127 && line[i] != ':') ++i;
      std::size_t j = i;
      while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
      if (i == 0 || j >= line.size() || line[j] != ':') return pos;
    }
    pos = nl + 1;
  }
  return pos;
}

// The range [begin, end) of the first field named `name` (with its folds) in the header
// block [0, hend); begin == npos when absent.
std::pair<std::size_t, std::size_t> find_field(std::string_view lf, std::size_t hend, std::string_view name) {
  std::size_t pos = 0;
  while (pos < hend) {
    std::size_t nl = lf.find('\n', pos);
    std::size_t next = nl == std::string_view::npos ? hend : nl + 1;
    std::string_view line = lf.substr(pos, next - pos);
    if (line.size() > name.size() && g_ascii_strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::size_t i = name.size();
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] == ':') {
        std::size_t end = next;
        while (end < hend && (lf[end] == ' ' || lf[end] == '\t')) {
          std::size_t n2 = lf.find('\n', end);
          end = n2 == std::string_view::npos ? hend : n2 + 1;
        }
        return {pos, end};
      }
    }
    pos = next;
  }
  return {std::string_view::npos, std::string_view::npos};
}

// A multipart boundary (RFC 2046 5.1.1) that does not occur in `text`.
std::string fresh_boundary(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  for (;; ++h) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "=_listd_p_%016llx", static_cast<unsigned long long>(h));
    if (text.find(buf) == std::string_view::npos) return buf;
  }
}

// Where the close delimiter "--B--" of the top-level multipart starts (at the "\n" before
// it, which belongs to the delimiter), or npos.
std::size_t close_delimiter(std::string_view lf, std::size_t from, const std::string& boundary) {
  std::string pat = "\n--" + boundary + "--";
  for (std::size_t p = lf.find(pat, from); p != std::string_view::npos; p = lf.find(pat, p + 1)) {
    std::size_t after = p + pat.size();
    if (after == lf.size() || lf[after] == '\n' || lf[after] == ' ' || lf[after] == '\t' || lf[after] == '\r') return p;
  }
  return std::string_view::npos;
}

// RFC 3676 4.2/4.4 on the footer of a format=flowed part (as decorate.cpp does).
std::string flowed_safe(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    if (!line.empty() && (line[0] == ' ' || line[0] == '>' || line.substr(0, 5) == "From ")) out.push_back(' ');
    out.append(line);
    if (nl != std::string_view::npos) out.push_back('\n');
    pos = end + 1;
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      o += static_cast<char>(c);
    } else {
      o += '%';
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

}  // namespace

Personalize personalize_from(std::string_view s) {
  if (s == "footer") return Personalize::footer;
  if (s == "full") return Personalize::full;
  return Personalize::none;
}

TemplateVars personal_footer_vars() {
  return {{"member_address", std::string(kMemberAddressSlot)}, {"unsubscribe_url", std::string(kUnsubscribeUrlSlot)}};
}

std::string unsubscribe_url(const PersonalContext& ctx, std::string_view member) {
  return ctx.base_url + "/lists/" + ctx.list_address + "/unsubscribe?address=" + percent_encode(member);
}

std::string quoted_printable(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::size_t col = 0;
    for (std::size_t i = pos; i < end; ++i) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      bool last = i + 1 == end;
      std::string tok;
      // Rule 3: a space or tab at the end of a line is encoded; rules 1-2 otherwise.
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
        tok.assign(1, static_cast<char>(c));
      } else {
        tok = {'=', hex[c >> 4], hex[c & 15]};
      }
      // Rule 5: lines of at most 76 characters, the soft break "=" included.
      std::size_t room = last ? 76 : 75;
      if (col + tok.size() > room) {
        out += "=\n";
        col = 0;
      }
      out += tok;
      col += tok.size();
    }
    if (nl != std::string_view::npos) out += '\n';
    pos = end + 1;
  }
  if (!out.empty() && out.back() != '\n') out += "=\n";  // no line end in the text: a soft break
  return out;
}

std::string base64_lines(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 57) {
    out += smtp::base64_encode(bytes.substr(i, 57));
    out += '\n';
  }
  return out;
}

PersonalMessage::PersonalMessage(std::string_view message, PersonalContext ctx)
    : PersonalMessage(message, std::move(ctx), false) {}

PersonalMessage::PersonalMessage(std::string_view message, PersonalContext ctx, bool utf8_member)
    : ctx_(std::move(ctx)) {
  mime_init();
  std::string lf = to_lf(message);
  if (!lf.empty() && lf.back() != '\n') lf += '\n';

  // The footer template, cut at its placeholders.
  {
    std::string_view f = ctx_.footer;
    std::string cur;
    while (!f.empty()) {
      if (f.substr(0, kMemberAddressSlot.size()) == kMemberAddressSlot) {
        footer_pieces_.push_back(std::move(cur));
        cur.clear();
        footer_vars_.push_back(0);
        f.remove_prefix(kMemberAddressSlot.size());
      } else if (f.substr(0, kUnsubscribeUrlSlot.size()) == kUnsubscribeUrlSlot) {
        footer_pieces_.push_back(std::move(cur));
        cur.clear();
        footer_vars_.push_back(1);
        f.remove_prefix(kUnsubscribeUrlSlot.size());
      } else {
        cur += f.front();
        f.remove_prefix(1);
      }
    }
    footer_pieces_.push_back(std::move(cur));
  }
  // For the UTF-8 variant (utf8_member), the member's address in the footer is not ASCII (the
  // unsubscribe URL is percent-encoded: always ASCII).
  const bool template_ascii =
      std::all_of(footer_pieces_.begin(), footer_pieces_.end(), [](auto& p) { return is_ascii(p); });
  const bool shows_address = std::find(footer_vars_.begin(), footer_vars_.end(), 0) != footer_vars_.end();
  bool footer_ascii = template_ascii && !(utf8_member && shows_address);
  bool ascii_part = false;  // the footer went into a us-ascii or 7bit text part

  std::string src;                            // the text the shared pieces are cut from
  std::size_t footer_at = std::string::npos;  // insertion point of the footer in src

  Parsed p = parse(lf);
  GMimeObject* body = p.msg ? g_mime_message_get_mime_part(p.msg.get()) : nullptr;
  if (!ctx_.footer.empty() && body != nullptr) {
    bool in_part = false;
    if (inline_text_plain(body)) {
      GMimePart* part = GMIME_PART(body);
      const char* cs = g_mime_object_get_content_type_parameter(body, "charset");
      std::string charset = lower(cs ? cs : "");
      const char* format = g_mime_object_get_content_type_parameter(body, "format");
      flowed_ = format != nullptr && g_ascii_strcasecmp(format, "flowed") == 0;
      std::string decoded = decoded_content(part);
      bool usable = !wide_charset(charset);
      bool rewrite = false;
      if (usable && !footer_ascii) {
        if (ascii_charset(charset)) {  // relabel us-ascii text as UTF-8 (it is valid UTF-8)
          usable = g_utf8_validate(decoded.data(), static_cast<gssize>(decoded.size()), nullptr);
          if (usable) {
            g_mime_object_set_content_type_parameter(body, "charset", "utf-8");
            charset = "utf-8";
            rewrite = true;
          }
        } else if (!utf8_charset(charset)) {  // the template must be expressible in the charset
          for (auto& piece : footer_pieces_) {
            GError* err = nullptr;
            gsize n = 0;
            char* conv =
                g_convert(piece.data(), static_cast<gssize>(piece.size()), charset.c_str(), "UTF-8", nullptr, &n, &err);
            if (err != nullptr) {
              g_error_free(err);
              usable = false;
            }
            g_free(conv);
          }
        }
      }
      GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
      ascii_part =
          ascii_charset(charset) || enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT;
      if (usable && !footer_ascii && (enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT)) {
        // 7bit cannot carry the footer: the part becomes quoted-printable (RFC 2045 6.7).
        g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
        enc = GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
        rewrite = true;
      }
      if (usable) {
        if (rewrite) {
          if (!g_mime_header_list_contains(g_mime_object_get_header_list(GMIME_OBJECT(p.msg.get())), "MIME-Version"))
            g_mime_object_set_header(GMIME_OBJECT(p.msg.get()), "MIME-Version", "1.0", nullptr);
          lf = write_lf(GMIME_OBJECT(p.msg.get()));
          if (!lf.empty() && lf.back() != '\n') lf += '\n';
        }
        charset_ = ascii_charset(charset) || utf8_charset(charset) ? "" : charset;
        crlf_ = decoded.find("\r\n") != std::string::npos;
        std::size_t hend = header_end(lf);
        std::size_t body_at = lf.compare(hend, 1, "\n") == 0 ? hend + 1 : hend;
        if (body_at == hend) {  // no blank line: add one so the footer is body, not header
          lf.insert(hend, "\n");
          body_at = hend + 1;
        }
        bool ends_line = decoded.empty() || decoded.back() == '\n';
        if (enc == GMIME_CONTENT_ENCODING_BASE64) {
          // Re-encode once: whole 57-byte groups are shared, the rest goes with each footer.
          enc_ = Enc::base64;
          std::size_t k = decoded.size() / 57 * 57;
          src = lf.substr(0, body_at) + base64_lines(std::string_view(decoded).substr(0, k));
          lead_ = decoded.substr(k);
        } else {
          enc_ = enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ? Enc::qp : Enc::raw;
          src = lf;  // ends with "\n": a text without a final line end gets it as the separator
          std::string_view raw_body = std::string_view(lf).substr(body_at);
          if (raw_body.size() >= 2 && raw_body.substr(raw_body.size() - 2) == "=\n" && enc_ == Enc::qp)
            ends_line = false;  // a soft break at the very end
          else if (!raw_body.empty())
            ends_line = true;
        }
        if (!ends_line) lead_ += crlf_ ? "\r\n" : "\n";
        std::string_view last(decoded);
        if (!last.empty() && last.back() == '\n') last.remove_suffix(1);
        if (!last.empty() && last.back() == '\r') last.remove_suffix(1);
        auto ls = last.rfind('\n');
        last = ls == std::string_view::npos ? last : last.substr(ls + 1);
        if (flowed_ && !last.empty() && last.back() == ' ') lead_ += crlf_ ? "\r\n" : "\n";
        footer_at = src.size();
        placement_ = "text-part";
        in_part = true;
      }
    }
    if (!in_part) {
      if (!plain_mixed(body)) {
        // Wrap the original entity, untouched, in a new multipart/mixed (signatures stay valid).
        GPtr<GMimeMultipart> mixed(g_mime_multipart_new_with_subtype("mixed"));
        g_mime_multipart_set_boundary(mixed.get(), fresh_boundary(lf).c_str());
        g_mime_multipart_add(mixed.get(), body);
        g_mime_message_set_mime_part(p.msg.get(), GMIME_OBJECT(mixed.get()));
        if (!g_mime_header_list_contains(g_mime_object_get_header_list(GMIME_OBJECT(p.msg.get())), "MIME-Version"))
          g_mime_object_set_header(GMIME_OBJECT(p.msg.get()), "MIME-Version", "1.0", nullptr);
        lf = write_lf(GMIME_OBJECT(p.msg.get()));
        if (!lf.empty() && lf.back() != '\n') lf += '\n';
        body = g_mime_message_get_mime_part(p.msg.get());
        placement_ = "wrapped";
      } else {
        placement_ = "new-part";
      }
      const char* b = g_mime_multipart_get_boundary(GMIME_MULTIPART(body));
      std::string boundary = b ? b : "";
      std::size_t at = boundary.empty() ? std::string::npos : close_delimiter(lf, header_end(lf), boundary);
      if (at == std::string::npos) {  // no close delimiter in the input: let GMime write one
        lf = write_lf(GMIME_OBJECT(p.msg.get()));
        if (!lf.empty() && lf.back() != '\n') lf += '\n';
        at = boundary.empty() ? std::string::npos : close_delimiter(lf, header_end(lf), boundary);
      }
      if (at != std::string::npos) {
        // A new last part, always quoted-printable UTF-8 (a member's address may be UTF-8).
        std::string part_head = "\n--" + boundary +
                                "\nContent-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: "
                                "quoted-printable\nContent-Disposition: inline\n\n";
        src = lf.substr(0, at) + part_head + lf.substr(at);
        footer_at = at + part_head.size();
        enc_ = Enc::qp;
      } else {
        placement_ = "none";
      }
    }
  }
  if (footer_at == std::string::npos) src = lf;

  // The header slots, then the footer slot, in source order.
  std::size_t hend = header_end(src);
  auto lu = find_field(src, hend, "List-Unsubscribe");
  slots_.push_back({SlotKind::list_unsubscribe, lu.first == std::string::npos ? hend : lu.first,
                    lu.first == std::string::npos ? hend : lu.second});
  if (ctx_.mode == Personalize::full) {
    auto to = find_field(src, hend, "To");
    slots_.push_back({SlotKind::to, to.first == std::string::npos ? hend : to.first,
                      to.first == std::string::npos ? hend : to.second});
  }
  std::stable_sort(slots_.begin(), slots_.end(), [](const Slot& a, const Slot& b) { return a.begin < b.begin; });
  if (footer_at != std::string::npos) slots_.push_back({SlotKind::footer, footer_at, footer_at});

  std::size_t pos = 0;
  for (auto& s : slots_) {
    lit_lf_.push_back(src.substr(pos, s.begin - pos));
    pos = s.end;
  }
  lit_lf_.push_back(src.substr(pos));
  for (std::size_t i = 0; i < lit_lf_.size(); ++i) {
    // Every piece starts at a line start (slots begin after a "\n" and end with one).
    smtp::WireEncoder d(true, true), b(false, true);
    std::string wd, wb;
    d.feed(lit_lf_[i], wd);
    b.feed(lit_lf_[i], wb);
    if (i + 1 == lit_lf_.size()) {
      d.finish(wd);
      b.finish(wb);
    }
    lit_data_.push_back(std::move(wd));
    lit_bdat_.push_back(std::move(wb));
  }
  // A us-ascii/7bit part cannot carry a UTF-8 (SMTPUTF8) member address as it is: members
  // with such an address get their copy from a variant whose part is relabelled UTF-8 and
  // quoted-printable; everyone else keeps the part as it came.
  if (!utf8_member && shows_address && template_ascii && placement_ == "text-part" && ascii_part)
    utf8_.reset(new PersonalMessage(message, ctx_, true));
}

std::string PersonalMessage::footer_text(std::string_view member) const {
  std::string text;
  for (std::size_t i = 0; i < footer_pieces_.size(); ++i) {
    text += footer_pieces_[i];
    if (i < footer_vars_.size()) text += footer_vars_[i] == 0 ? std::string(member) : unsubscribe_url(ctx_, member);
  }
  if (!text.empty() && text.back() != '\n') text += '\n';
  if (flowed_) text = flowed_safe(text);
  if (!charset_.empty()) {
    gsize n = 0;
    GError* err = nullptr;
    char* conv = g_convert_with_fallback(text.data(), static_cast<gssize>(text.size()), charset_.c_str(), "UTF-8", "?",
                                         nullptr, &n, &err);
    if (err != nullptr) g_error_free(err);
    if (conv != nullptr) text.assign(conv, n);
    g_free(conv);
  }
  if (crlf_) {
    std::string c;
    for (char ch : text) {
      if (ch == '\n') c += '\r';
      c += ch;
    }
    text = std::move(c);
  }
  text = lead_ + text;
  switch (enc_) {
    case Enc::raw: return text;
    case Enc::qp: return quoted_printable(text);
    case Enc::base64: return base64_lines(text);
  }
  return text;
}

std::string PersonalMessage::slot_text(const Slot& s, std::string_view member) const {
  switch (s.kind) {
    case SlotKind::list_unsubscribe: {
      auto at = ctx_.list_address.rfind('@');
      std::string leave = at == std::string::npos
                              ? ctx_.list_address
                              : ctx_.list_address.substr(0, at) + "-leave" + ctx_.list_address.substr(at);
      return "List-Unsubscribe: <mailto:" + leave + ">,\n <" + unsubscribe_url(ctx_, member) + ">\n";
    }
    case SlotKind::to: return "To: " + std::string(member) + "\n";
    case SlotKind::footer: return footer_text(member);
  }
  return {};
}

void PersonalMessage::render(std::string_view member, std::string& scratch, std::vector<std::string_view>& data,
                             std::vector<std::string_view>& bdat) const {
  if (utf8_ && !is_ascii(member)) return utf8_->render(member, scratch, data, bdat);
  scratch.clear();
  std::vector<std::size_t> marks;  // per slot: data begin, bdat begin, end
  marks.reserve(slots_.size() * 3 + 1);
  for (auto& s : slots_) {
    std::string t = slot_text(s, member);
    smtp::WireEncoder d(true, true), b(false, true);
    marks.push_back(scratch.size());
    d.feed(t, scratch);
    marks.push_back(scratch.size());
    b.feed(t, scratch);
  }
  marks.push_back(scratch.size());
  data.clear();
  bdat.clear();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    data.push_back(lit_data_[i]);
    bdat.push_back(lit_bdat_[i]);
    std::string_view sc(scratch);
    data.push_back(sc.substr(marks[2 * i], marks[2 * i + 1] - marks[2 * i]));
    bdat.push_back(sc.substr(marks[2 * i + 1], marks[2 * i + 2] - marks[2 * i + 1]));
  }
  data.push_back(lit_data_.back());
  bdat.push_back(lit_bdat_.back());
}

std::string PersonalMessage::render_lf(std::string_view member) const {
  if (utf8_ && !is_ascii(member)) return utf8_->render_lf(member);
  std::string out;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    out += lit_lf_[i];
    out += slot_text(slots_[i], member);
  }
  out += lit_lf_.back();
  return out;
}

}  // namespace listd
