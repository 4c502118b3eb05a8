#pragma once
// JSON bodies in and out: the error shape of docs/ARCHITECTURE.md and strict parsing.
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <initializer_list>
#include <map>
#include <string>

#include "core/result.hpp"
#include "http/message.hpp"

namespace aegis::http {

HttpResponse json_response(int status, const boost::json::value& body);
// {"error":{"type","message","request_id"}} with the status the code maps to.
HttpResponse error_response(const Error& error, std::string_view request_id);

// Parses a request body that must be a JSON object: 415 unless the
// content type is application/json, 400 on malformed JSON or invalid UTF-8.
// The tree's memory comes from `storage` (the default heap when null).
Result<boost::json::object> parse_json_object(const HttpRequest& request, boost::json::storage_ptr storage = {});

// Size of the stack arena a request body or a provider answer is parsed
// into: a typical chat body fits, a larger one continues on the heap.
inline constexpr std::size_t kJsonArenaBytes = 8192;

// parse_json_object into a per-request arena, then `decode(object)`, which
// must copy what it keeps: the whole tree is released in one piece when
// decode returns, instead of one free per string, array and object
// (bench/wire_bench.cpp measures the difference). Not a coroutine, so the
// arena lives on the thread's stack, not in a coroutine frame.
template <class Decode>
auto decode_json_object(const HttpRequest& request, Decode&& decode)
    -> decltype(decode(std::declval<const boost::json::object&>())) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): arena memory, not read before written
  std::array<unsigned char, kJsonArenaBytes> buffer;
  boost::json::monotonic_resource arena(buffer.data(), buffer.size());
  auto object = parse_json_object(request, &arena);
  if (!object.ok()) return std::move(object).error();
  return decode(*object);
}

// Rejects any key outside `allowed` (400 naming the field), so typos are not silently ignored.
Result<void> reject_unknown_fields(const boost::json::object& object, std::initializer_list<std::string_view> allowed);

// Decoded query parameters; 400 on an unknown name, a repeated name or bad
// percent-encoding, so a typo ("tema=") never silently widens a query.
Result<std::map<std::string, std::string>> query_params(const HttpRequest& request,
                                                        std::initializer_list<std::string_view> allowed);

}  // namespace aegis::http
