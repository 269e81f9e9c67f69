// archive_view.cpp - see archive_view.hpp.
#include "web-admin/archive_view.hpp"

#include <gmime/gmime.h>

#include "listd/message.hpp"

namespace listd::web {

namespace {

struct Walker {
  MessageView& view;
  bool with_data;
  int parts = 0;

  static std::string decoded_bytes(GMimePart* part) {
    GMimeDataWrapper* content = g_mime_part_get_content(part);
    if (!content) return {};
    GMimeStream* mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, mem);
    GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    std::string out(reinterpret_cast<const char*>(arr->data), arr->len);
    g_object_unref(mem);
    return out;
  }

  static std::string text_of(GMimePart* part) {
    if (GMIME_IS_TEXT_PART(part)) {
      char* t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
      std::string out = t ? t : "";
      g_free(t);
      return out;
    }
    return decoded_bytes(part);
  }

  void attach(GMimeObject* obj, const std::string& name, const std::string& type, std::string data) {
    AttachmentView a;
    a.filename = name.empty() ? "part-" + std::to_string(view.attachments.size() + 1) + ".bin" : name;
    a.content_type = type;
    a.size = data.size();
    if (with_data) a.data = std::move(data);
    (void)obj;
    view.attachments.push_back(std::move(a));
  }

  void walk(GMimeObject* obj, int depth) {
    if (!obj || depth > kMaxDepth || ++parts > kMaxParts) return;
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    char* mt = ct ? g_mime_content_type_get_mime_type(ct) : nullptr;
    std::string type = mt ? mt : "application/octet-stream";
    g_free(mt);
    if (GMIME_IS_MULTIPART(obj)) {
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      int n = g_mime_multipart_get_count(mp);
      if (ct && g_mime_content_type_is_type(ct, "multipart", "alternative")) {
        // Show the text/plain alternative when there is one, else the first part.
        for (int i = 0; i < n; ++i) {
          GMimeObject* p = g_mime_multipart_get_part(mp, i);
          GMimeContentType* pct = g_mime_object_get_content_type(p);
          if (pct && g_mime_content_type_is_type(pct, "text", "plain")) return walk(p, depth + 1);
        }
        if (n > 0) walk(g_mime_multipart_get_part(mp, 0), depth + 1);
        return;
      }
      for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i), depth + 1);
      return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      std::string data;
      if (inner) {
        char* s = g_mime_object_to_string(GMIME_OBJECT(inner), nullptr);
        data = s ? s : "";
        g_free(s);
      }
      attach(obj, "message.eml", "message/rfc822", std::move(data));
      return;
    }
    if (!GMIME_IS_PART(obj)) return;
    GMimePart* part = GMIME_PART(obj);
    const char* fn = g_mime_part_get_filename(part);
    bool is_att = g_mime_part_is_attachment(part) || fn != nullptr;
    bool plain = ct && g_mime_content_type_is_type(ct, "text", "plain");
    bool html = ct && g_mime_content_type_is_type(ct, "text", "html");
    if (!is_att && (plain || html)) {
      if (!view.text.empty()) view.text += "\n\n";
      if (html) view.text += "[HTML part, shown as source]\n";
      view.text += text_of(part);
      return;
    }
    attach(obj, fn ? fn : "", type, decoded_bytes(part));
  }
};

std::string header_line(GMimeObject* obj, const char* name) {
  const char* v = g_mime_object_get_header(obj, name);
  if (!v) return {};
  char* dec = g_mime_utils_header_decode_text(nullptr, v);
  std::string out = std::string(name) + ": " + (dec ? dec : v) + "\n";
  g_free(dec);
  return out;
}

}  // namespace

MessageView render_message(std::string_view raw, bool with_data) {
  mime_init();
  MessageView view;
  std::string lf = to_lf(raw);
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(lf.data(), lf.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  if (!msg) {
    view.text = lf;
  } else {
    GMimeObject* top = GMIME_OBJECT(msg);
    for (const char* h : {"From", "To", "Cc", "Date", "Subject", "Message-ID"}) view.headers += header_line(top, h);
    Walker w{view, with_data};
    w.walk(g_mime_message_get_mime_part(msg), 0);
    g_object_unref(msg);
  }
  g_object_unref(parser);
  g_object_unref(stream);
  return view;
}

}  // namespace listd::web
