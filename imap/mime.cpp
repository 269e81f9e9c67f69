// mime.cpp - see mime.hpp.
#include "imap/mime.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace imap {
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// find_body - where the body starts: just after the blank line that ends the header block
// starting at `from`, or `end` if there is none.
std::size_t find_body(std::string_view msg, std::size_t from, std::size_t end) {
  if (from + 1 < end && msg[from] == '\r' && msg[from + 1] == '\n') return from + 2;  // no header at all
  if (from < end && msg[from] == '\n') return from + 1;
  std::size_t pos = from;
  while (pos < end) {
    auto nl = msg.find('\n', pos);
    if (nl == std::string_view::npos || nl >= end) return end;
    std::size_t next = nl + 1;
    if (next < end && msg[next] == '\n') return next + 1;
    if (next + 1 < end && msg[next] == '\r' && msg[next + 1] == '\n') return next + 2;
    pos = next;
  }
  return end;
}

struct Field {
  std::string_view name, raw;  // raw: the whole field with its CRLF(s)
  std::string value;           // unfolded
};

std::vector<Field> fields_of(std::string_view header) {
  std::vector<Field> out;
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t start = pos;
    std::size_t end = pos;
    while (true) {
      auto nl = header.find('\n', end);
      end = nl == std::string_view::npos ? header.size() : nl + 1;
      if (end >= header.size() || (header[end] != ' ' && header[end] != '\t')) break;
    }
    std::string_view raw = header.substr(start, end - start);
    pos = end;
    if (trim(raw).empty()) break;
    auto colon = raw.find(':');
    if (colon == std::string_view::npos) continue;
    Field f;
    f.name = trim(raw.substr(0, colon));
    f.raw = raw;
    std::string v;
    for (char c : raw.substr(colon + 1))
      if (c != '\r' && c != '\n') v.push_back(c);
    f.value = std::string(trim(v));
    out.push_back(std::move(f));
  }
  return out;
}

// Content-Type / Content-Disposition: "value; a=b; c="d"".
struct Params {
  std::string value;
  std::vector<std::pair<std::string, std::string>> params;
};

Params parse_params(std::string_view s) {
  Params p;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < s.size()) {
      if (s[i] == ' ' || s[i] == '\t') {
        ++i;
      } else if (s[i] == '(') {  // comment
        int depth = 0;
        for (; i < s.size(); ++i) {
          if (s[i] == '(') ++depth;
          if (s[i] == ')' && --depth == 0) {
            ++i;
            break;
          }
        }
      } else {
        break;
      }
    }
  };
  auto token = [&](std::string_view stop) {
    std::size_t b = i;
    while (i < s.size() && stop.find(s[i]) == std::string_view::npos && s[i] != ' ' && s[i] != '\t') ++i;
    return std::string(s.substr(b, i - b));
  };
  skip_ws();
  p.value = lower(token(";"));
  while (i < s.size()) {
    skip_ws();
    if (i < s.size() && s[i] == ';') ++i;
    skip_ws();
    if (i >= s.size()) break;
    std::string name = lower(token("=;"));
    skip_ws();
    if (i >= s.size() || s[i] != '=') {
      if (i < s.size() && s[i] != ';') ++i;
      continue;
    }
    ++i;
    skip_ws();
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value.push_back(s[i++]);
      }
      if (i < s.size()) ++i;
    } else {
      value = token(";");
    }
    if (!name.empty() && p.params.size() < 50) p.params.emplace_back(name, value);
  }
  return p;
}

void parse_part(std::string_view msg, std::size_t begin, std::size_t end, MimePart& part, bool digest_child, int depth,
                std::size_t& count) {
  part.header_begin = begin;
  part.body_begin = find_body(msg, begin, end);
  part.body_end = end;
  if (part.body_begin > end) part.body_begin = end;
  auto fields = fields_of(msg.substr(begin, part.body_begin - begin));
  const Field* ct = nullptr;
  for (auto& f : fields)
    if (iequal(f.name, "content-type")) {
      ct = &f;
      break;
    }
  if (ct) {
    auto p = parse_params(ct->value);
    auto slash = p.value.find('/');
    if (slash != std::string::npos && slash > 0 && slash + 1 < p.value.size()) {
      part.type = p.value.substr(0, slash);
      part.subtype = p.value.substr(slash + 1);
      part.params = std::move(p.params);
    } else {
      part.params = {{"charset", "us-ascii"}};
    }
  } else if (digest_child) {
    part.type = "message";
    part.subtype = "rfc822";
  } else {
    part.params = {{"charset", "us-ascii"}};
  }
  if (++count > kMaxMimeParts || depth >= kMaxMimeDepth) return;
  if (part.type == "multipart") {
    std::string boundary;
    for (auto& [k, v] : part.params)
      if (k == "boundary") boundary = v;
    if (boundary.empty()) return;
    std::string delim = "--" + boundary;
    // Find delimiter lines: at line start, "--boundary" then optional "--", then whitespace.
    std::vector<std::pair<std::size_t, std::size_t>> marks;  // (line start, after line)
    bool closed = false;
    std::size_t pos = part.body_begin;
    while (pos < end && !closed) {
      auto nl = msg.find('\n', pos);
      std::size_t line_end = (nl == std::string_view::npos || nl >= end) ? end : nl + 1;
      std::string_view line = msg.substr(pos, line_end - pos);
      if (line.size() >= delim.size() && line.compare(0, delim.size(), delim) == 0) {
        std::string_view rest = trim(line.substr(delim.size()));
        if (rest.empty()) {
          marks.emplace_back(pos, line_end);
        } else if (rest.substr(0, 2) == "--" && trim(rest.substr(2)).empty()) {
          marks.emplace_back(pos, line_end);
          closed = true;
        }
      }
      pos = line_end;
    }
    if (!closed) marks.emplace_back(end, end);
    for (std::size_t k = 0; k + 1 < marks.size(); ++k) {
      std::size_t b = marks[k].second;
      std::size_t e = marks[k + 1].first;
      // The line break before a delimiter belongs to the delimiter.
      if (e > b && msg[e - 1] == '\n') --e;
      if (e > b && msg[e - 1] == '\r') --e;
      if (e < b) e = b;
      MimePart child;
      parse_part(msg, b, e, child, part.subtype == "digest", depth + 1, count);
      part.children.push_back(std::move(child));
      if (count > kMaxMimeParts) break;
    }
  } else if (part.type == "message" && part.subtype == "rfc822") {
    MimePart inner;
    parse_part(msg, part.body_begin, part.body_end, inner, false, depth + 1, count);
    part.children.push_back(std::move(inner));
  }
}

// count_lines - line breaks in the body; a last line without one is not counted (Dovecot
// counts the same way, and inside a multipart the final CRLF belongs to the delimiter).
std::size_t count_lines(std::string_view s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// --- addresses (RFC 5322 §3.4) for ENVELOPE -----------------------------------------
std::vector<std::string_view> split_top(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  int angle = 0, paren = 0;
  bool quote = false;
  std::size_t b = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quote = false;
      continue;
    }
    if (c == '"')
      quote = true;
    else if (c == '(')
      ++paren;
    else if (c == ')' && paren > 0)
      --paren;
    else if (c == '<' && paren == 0)
      ++angle;
    else if (c == '>' && angle > 0 && paren == 0)
      --angle;
    else if (c == sep && angle == 0 && paren == 0) {
      out.push_back(s.substr(b, i - b));
      b = i + 1;
    }
  }
  out.push_back(s.substr(b));
  return out;
}

std::string strip_comments(std::string_view s, std::string* comment = nullptr) {
  std::string r;
  int depth = 0;
  bool quote = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == '\\' && i + 1 < s.size()) {
        r.push_back(c);
        c = s[++i];
      } else if (c == '"') {
        quote = false;
      }
      r.push_back(c);
      continue;
    }
    if (depth == 0 && c == '"') {
      quote = true;
      r.push_back(c);
    } else if (c == '(') {
      if (depth++ > 0 && comment) comment->push_back(c);
    } else if (c == ')' && depth > 0) {
      if (--depth > 0 && comment) comment->push_back(c);
    } else if (depth > 0) {
      if (comment) comment->push_back(c);
    } else {
      r.push_back(c);
    }
  }
  return r;
}

std::string unquote(std::string_view s) {
  s = trim(s);
  std::string r;
  bool quote = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      quote = !quote;
      continue;
    }
    if (quote && c == '\\' && i + 1 < s.size()) c = s[++i];
    r.push_back(c);
  }
  // Collapse runs of white space left by folding.
  std::string out;
  for (char c : r) {
    if ((c == ' ' || c == '\t') && !out.empty() && out.back() == ' ') continue;
    out.push_back(c == '\t' ? ' ' : c);
  }
  return std::string(trim(out));
}

std::string address(std::string_view mailbox) {
  std::string comment;
  std::string spec;
  std::string name;
  bool has_name = false;
  auto lt = std::string_view::npos;
  {
    // find '<' outside quotes
    bool quote = false;
    int paren = 0;
    for (std::size_t i = 0; i < mailbox.size(); ++i) {
      char c = mailbox[i];
      if (quote) {
        if (c == '\\')
          ++i;
        else if (c == '"')
          quote = false;
        continue;
      }
      if (c == '"')
        quote = true;
      else if (c == '(')
        ++paren;
      else if (c == ')' && paren > 0)
        --paren;
      else if (c == '<' && paren == 0) {
        lt = i;
        break;
      }
    }
  }
  if (lt != std::string_view::npos) {
    auto gt = mailbox.find('>', lt);
    spec = strip_comments(mailbox.substr(lt + 1, (gt == std::string_view::npos ? mailbox.size() : gt) - lt - 1));
    name = unquote(strip_comments(mailbox.substr(0, lt)));
    has_name = !name.empty();
  } else {
    spec = strip_comments(mailbox, &comment);
    name = unquote(comment);
    has_name = !name.empty();
  }
  std::string s;
  for (char c : spec)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') s.push_back(c);
  std::string adl;
  if (!s.empty() && s[0] == '@') {  // obsolete source route "@a,@b:user@host"
    auto colon = s.find(':');
    if (colon != std::string::npos) {
      adl = s.substr(0, colon);
      s = s.substr(colon + 1);
    }
  }
  auto at = s.rfind('@');
  std::string local = at == std::string::npos ? s : s.substr(0, at);
  std::string host = at == std::string::npos ? "" : s.substr(at + 1);
  if (local.size() >= 2 && local.front() == '"' && local.back() == '"') local = unquote(local);
  return "(" + nstring(name, has_name) + " " + nstring(adl, !adl.empty()) + " " + nstring(local, true) + " " +
         nstring(host, at != std::string::npos) + ")";
}

std::string address_list(std::string_view header, std::string_view name, const std::string* fallback_value = nullptr) {
  bool found = false;
  std::string value = header_value(header, name, &found);
  if (!found && fallback_value) value = *fallback_value;
  if (trim(value).empty()) return "NIL";
  std::string out;
  int n = 0;
  // Groups: "name: a, b;" - split on ';' would be wrong inside quotes, so detect per item.
  std::string_view rest = value;
  auto items = split_top(rest, ',');
  bool in_group = false;
  for (auto item : items) {
    std::string_view it = trim(item);
    // group start?  "Team: a@b"
    std::string nocom = strip_comments(it);
    auto colon = nocom.find(':');
    auto lt = nocom.find('<');
    auto quote = nocom.find('"');
    if (!in_group && colon != std::string::npos && (lt == std::string::npos || colon < lt) &&
        (quote == std::string::npos || colon < quote) && nocom.find('@') > colon && nocom[0] != '@') {
      std::string gname = unquote(nocom.substr(0, colon));
      out += "(NIL NIL " + nstring(gname) + " NIL)";
      ++n;
      in_group = true;
      nocom = nocom.substr(colon + 1);
      it = nocom;
    }
    std::string member(trim(it));
    bool ends_group = false;
    if (in_group && !member.empty() && member.back() == ';') {
      member.pop_back();
      ends_group = true;
    }
    if (!trim(member).empty()) {
      out += address(member);
      ++n;
    }
    if (ends_group) {
      out += "(NIL NIL NIL NIL)";
      in_group = false;
    }
    if (n > 1000) break;
  }
  if (in_group) out += "(NIL NIL NIL NIL)";
  if (out.empty()) return "NIL";
  return "(" + out + ")";
}

std::string params_list(const std::vector<std::pair<std::string, std::string>>& params) {
  if (params.empty()) return "NIL";
  std::string s = "(";
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i) s += " ";
    s += quoted_or_literal(params[i].first) + " " + quoted_or_literal(params[i].second);
  }
  return s + ")";
}

std::string opt_field(const std::vector<Field>& fields, std::string_view name) {
  for (auto& f : fields)
    if (iequal(f.name, name)) return nstring(f.value);
  return "NIL";
}

std::string extension(const std::vector<Field>& fields, bool multipart, const MimePart& part) {
  std::string s;
  if (multipart) {
    s += params_list(part.params);
  } else {
    s += opt_field(fields, "content-md5");
  }
  // disposition
  std::string dsp = "NIL";
  for (auto& f : fields)
    if (iequal(f.name, "content-disposition")) {
      auto p = parse_params(f.value);
      if (!p.value.empty()) dsp = "(" + quoted_or_literal(p.value) + " " + params_list(p.params) + ")";
      break;
    }
  s += " " + dsp;
  std::string lang = "NIL";
  for (auto& f : fields)
    if (iequal(f.name, "content-language")) {
      std::string v;
      for (char c : f.value)
        if (c != ' ' && c != '\t') v.push_back(c);
      auto langs = split_top(v, ',');
      if (langs.size() == 1) {
        lang = nstring(langs[0]);
      } else {
        lang = "(";
        for (std::size_t i = 0; i < langs.size(); ++i) lang += (i ? " " : "") + quoted_or_literal(langs[i]);
        lang += ")";
      }
      break;
    }
  s += " " + lang + " " + opt_field(fields, "content-location");
  return s;
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string to_crlf(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 30 + 2);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\n' && (i == 0 || raw[i - 1] != '\r')) out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

MimePart parse_mime(std::string_view msg) {
  MimePart root;
  std::size_t count = 0;
  parse_part(msg, 0, msg.size(), root, false, 0, count);
  return root;
}

std::string header_value(std::string_view header, std::string_view name, bool* found) {
  if (found) *found = false;
  for (auto& f : fields_of(header))
    if (iequal(f.name, name)) {
      if (found) *found = true;
      return f.value;
    }
  return {};
}

std::string header_fields(std::string_view header, const std::vector<std::string>& names, bool negate) {
  std::string out;
  for (auto& f : fields_of(header)) {
    bool listed = std::any_of(names.begin(), names.end(), [&](const std::string& n) { return iequal(n, f.name); });
    if (listed != negate) {
      out.append(f.raw);
      if (out.empty() || out.back() != '\n') out += "\r\n";
    }
  }
  out += "\r\n";
  return out;
}

std::string envelope(std::string_view header) {
  auto field = [&](std::string_view n) {
    bool found = false;
    std::string v = header_value(header, n, &found);
    return nstring(v, found);
  };
  bool has_from = false;
  std::string from_value = header_value(header, "from", &has_from);
  std::string from = address_list(header, "from");
  return "(" + field("date") + " " + field("subject") + " " + from + " " + address_list(header, "sender", &from_value) +
         " " + address_list(header, "reply-to", &from_value) + " " + address_list(header, "to") + " " +
         address_list(header, "cc") + " " + address_list(header, "bcc") + " " + field("in-reply-to") + " " +
         field("message-id") + ")";
}

std::string bodystructure(const MimePart& part, std::string_view msg, bool extended) {
  auto fields = fields_of(msg.substr(part.header_begin, part.body_begin - part.header_begin));
  if (part.multipart()) {
    std::string s = "(";
    for (auto& c : part.children) s += bodystructure(c, msg, extended);
    s += " " + quoted_or_literal(part.subtype);
    if (extended) s += " " + extension(fields, true, part);
    return s + ")";
  }
  std::string_view body = msg.substr(part.body_begin, part.body_end - part.body_begin);
  std::string enc = "7bit";
  for (auto& f : fields)
    if (iequal(f.name, "content-transfer-encoding")) {
      enc = lower(trim(f.value));
      if (enc.empty()) enc = "7bit";
    }
  std::string type = part.type == "multipart" ? "text" : part.type;  // multipart without parts: show as text
  std::string subtype = part.type == "multipart" ? "plain" : part.subtype;
  std::string s = "(" + quoted_or_literal(type) + " " + quoted_or_literal(subtype) + " " + params_list(part.params) +
                  " " + opt_field(fields, "content-id") + " " + opt_field(fields, "content-description") + " " +
                  quoted_or_literal(enc) + " " + std::to_string(body.size());
  if (part.rfc822()) {
    const MimePart& inner = part.children[0];
    s += " " + envelope(msg.substr(inner.header_begin, inner.body_begin - inner.header_begin)) + " " +
         bodystructure(inner, msg, extended) + " " + std::to_string(count_lines(body));
  } else if (type == "text") {
    s += " " + std::to_string(count_lines(body));
  }
  if (extended) s += " " + extension(fields, false, part);
  return s + ")";
}

bool fetch_section(const MimePart& root, std::string_view msg, std::string_view section, std::string& out) {
  out.clear();
  // Split "1.2.HEADER.FIELDS (A B)" into the part numbers and the specifier.
  std::vector<int> path;
  std::string_view rest = section;
  while (!rest.empty()) {
    auto dot = rest.find('.');
    std::string_view head = rest.substr(0, dot);
    if (!is_digits(head)) break;
    int n = 0;
    auto [p, ec] = std::from_chars(head.data(), head.data() + head.size(), n);
    if (ec != std::errc() || n <= 0) return false;
    path.push_back(n);
    if (path.size() > 64) return false;
    rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
  }
  if (!path.empty() && section.back() == '.') return false;
  std::string spec;
  std::vector<std::string> names;
  {
    auto sp = rest.find(' ');
    spec = lower(rest.substr(0, sp));
    if (spec == "header.fields" || spec == "header.fields.not") {
      if (sp == std::string_view::npos) return false;
      std::string_view list = trim(rest.substr(sp + 1));
      if (list.size() < 2 || list.front() != '(' || list.back() != ')') return false;
      list = list.substr(1, list.size() - 2);
      std::size_t i = 0;
      while (i < list.size()) {
        while (i < list.size() && list[i] == ' ') ++i;
        std::size_t b = i;
        if (i < list.size() && list[i] == '"') {
          auto q = list.find('"', i + 1);
          if (q == std::string_view::npos) return false;
          names.emplace_back(list.substr(i + 1, q - i - 1));
          i = q + 1;
          continue;
        }
        while (i < list.size() && list[i] != ' ') ++i;
        if (i > b) names.emplace_back(list.substr(b, i - b));
      }
      if (names.empty()) return false;
    } else if (sp != std::string_view::npos) {
      return false;
    } else if (!(spec.empty() || spec == "header" || spec == "text" || (spec == "mime" && !path.empty()))) {
      return false;
    }
  }
  const MimePart* cur = &root;
  for (std::size_t k = 0; k < path.size(); ++k) {
    int n = path[k];
    if (cur->multipart()) {
      if (static_cast<std::size_t>(n) > cur->children.size()) return true;
      cur = &cur->children[static_cast<std::size_t>(n) - 1];
    } else if (n != 1) {
      return true;
    }
    if (k + 1 < path.size() && cur->rfc822()) cur = &cur->children[0];
  }
  auto header_of = [&](const MimePart& p) { return msg.substr(p.header_begin, p.body_begin - p.header_begin); };
  auto body_of = [&](const MimePart& p) { return msg.substr(p.body_begin, p.body_end - p.body_begin); };
  if (spec == "mime") {
    out = std::string(header_of(*cur));
    return true;
  }
  if (spec.empty()) {
    out = std::string(path.empty() ? msg : body_of(*cur));
    return true;
  }
  const MimePart* m = cur;
  if (!path.empty()) {
    if (!cur->rfc822()) return true;  // HEADER/TEXT of a non-message part: empty
    m = &cur->children[0];
  }
  if (spec == "text") {
    out = std::string(body_of(*m));
  } else if (spec == "header") {
    out = std::string(header_of(*m));
  } else {
    out = header_fields(header_of(*m), names, spec == "header.fields.not");
  }
  return true;
}

std::string quoted_or_literal(std::string_view s) {
  bool literal = s.size() > 1000;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == '\r' || u == '\n' || u == 0 || u >= 0x80) literal = true;
  }
  if (literal) return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s);
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r.push_back('\\');
    r.push_back(c);
  }
  return r + "\"";
}

std::string nstring(std::string_view s, bool present) {
  return present ? quoted_or_literal(s) : "NIL";
}

}  // namespace imap
