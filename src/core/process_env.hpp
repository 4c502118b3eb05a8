#pragma once

#include <string>

// The process's environment and C library error text, read in one place so the
// thread-safety argument is made once (see process_env.cpp).
namespace aegis::core {

// The value of environment variable `name`, or nullptr when it is unset.
const char* env_value(const char* name) noexcept;

// The C library's message for errno value `err` ("No such file or directory").
std::string errno_text(int err);

}  // namespace aegis::core
