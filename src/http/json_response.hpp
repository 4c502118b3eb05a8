#pragma once
// JSON bodies in and out: the error shape of docs/ARCHITECTURE.md and strict parsing.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

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
Result<boost::json::object> parse_json_object(const HttpRequest& request);

// Rejects any key outside `allowed` (400 naming the field), so typos are not silently ignored.
Result<void> reject_unknown_fields(const boost::json::object& object, std::initializer_list<std::string_view> allowed);

// Decoded query parameters; 400 on an unknown name, a repeated name or bad
// percent-encoding, so a typo ("tema=") never silently widens a query.
Result<std::map<std::string, std::string>> query_params(const HttpRequest& request,
                                                        std::initializer_list<std::string_view> allowed);

}  // namespace aegis::http
