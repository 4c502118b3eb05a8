#include "core/process_env.hpp"

#include <cstdlib>
#include <cstring>

namespace aegis::core {

const char* env_value(const char* name) noexcept {
  // getenv races only with setenv/putenv, and Aegis never modifies its own
  // environment (tests that do, do it before starting any thread).
  return std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
}

std::string errno_text(int err) {
  char buffer[256];
  // The GNU strerror_r: returns either `buffer` or a static immutable string.
  return ::strerror_r(err, buffer, sizeof buffer);
}

}  // namespace aegis::core
