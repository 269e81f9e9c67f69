// data_reader.cpp - DATA/BDAT content state machine; see data_reader.hpp.
#include "smtp/data_reader.hpp"

#include <cctype>

namespace smtp {

const char* to_string(DataProblem p) {
  switch (p) {
    case DataProblem::none: return "none";
    case DataProblem::too_big: return "too-big";
    case DataProblem::long_line: return "long-line";
    case DataProblem::bare_cr: return "bare-cr";
    case DataProblem::bare_lf: return "bare-lf";
    case DataProblem::nul: return "nul";
    case DataProblem::too_many_hops: return "too-many-hops";
    case DataProblem::no_header: return "no-header";
    case DataProblem::header_too_big: return "header-too-big";
    case DataProblem::too_many_fields: return "too-many-header-fields";
    case DataProblem::field_too_big: return "header-field-too-big";
  }
  return "?";
}

DataReader::DataReader(Mode mode, DataLimits limits) : mode_(mode), lim_(limits) {}

void DataReader::emit(char c, std::string& out) {
  ++size_;
  if (size_ > lim_.max_size) {
    flag(DataProblem::too_big);
    return;  // keep counting, stop copying: memory stays flat
  }
  out.push_back(c);
}

// mid - one content byte inside a line (not a CR: the caller handles those).
void DataReader::mid(char c, std::string& out) {
  if (c == '\r') {
    state_ = State::cr;
    return;
  }
  state_ = State::mid;
  if (c == '\n') flag(DataProblem::bare_lf);
  if (c == '\0') flag(DataProblem::nul);
  if (prefix_len_ < sizeof prefix_) prefix_[prefix_len_++] = c;
  if (in_header_ && name_state_ == 0) {
    auto u = static_cast<unsigned char>(c);
    if (c == ':' && line_len_ > 0)
      name_state_ = 1;
    else if (u <= 32 || u >= 127 || c == ':')
      name_state_ = 2;
  }
  ++line_len_;
  if (line_len_ + 2 > lim_.max_line) flag(DataProblem::long_line);
  emit(c, out);
}

void DataReader::end_of_line() {
  if (first_line_) {
    if (name_state_ != 1) flag(DataProblem::no_header);
    first_line_ = false;
  }
  bool continuation = prefix_len_ > 0 && (prefix_[0] == ' ' || prefix_[0] == '\t');
  if (in_header_ && line_len_ > 0 && !continuation && name_state_ != 1)
    in_header_ = false;  // not a field: the body starts here (no empty line before it)
  if (in_header_ && line_len_ > 0) {
    // S-05 caps. line_len_ + 2: the line with its CRLF.
    header_size_ += line_len_ + 2;
    if (continuation) {
      field_size_ += line_len_ + 2;
    } else {
      field_size_ = line_len_ + 2;
      if (++fields_ > lim_.max_header_fields) flag(DataProblem::too_many_fields);
    }
    if (field_size_ > lim_.max_header_field_size) flag(DataProblem::field_too_big);
    if (header_size_ > lim_.max_header_size) flag(DataProblem::header_too_big);
  }
  if (in_header_) {
    if (line_len_ == 0) {
      in_header_ = false;
    } else if (prefix_len_ == 9) {
      static const char kReceived[] = "received:";
      bool match = true;
      for (std::size_t i = 0; i < 9; ++i)
        match = match && std::tolower(static_cast<unsigned char>(prefix_[i])) == kReceived[i];
      if (match && ++received_ >= lim_.max_received) flag(DataProblem::too_many_hops);
    }
  }
  line_len_ = 0;
  prefix_len_ = 0;
  name_state_ = 0;
}

std::size_t DataReader::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  for (; i < in.size() && state_ != State::done; ++i) {
    char c = in[i];
    switch (state_) {
      case State::line_start:
        if (mode_ == Mode::dot && c == '.') {
          state_ = State::dot;  // stuffing dot or the terminator: not content either way
          break;
        }
        mid(c, out);
        break;
      case State::mid: mid(c, out); break;
      case State::cr:
        if (c == '\n') {
          // Count the CRLF against the size only: it is the line end, not line content.
          emit('\r', out);
          emit('\n', out);
          end_of_line();
          state_ = State::line_start;
        } else {
          flag(DataProblem::bare_cr);
          ++line_len_;
          emit('\r', out);
          mid(c, out);
        }
        break;
      case State::dot:
        if (c == '\r')
          state_ = State::dot_cr;
        else
          mid(c, out);
        break;
      case State::dot_cr:
        if (c == '\n') {
          if (first_line_) flag(DataProblem::no_header);  // empty message
          state_ = State::done;
        } else {
          flag(DataProblem::bare_cr);  // ".\rX": the dot was stuffing, the CR is content
          ++line_len_;
          emit('\r', out);
          mid(c, out);
        }
        break;
      case State::done: break;
    }
  }
  return i;
}

void DataReader::finish(std::string& out) {
  if (state_ == State::cr) {
    flag(DataProblem::bare_cr);
    emit('\r', out);
  }
  if (first_line_ && state_ == State::line_start) flag(DataProblem::no_header);  // empty
  if (first_line_ && state_ != State::line_start) end_of_line();                 // unterminated single line
  state_ = State::done;
}

}  // namespace smtp
