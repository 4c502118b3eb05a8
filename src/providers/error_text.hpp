#pragma once
// What a provider's error says to an API client: which provider and what kind
// of failure, never where the provider lives. Addresses, host:port pairs,
// URLs and file paths are replaced by placeholders; the detail belongs in the
// log (providers/http_provider.cpp logs its transport failures).
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace aegis::providers {

// `text` with every URL (`<url>`), IP address or host:port, bracketed IPv6,
// `localhost` (`<address>`) and absolute path of two or more segments
// (`<path>`) replaced.
std::string redact_locations(std::string_view text);

// The error with its message redacted and naming the provider: the codecs'
// generic "provider rejected …" becomes "provider 'NAME' rejected …", any
// other message not naming it yet gets "provider 'NAME': " in front. Code and
// retry-after are kept.
Error attribute_error(Error error, std::string_view provider);

}  // namespace aegis::providers
