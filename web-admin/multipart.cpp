// multipart.cpp - see multipart.hpp.
#include "web-admin/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace listd::web {

namespace {

constexpr std::size_t kMaxPadding = 256;  // transport padding after a delimiter (RFC 2046 LWSP)

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// RFC 2046 §5.1.1 bchars (space allowed, but not as the last character).
bool is_bchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

}  // namespace

std::optional<std::string> HeaderValue::param(std::string_view name) const {
  for (auto& [k, v] : params)
    if (k == name) return v;
  return std::nullopt;
}

std::optional<HeaderValue> header_params(std::string_view value) {
  HeaderValue hv;
  std::size_t i = value.find(';');
  hv.type = lower(trim(value.substr(0, i)));
  if (hv.type.empty()) return std::nullopt;
  while (i < value.size()) {
    ++i;  // past ';'
    while (i < value.size() && is_space(value[i])) ++i;
    if (i == value.size()) break;  // a trailing ';'
    std::size_t eq = value.find_first_of("=;", i);
    if (eq == std::string_view::npos || value[eq] != '=') return std::nullopt;
    std::string name = lower(trim(value.substr(i, eq - i)));
    if (name.empty()) return std::nullopt;
    i = eq + 1;
    while (i < value.size() && is_space(value[i])) ++i;
    std::string v;
    if (i < value.size() && value[i] == '"') {
      ++i;
      bool closed = false;
      for (; i < value.size(); ++i) {
        char c = value[i];
        if (c == '\\' && i + 1 < value.size()) {
          v.push_back(value[++i]);
        } else if (c == '"') {
          closed = true;
          ++i;
          break;
        } else {
          v.push_back(c);
        }
      }
      if (!closed) return std::nullopt;
      while (i < value.size() && is_space(value[i])) ++i;
      if (i < value.size() && value[i] != ';') return std::nullopt;
    } else {
      std::size_t end = value.find(';', i);
      v = std::string(trim(value.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i)));
      i = end == std::string_view::npos ? value.size() : end;
    }
    hv.params.emplace_back(std::move(name), std::move(v));
  }
  return hv;
}

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  auto hv = header_params(content_type);
  if (!hv || hv->type != "multipart/form-data") return std::nullopt;
  auto b = hv->param("boundary");
  if (!b || b->empty() || b->size() > 70 || b->back() == ' ') return std::nullopt;
  if (!std::all_of(b->begin(), b->end(), is_bchar)) return std::nullopt;
  return b;
}

MultipartParser::MultipartParser(std::string boundary, MultipartLimits limits)
    : delimiter_("\r\n--" + boundary), limits_(limits), buf_("\r\n") {}  // CRLF: a leading delimiter matches too

MultipartStatus MultipartParser::fail(std::string why, bool limit) {
  state_ = State::failed;
  limit_exceeded_ = limit;
  error_ = std::move(why);
  buf_.clear();
  return MultipartStatus::error;
}

MultipartStatus MultipartParser::feed(std::string_view bytes) {
  if (state_ == State::failed) return MultipartStatus::error;
  total_ += bytes.size();
  if (total_ > limits_.max_total_bytes)
    return fail("the form is larger than " + std::to_string(limits_.max_total_bytes) + " bytes", true);
  if (state_ == State::epilogue) return MultipartStatus::done;  // the epilogue is ignored
  buf_.append(bytes);
  return run();
}

MultipartStatus MultipartParser::finish() {
  if (state_ == State::epilogue) return MultipartStatus::done;
  if (state_ == State::failed) return MultipartStatus::error;
  return fail("the form data ended before its closing boundary");
}

MultipartStatus MultipartParser::run() {
  for (;;) {
    switch (state_) {
      case State::preamble: {
        auto pos = buf_.find(delimiter_);
        if (pos == std::string::npos) {
          std::size_t keep = delimiter_.size() - 1;  // a delimiter may straddle two pieces
          if (buf_.size() > keep) buf_.erase(0, buf_.size() - keep);
          return MultipartStatus::need_more;
        }
        buf_.erase(0, pos + delimiter_.size());
        state_ = State::after_delimiter;
        break;
      }
      case State::after_delimiter: {
        if (buf_.size() < 2) return MultipartStatus::need_more;
        if (buf_[0] == '-' && buf_[1] == '-') {
          state_ = State::epilogue;
          buf_.clear();
          return MultipartStatus::done;
        }
        std::size_t i = 0;
        while (i < buf_.size() && is_space(buf_[i])) ++i;
        if (i > kMaxPadding) return fail("malformed boundary line");
        if (i == buf_.size()) return MultipartStatus::need_more;
        if (buf_[i] != '\r') return fail("malformed boundary line");
        if (i + 1 == buf_.size()) return MultipartStatus::need_more;
        if (buf_[i + 1] != '\n') return fail("malformed boundary line");
        buf_.erase(0, i + 2);
        if (parts_.size() >= limits_.max_parts)
          return fail("the form has more than " + std::to_string(limits_.max_parts) + " parts", true);
        parts_.emplace_back();
        state_ = State::headers;
        break;
      }
      case State::headers: {
        if (buf_.size() < 2) return MultipartStatus::need_more;
        std::size_t end = 0, skip = 2;
        if (buf_[0] != '\r' || buf_[1] != '\n') {
          end = buf_.find("\r\n\r\n");
          skip = 4;
          if (end == std::string::npos) {
            if (buf_.size() > limits_.max_header_bytes + 3) return fail("a part's header is too large", true);
            return MultipartStatus::need_more;
          }
        }
        if (end > limits_.max_header_bytes) return fail("a part's header is too large", true);
        if (!parse_headers(std::string_view(buf_).substr(0, end))) return MultipartStatus::error;
        buf_.erase(0, end + skip);
        state_ = State::body;
        break;
      }
      case State::body: {
        auto& data = parts_.back().data;
        auto pos = buf_.find(delimiter_);
        std::size_t take = pos;
        if (pos == std::string::npos) {
          std::size_t keep = delimiter_.size() - 1;
          take = buf_.size() > keep ? buf_.size() - keep : 0;
        }
        if (data.size() + take > limits_.max_part_bytes)
          return fail("the field '" + parts_.back().name + "' is larger than " +
                          std::to_string(limits_.max_part_bytes) + " bytes",
                      true);
        data.append(buf_, 0, take);
        if (pos == std::string::npos) {
          buf_.erase(0, take);
          return MultipartStatus::need_more;
        }
        buf_.erase(0, pos + delimiter_.size());
        state_ = State::after_delimiter;
        break;
      }
      case State::epilogue: return MultipartStatus::done;
      case State::failed: return MultipartStatus::error;
    }
  }
}

// parse_headers - one part's header block (CRLF-separated fields, folded lines joined).
bool MultipartParser::parse_headers(std::string_view block) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (i < block.size()) {
    std::size_t eol = block.find("\r\n", i);
    std::string_view line = block.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
    i = eol == std::string_view::npos ? block.size() : eol + 2;
    if (!line.empty() && is_space(line.front()) && !fields.empty())
      fields.back().append(" ").append(trim(line));
    else
      fields.emplace_back(line);
  }
  auto& part = parts_.back();
  bool disposition = false;
  for (auto& f : fields) {
    auto colon = f.find(':');
    if (colon == std::string::npos || colon == 0) {
      fail("malformed header line in a part");
      return false;
    }
    std::string name = lower(trim(std::string_view(f).substr(0, colon)));
    std::string_view value = trim(std::string_view(f).substr(colon + 1));
    if (name == "content-disposition") {
      auto hv = header_params(value);
      auto n = hv ? hv->param("name") : std::nullopt;
      if (!hv || hv->type != "form-data" || !n || n->empty()) {
        fail("a part's Content-Disposition is not form-data with a name");
        return false;
      }
      part.name = *n;
      part.filename = hv->param("filename");
      disposition = true;
    } else if (name == "content-type") {
      part.content_type = std::string(value);
    }
  }
  if (!disposition) {
    fail("a part has no Content-Disposition");
    return false;
  }
  return true;
}

}  // namespace listd::web
