// parser.hpp - incremental IMAP4rev1 command parser (RFC 3501 §9 grammar, RFC 7888 LITERAL+).
//
// Pure: bytes go in with feed(), next() returns a whole command, "need more", "send a
// continuation" (the client announced a synchronising literal {n}) or a typed error. It never
// reads a socket. Called by imap::Session. Every limit (line length, literal size, nesting,
// argument count) is a field of ParserLimits; breaking one gives Status::error with a message
// fit for a BAD reply, and `fatal` when the connection cannot be resynchronised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace imap {

struct ParserLimits {
  std::size_t max_line = 8192;           // bytes of one line (literal data not counted)
  std::size_t max_literal = 64 * 1024;   // bytes of one literal
  std::size_t max_command = 256 * 1024;  // bytes of a whole command including literals
  std::size_t max_depth = 16;            // parenthesised list nesting
  std::size_t max_items = 2000;          // values in a command, all levels together
};

// Value - one token of a command: an atom (also NIL and fetch items such as
// "BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.100>"), a string (quoted or literal) or a list.
struct Value {
  enum class Kind { atom, string, list } kind = Kind::atom;
  std::string text;
  std::vector<Value> items;
  bool is_atom() const { return kind == Kind::atom; }
  bool is_string() const { return kind == Kind::string; }
  bool is_list() const { return kind == Kind::list; }
  bool is_astring() const { return kind != Kind::list; }
};

struct Command {
  std::string tag;
  std::string name;  // upper case
  std::vector<Value> args;
};

enum class Status { need_more, command, continuation, error };

struct ParseResult {
  Status status = Status::need_more;
  Command command;     // Status::command
  std::string tag;     // Status::error: the tag if one was read, else "*"
  std::string error;   // Status::error: text for "TAG BAD text"
  bool fatal = false;  // Status::error: the stream cannot be resynchronised; say BYE and close
};

class CommandParser {
 public:
  explicit CommandParser(ParserLimits limits = {}) : limits_(limits) {}

  void feed(std::string_view bytes) {
    if (!failed_) buf_.append(bytes);
  }
  // next - the next event. After Status::continuation the caller sends "+ ..." and calls next()
  // again once more bytes arrived. After a non-fatal error the bad command has been dropped.
  ParseResult next();
  // take_line - one raw CRLF-terminated line (without CRLF), for IDLE's DONE and AUTHENTICATE
  // responses; false if no whole line is buffered yet. Lines longer than max_line are an error
  // reported as an over-long (truncated) line.
  bool take_line(std::string& line, bool& too_long);
  // Bytes received but not yet consumed (tests, and pipelining after STARTTLS is refused).
  std::size_t buffered() const { return buf_.size(); }
  void clear() {
    buf_.clear();
    reset();
  }

 private:
  void reset() {
    scan_ = 0;
    line_start_ = 0;
    literal_left_ = 0;
    continuation_sent_ = false;
  }
  ParseResult tokenize(std::size_t end);
  ParserLimits limits_;
  std::string buf_;
  std::size_t scan_ = 0;        // how far the command text has been framed
  std::size_t line_start_ = 0;  // start of the current line inside buf_
  std::size_t literal_left_ = 0;
  bool continuation_sent_ = false;
  bool failed_ = false;  // a fatal error happened: the stream is abandoned
};

// parse_sequence_set - RFC 3501 sequence-set ("1:3,5,7:*"); '*' becomes `star`. Ranges come
// back ordered low..high. False on bad syntax or a zero.
struct SeqRange {
  std::uint32_t lo, hi;
};
bool parse_sequence_set(std::string_view text, std::uint32_t star, std::vector<SeqRange>& out);
bool in_sequence_set(const std::vector<SeqRange>& set, std::uint32_t n);

}  // namespace imap
