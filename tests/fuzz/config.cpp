// config.cpp - fuzz target: the INI configuration (listd/config parse_config). Any input must
// either parse or throw ConfigError naming the file ("FILE:LINE: ..." or "FILE: ..."); any
// other exception (std::out_of_range, std::invalid_argument, filesystem errors ...) is a bug:
// listd would die with an unclear message instead of pointing at the bad line.
#include "listd/config.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(fuzz::as_text(data, size));
  try {
    listd::Config c = listd::parse_config(text, "/etc/listd/listd.conf");
    FUZZ_CHECK(c.data_dir.is_absolute(), "data_dir not anchored: " + c.data_dir.string());
  } catch (const listd::ConfigError& e) {
    FUZZ_CHECK(std::string(e.what()).rfind("/etc/listd/listd.conf", 0) == 0,
               std::string("error without file: ") + e.what());
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("parse_config threw something else than ConfigError: ") + e.what());
  }
  return 0;
}
