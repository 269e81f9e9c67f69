// log.cpp - see log.hpp.
#include "listd/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace listd {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::string g_program = "listd";

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::error: return "error";
    case LogLevel::warn: return "warn";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
    case LogLevel::trace: return "trace";
  }
  return "info";
}
}  // namespace

void log_set_level(LogLevel l) {
  g_level = static_cast<int>(l);
}
void log_set_level(const std::string& name) {
  for (int i = 0; i <= 4; ++i)
    if (name == level_name(static_cast<LogLevel>(i))) g_level = i;
}
void log_set_program(std::string name) {
  g_program = std::move(name);
}
bool log_enabled(LogLevel l) {
  return static_cast<int>(l) <= g_level.load();
}

std::string log_quote(std::string_view v) {
  bool plain = !v.empty();
  for (unsigned char c : v)
    if (c <= ' ' || c == '"' || c == '\\' || c == '=' || c == 127) plain = false;
  if (plain) return std::string(v);
  std::string out = "\"";
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < ' ' || c == 127) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

void log_event(LogLevel level, std::string_view ev, std::initializer_list<LogField> fields) {
  if (!log_enabled(level)) return;
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line = ts;
  line += " " + g_program + "[" + std::to_string(::getpid()) + "] " + level_name(level) + " ev=" + std::string(ev);
  for (auto& [k, v] : fields) {
    line += " ";
    line += k;
    line += "=";
    line += log_quote(v);
  }
  line += "\n";
  ssize_t r = ::write(2, line.data(), line.size());
  (void)r;
}

}  // namespace listd
