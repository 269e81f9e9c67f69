// archive_view.hpp - a stored message (archive or held) made safe to show: the main headers
// and the text as plain UTF-8 (HTML parts are shown as their escaped source by the page,
// never rendered), plus the list of attachments (served for download only).
//
// Called by web-admin/app.cpp. Pure: bytes in, view out; never throws for malformed mail
// (an unparsable message comes back with its raw text as `text`). Limits: kMaxParts parts,
// kMaxDepth levels of nesting. GMime (RFC 2045-2049, RFC 2047, RFC 2231 file names).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace listd::web {

constexpr int kMaxParts = 200;
constexpr int kMaxDepth = 20;

struct AttachmentView {
  std::string filename;      // decoded; may be hostile (escape it, sanitise for downloads)
  std::string content_type;  // as declared ("image/png")
  std::size_t size = 0;
  std::string data;  // decoded bytes (filled only when with_data)
};

struct MessageView {
  std::string headers;  // "From: ...\nTo: ...\nDate: ...\nSubject: ..." decoded
  std::string text;     // text/plain parts (and HTML sources), decoded to UTF-8
  std::vector<AttachmentView> attachments;
};

MessageView render_message(std::string_view raw, bool with_data = false);

}  // namespace listd::web
