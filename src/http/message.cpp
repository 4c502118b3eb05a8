#include "http/message.hpp"

#include <boost/url/parse_query.hpp>

#include <algorithm>

namespace aegis::http {

namespace {
char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::optional<std::string_view> find_header(const std::vector<Header>& headers, std::string_view name) noexcept {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const noexcept {
  return find_header(headers, name);
}

std::optional<std::string_view> HttpRequest::path_param(std::string_view name) const noexcept {
  for (const auto& [key, value] : path_params) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
  auto params = boost::urls::parse_query(query);
  if (!params) return std::nullopt;
  for (auto param : *params) {
    if (param.key == name) return std::string(param.has_value ? param.value : "");
  }
  return std::nullopt;
}

HttpResponse& HttpResponse::set_header(std::string name, std::string value) {
  for (auto& h : headers) {
    if (iequals(h.name, name)) {
      h.value = std::move(value);
      return *this;
    }
  }
  headers.push_back({std::move(name), std::move(value)});
  return *this;
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const noexcept {
  return find_header(headers, name);
}

}  // namespace aegis::http
