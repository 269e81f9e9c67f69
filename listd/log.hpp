// log.hpp - one structured line per event on stderr:
//   2026-11-28T03:40:00.123Z listd[PID] info ev=received spool=ID list=a@b sender=x
// Values with spaces, quotes or control characters are quoted and escaped, so one event is
// always one line (a hostile Subject cannot forge a log line). Thread-safe: one write(2).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace listd {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3, trace = 4 };

void log_set_level(LogLevel l);
void log_set_level(const std::string& name);
void log_set_program(std::string name);
bool log_enabled(LogLevel l);

using LogField = std::pair<std::string_view, std::string_view>;
void log_event(LogLevel level, std::string_view ev, std::initializer_list<LogField> fields);

// log_quote - the escaping used for values (exposed for tests).
std::string log_quote(std::string_view v);

}  // namespace listd
