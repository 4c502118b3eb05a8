#pragma once
// The exact response cache's key (gateway/response_cache.hpp): what makes two
// requests identical.
#include <string_view>

#include "core/chat.hpp"
#include "core/classification.hpp"
#include "gateway/response_cache.hpp"

namespace aegis::gateway {

// SHA-256 over a canonical encoding of the parsed request (so the client's key
// order, whitespace and number spelling do not matter: JSON values such as
// tool schemas, tool_choice, tool-call arguments and pass-through fields are
// re-serialised with sorted keys) together with the team, the task, the
// classification and the wire protocol it arrived in. Every field that can
// change the answer is in it (model, system, messages, max_tokens,
// temperature, top_p, stop, tools, tool_choice, pass-through fields); whether
// the client streams is not, so a stream and a complete request share an
// entry.
CacheKey response_cache_key(std::string_view team, std::string_view task, Level level, const ChatRequest& request);

}  // namespace aegis::gateway
