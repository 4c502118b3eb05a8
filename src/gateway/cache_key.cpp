#include "gateway/cache_key.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include "core/digest.hpp"

namespace aegis::gateway {

namespace {

namespace json = boost::json;

// A self-delimiting encoding: every string is a netstring ("5:hello"), every
// value starts with a type tag, so no two different requests encode alike.
class Canonical {
 public:
  std::string& text() { return out_; }

  void tag(char c) { out_ += c; }

  void str(std::string_view s) {
    append_int(static_cast<std::int64_t>(s.size()));
    out_ += ':';
    out_.append(s);
  }

  void integer(std::int64_t n) {
    out_ += 'i';
    append_int(n);
    out_ += ';';
  }

  void number(double d) {
    // 1 and 1.0 are the same number to every provider.
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e15) {
      integer(static_cast<std::int64_t>(d));
      return;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    out_ += 'd';
    if (ec == std::errc()) out_.append(buf, end);
    out_ += ';';
  }

  void optional_integer(const std::optional<std::int64_t>& n) {
    if (n) {
      integer(*n);
    } else {
      tag('n');
    }
  }

  void optional_number(const std::optional<double>& d) {
    if (d) {
      number(*d);
    } else {
      tag('n');
    }
  }

  // A JSON value with object keys sorted, whatever order the client sent.
  void value(const json::value& v) {
    switch (v.kind()) {
      case json::kind::null: tag('n'); return;
      case json::kind::bool_: tag(v.get_bool() ? 't' : 'f'); return;
      case json::kind::int64: integer(v.get_int64()); return;
      case json::kind::uint64:
        if (v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          integer(static_cast<std::int64_t>(v.get_uint64()));
        } else {
          out_ += 'u';
          out_ += std::to_string(v.get_uint64());
          out_ += ';';
        }
        return;
      case json::kind::double_: number(v.get_double()); return;
      case json::kind::string:
        tag('s');
        str(std::string_view(v.get_string().data(), v.get_string().size()));
        return;
      case json::kind::array: {
        const auto& a = v.get_array();
        tag('[');
        append_int(static_cast<std::int64_t>(a.size()));
        for (const auto& item : a) value(item);
        tag(']');
        return;
      }
      case json::kind::object: object(v.get_object()); return;
    }
  }

  void object(const json::object& o) {
    std::vector<const json::key_value_pair*> fields;
    fields.reserve(o.size());
    for (const auto& kv : o) fields.push_back(&kv);
    std::sort(fields.begin(), fields.end(), [](const auto* a, const auto* b) { return a->key() < b->key(); });
    tag('{');
    append_int(static_cast<std::int64_t>(fields.size()));
    for (const auto* kv : fields) {
      str(std::string_view(kv->key().data(), kv->key().size()));
      value(kv->value());
    }
    tag('}');
  }

  // JSON text (tool-call arguments) by its meaning when it parses, else as written.
  void json_text(std::string_view text) {
    boost::system::error_code ec;
    const json::value parsed = json::parse(text, ec);
    if (ec) {
      tag('r');
      str(text);
    } else {
      value(parsed);
    }
  }

 private:
  void append_int(std::int64_t n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    (void)ec;  // 24 characters hold any int64
    out_.append(buf, end);
  }

  std::string out_;
};

char role_tag(Role role) {
  switch (role) {
    case Role::user: return 'U';
    case Role::assistant: return 'A';
    case Role::tool: return 'T';
  }
  return '?';
}

char protocol_tag(WireProtocol protocol) {
  switch (protocol) {
    case WireProtocol::openai: return 'o';
    case WireProtocol::anthropic: return 'a';
    case WireProtocol::ollama: return 'l';
  }
  return '?';
}

}  // namespace

CacheKey response_cache_key(std::string_view team, std::string_view task, Level level, const ChatRequest& request) {
  Canonical c;
  c.text().reserve(256 + request.system.size() + (request.messages.size() * 64));
  c.str("aegis-cache-v1");
  c.str(team);
  c.str(task);
  c.str(to_string(level));
  c.tag(protocol_tag(request.origin));
  c.str(request.model);
  c.str(request.system);
  c.tag('[');
  for (const auto& m : request.messages) {
    c.tag(role_tag(m.role));
    c.str(m.text);
    c.tag('(');
    for (const auto& call : m.tool_calls) {
      c.str(call.id);
      c.str(call.name);
      c.json_text(call.arguments_json);
    }
    c.tag(')');
    c.str(m.tool_call_id);
    c.tag(m.tool_error ? 't' : 'f');
    c.tag('<');
    for (const auto& a : m.attachments) {
      c.tag(a.kind == Attachment::Kind::image ? 'i' : 'd');
      c.str(a.media_type);
      c.str(a.filename);
      c.str(a.detail);
      // A digest, not the bytes: the key text stays small for a large PDF.
      {
        const Sha256 digest = sha256(a.data);
        c.str(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
      }
      c.str(a.url);
    }
    c.tag('>');
  }
  c.tag(']');
  c.optional_integer(request.max_tokens);
  c.optional_number(request.temperature);
  c.optional_number(request.top_p);
  c.tag('[');
  for (const auto& s : request.stop) c.str(s);
  c.tag(']');
  c.tag('[');
  for (const auto& tool : request.tools) {
    c.str(tool.name);
    c.str(tool.description);
    c.value(tool.input_schema);
  }
  c.tag(']');
  c.value(request.tool_choice);
  c.object(request.passthrough);

  return CacheKey{sha256(c.text())};
}

}  // namespace aegis::gateway
