#include "core/request_limits.hpp"

#include <string>

namespace aegis {

Result<void> check_item_limit(std::string_view field, std::size_t count, std::size_t limit, std::string_view key) {
  if (count <= limit) return {};
  return make_error(ErrorCode::invalid_request, std::string(field) + " has " + std::to_string(count) +
                                                    " items; the limit is " + std::to_string(limit) + " (limits." +
                                                    std::string(key) + ")");
}

Result<void> TextTally::add(std::size_t bytes) {
  total_ = bytes > std::numeric_limits<std::size_t>::max() - total_ ? std::numeric_limits<std::size_t>::max()
                                                                    : total_ + bytes;
  if (total_ <= limit_) return {};
  // Counting stops at the first field over the limit, so the total is a lower bound.
  return make_error(ErrorCode::invalid_request, "the request's text has at least " + std::to_string(total_) +
                                                    " bytes; the limit is " + std::to_string(limit_) +
                                                    " (limits.max_text_bytes)");
}

}  // namespace aegis
