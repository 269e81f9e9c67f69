// archive_search.cpp - see archive_search.hpp.
#include "listd/archive_search.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <gmime/gmime.h>

#include <vector>

#include "imap/mime.hpp"
#include "listd/fsutil.hpp"

namespace listd {
namespace {

struct Walk {
  std::string* out;
};

void collect(GMimeObject* /*parent*/, GMimeObject* part, gpointer data) {
  auto* w = static_cast<Walk*>(data);
  if (w->out->size() >= kMaxIndexedText || !GMIME_IS_TEXT_PART(part)) return;
  GMimeContentType* ct = g_mime_object_get_content_type(part);
  if (!ct || !g_mime_content_type_is_type(ct, "text", "plain")) return;
  if (g_mime_part_is_attachment(GMIME_PART(part))) return;
  char* text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
  if (!text) return;
  std::string_view t(text);
  std::size_t room = kMaxIndexedText - w->out->size();
  if (!w->out->empty()) w->out->push_back('\n');
  w->out->append(t.substr(0, room));
  g_free(text);
}

}  // namespace

std::string decode_header_text(const std::string& raw) {
  if (raw.empty()) return {};
  mime_init();
  char* d = g_mime_utils_header_decode_text(nullptr, raw.c_str());
  std::string r = d ? d : raw;
  g_free(d);
  return r;
}

std::string fold_case(std::string_view s) {
  if (g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr)) {
    char* f = g_utf8_casefold(s.data(), static_cast<gssize>(s.size()));
    std::string r(f);
    g_free(f);
    return r;
  }
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

SearchText search_text(std::string_view raw) {
  mime_init();
  SearchText st;
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(raw.data(), raw.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  if (msg) {
    Walk w{&st.body};
    g_mime_message_foreach(msg, collect, &w);
    g_object_unref(msg);
  }
  g_object_unref(parser);
  g_object_unref(stream);
  auto header_end = raw.find("\n\n");
  auto crlf_end = raw.find("\r\n\r\n");
  std::string_view header = raw.substr(0, std::min(header_end, crlf_end));
  std::string to = imap::header_value(header, "to"), cc = imap::header_value(header, "cc");
  st.recipients = decode_header_text(to);
  if (!cc.empty()) st.recipients += ", " + decode_header_text(cc);
  return st;
}

const char* const kInsertAccessSql =
    "INSERT OR IGNORE INTO archive_imap(archive_id, vsize, envelope, body, bodystructure) VALUES (?,?,?,?,?)";
const char* const kInsertFtsSql =
    "INSERT INTO archive_fts(rowid, subject, sender, recipients, body) VALUES (?,?,?,?,?)";

AccessFacts access_facts(std::string_view raw, const MessageInfo& info) {
  AccessFacts f;
  std::string crlf = imap::to_crlf(raw);
  imap::MimePart tree = imap::parse_mime(crlf);
  std::string_view header = std::string_view(crlf).substr(0, tree.body_begin);
  f.vsize = static_cast<std::int64_t>(crlf.size());
  f.envelope = imap::envelope(header);
  f.body = imap::bodystructure(tree, crlf, false);
  f.bodystructure = imap::bodystructure(tree, crlf, true);
  SearchText st = search_text(raw);
  f.subject = info.subject;
  f.sender = info.from_name.empty() ? info.from_address : info.from_name + " <" + info.from_address + ">";
  f.recipients = std::move(st.recipients);
  f.text = std::move(st.body);
  return f;
}

bool insert_access_row(SQLite::Statement& q, std::int64_t archive_id, const AccessFacts& f) {
  q.reset();
  q.bind(1, archive_id);
  q.bind(2, f.vsize);
  q.bindNoCopy(3, f.envelope);
  q.bindNoCopy(4, f.body);
  q.bindNoCopy(5, f.bodystructure);
  return q.exec() != 0;
}

void insert_fts_row(SQLite::Statement& q, std::int64_t archive_id, const AccessFacts& f) {
  q.reset();
  q.bind(1, archive_id);
  q.bindNoCopy(2, f.subject);
  q.bindNoCopy(3, f.sender);
  q.bindNoCopy(4, f.recipients);
  q.bindNoCopy(5, f.text);
  q.exec();
}

void archive_index_access(SQLite::Database& db, std::int64_t archive_id, std::string_view raw,
                          const MessageInfo& info) {
  AccessFacts f = access_facts(raw, info);
  SQLite::Statement q(db, kInsertAccessSql);
  if (!insert_access_row(q, archive_id, f)) return;  // already indexed
  SQLite::Statement fts(db, kInsertFtsSql);
  insert_fts_row(fts, archive_id, f);
}

std::size_t archive_backfill(SQLite::Database& db, const std::filesystem::path& archive_dir) {
  std::vector<std::pair<std::int64_t, std::string>> todo;
  {
    SQLite::Statement q(db,
                        "SELECT a.id, a.path FROM archive a LEFT JOIN archive_imap i ON i.archive_id = a.id "
                        "WHERE i.archive_id IS NULL ORDER BY a.id");
    while (q.executeStep()) todo.emplace_back(q.getColumn(0).getInt64(), q.getColumn(1).getString());
  }
  std::size_t n = 0;
  for (std::size_t b = 0; b < todo.size(); b += 500) {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    for (std::size_t k = b; k < std::min(todo.size(), b + 500); ++k) {
      std::string raw;
      try {
        raw = read_file(archive_dir / todo[k].second);
      } catch (const std::exception&) {
        continue;  // file gone: leave the row unindexed (it is then not shown)
      }
      archive_index_access(db, todo[k].first, raw, message_info(raw));
      ++n;
    }
    tx.commit();
  }
  return n;
}

}  // namespace listd
