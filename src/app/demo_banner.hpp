#pragma once
// `aegis serve --demo`'s first minute: a key for a demo team and two
// copy-paste requests, one showing masking, one showing RESTRICTED data stay
// on the local model, so a newcomer sees governance work before reading on.
#include <cstdint>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace aegis::store {
class Database;
}

namespace aegis::app {

// Creates team "demo" if it does not exist, issues it a fresh key (shown
// only here: the store keeps its hash) and returns the text to print.
Result<std::string> demo_banner(store::Database& store, const Clock& clock, const std::string& host,
                                std::uint16_t port);

}  // namespace aegis::app
