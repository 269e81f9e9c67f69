// password.cpp - see password.hpp.
#include "listd/password.hpp"

#include <argon2.h>
#include <sys/random.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace listd {
namespace {

void fill_random(unsigned char* p, std::size_t n) {
  while (n > 0) {
    ssize_t got = ::getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

}  // namespace

std::string hash_password(const std::string& password) {
  unsigned char salt[16];
  fill_random(salt, sizeof salt);
  std::size_t len =
      argon2_encodedlen(kArgon2TimeCost, kArgon2MemoryKiB, kArgon2Parallelism, sizeof salt, 32, Argon2_id);
  std::vector<char> out(len);
  int rc = argon2id_hash_encoded(kArgon2TimeCost, kArgon2MemoryKiB, kArgon2Parallelism, password.data(),
                                 password.size(), salt, sizeof salt, 32, out.data(), out.size());
  if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2: ") + argon2_error_message(rc));
  return std::string(out.data());
}

bool verify_password(const std::string& password, const std::string& encoded) {
  if (encoded.rfind("$argon2id$", 0) != 0) return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string random_password() {
  static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  constexpr std::size_t n = sizeof alphabet - 1;  // 56
  std::string out;
  while (out.size() < 16) {
    unsigned char b;
    fill_random(&b, 1);
    if (b >= 224) continue;  // 224 = 4 * 56: reject to keep the choice uniform
    out.push_back(alphabet[b % n]);
  }
  return out;
}

}  // namespace listd
