#pragma once
// An Attachment (core/chat.hpp) as the gateway stores it: in an async job's
// request (jobs/job_request.cpp, which is also the form a client submits)
// and in a stored Responses API conversation (wire/responses.cpp).
//   {"type": "image" | "document", "media_type": "...", "data": "<base64>",
//    "url": "...", "filename": "...", "detail": "...", "cache_control": {...}}
// with the fields after type written only when set. Reading it back checks
// the bytes as the codecs do (core/media_type.hpp), so a stored attachment
// is never trusted more than a client's.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string_view>

#include "core/chat.hpp"
#include "core/result.hpp"

namespace aegis {

boost::json::object attachment_json(const Attachment& attachment);

// invalid_request "<path>.<field> ..." for anything attachment_json would not
// write: an unknown field or type, a wrong JSON type, invalid base64, both or
// neither of data and url, a url that is not http(s), data its media type
// does not describe. cache_control is copied into default storage.
Result<Attachment> parse_attachment_json(const boost::json::value& value, std::string_view path);

}  // namespace aegis
