#include "api/jobs.hpp"

#include <boost/json/parse.hpp>

#include <charconv>
#include <cmath>

#include "api/access.hpp"
#include "api/rate_headers.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/json_response.hpp"
#include "jobs/job_result.hpp"

namespace aegis::api {

namespace json = boost::json;
using Awaitable = boost::asio::awaitable<http::HttpResponse>;

namespace {

constexpr double kMaxWaitSeconds = 60.0;

json::value time_or_null(std::int64_t ms) { return ms > 0 ? json::value(format_rfc3339_ms(ms)) : json::value(nullptr); }

// The client's metadata as given (stored beside the request, which is
// deleted when the job finishes); null when none.
json::value metadata_of(const jobs::Job& job) {
  if (job.metadata_json.empty()) return nullptr;
  boost::system::error_code ec;
  auto stored = json::parse(job.metadata_json, ec);
  if (ec || !stored.is_object()) return nullptr;
  return stored;
}

// A job whose stored content cannot be decrypted (a wrong or missing key; the
// server log names the key id) is listed with this error and no content.
Error unreadable_job(const jobs::Job& job) { return make_error(ErrorCode::internal, *job.content_error); }

json::object job_json(const jobs::Job& job) {
  json::object out;
  out["id"] = job.id;
  out["object"] = "job";
  out["status"] = jobs::to_string(job.status);
  out["classification"] = to_string(job.classification);
  out["task_type"] = job.task_type;
  out["metadata"] = metadata_of(job);
  if (job.route.provider.empty() && job.route.tier.empty()) {
    out["route"] = nullptr;
  } else {
    out["route"] = json::object{{"tier", job.route.tier.empty() ? json::value(nullptr) : json::value(job.route.tier)},
                                {"provider", job.route.provider},
                                {"model", job.route.model},
                                {"reason", job.route.reason}};
  }
  out["result"] = nullptr;
  out["error"] = nullptr;
  if (job.content_error) {
    out["metadata"] = nullptr;
    const Error e = unreadable_job(job);
    out["error"] = json::object{{"type", error_type(e.code)}, {"message", e.message}};
  } else if (job.status == jobs::JobStatus::succeeded) {
    out["result"] = jobs::result_json(job);
  } else {
    out["result"] = nullptr;
  }
  if (!job.content_error && !job.error.type.empty()) {
    out["error"] = json::object{{"type", job.error.type}, {"message", job.error.message}};
  }
  if (job.task_type == "rag_ingest") {
    // While it runs, in the process running it: where the ingest stands.
    out["progress"] = nullptr;
    if (job.progress) {
      out["progress"] = json::object{{"chunks_total", job.progress->chunks_total},
                                     {"embeddings_total", job.progress->embeddings_total},
                                     {"embeddings_done", job.progress->embeddings_done}};
    }
  }
  out["attempts"] = job.attempts;
  out["created_at"] = time_or_null(job.created_at_ms);
  out["started_at"] = time_or_null(job.started_at_ms);
  out["finished_at"] = time_or_null(job.finished_at_ms);
  return out;
}

http::HttpResponse fail(const Error& error, const http::HttpRequest& request) {
  return http::error_response(error, request.request_id);
}

Result<std::optional<std::string>> idempotency_key(const http::HttpRequest& request) {
  auto header = request.header("idempotency-key");
  if (!header) return std::optional<std::string>();
  const std::string_view key = *header;
  const bool printable = std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
  if (key.empty() || key.size() > 255 || !printable) {
    return make_error(ErrorCode::invalid_request, "Idempotency-Key must be 1..255 printable ASCII characters");
  }
  return std::optional<std::string>(std::string(key));
}

Result<std::chrono::milliseconds> wait_of(const std::map<std::string, std::string>& params) {
  auto it = params.find("wait");
  if (it == params.end()) return std::chrono::milliseconds(0);
  const std::string& text = it->second;
  // Plain decimals only ("1e1" and "0x10" are refused like anything else outside the contract).
  const bool decimal = std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  double seconds = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || !decimal || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > kMaxWaitSeconds) {
    return make_error(ErrorCode::invalid_request, "wait must be a number of seconds between 0 and 60");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

Result<jobs::ListQuery> list_query(const http::HttpRequest& request) {
  AEGIS_TRY(params, http::query_params(request, {"status", "limit", "cursor"}));
  jobs::ListQuery query;
  if (auto it = params.find("status"); it != params.end()) {
    auto status = jobs::parse_job_status(it->second);
    if (!status) {
      return make_error(ErrorCode::invalid_request,
                        "status must be one of queued, running, succeeded, failed, cancelled, expired");
    }
    query.status = *status;
  }
  if (auto it = params.find("limit"); it != params.end()) {
    int limit = 0;
    const auto& text = it->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 1000) {
      return make_error(ErrorCode::invalid_request, "limit must be an integer between 1 and 1000");
    }
    query.limit = limit;
  }
  if (auto it = params.find("cursor"); it != params.end()) query.cursor = it->second;
  return query;
}

}  // namespace

void register_job_routes(http::Router& router, jobs::JobService& service, const RequestLimits& limits) {
  router.add("POST", "/v1/jobs", http::Credential::api_key,
             [&service, limits](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               const identity::Principal* principal = principal_of(caller);
               if (!principal) co_return fail(make_error(ErrorCode::unauthorized, "missing API key"), request);
               AEGIS_CO_TRY(body, http::parse_json_object(request), fail, request);
               AEGIS_CO_TRY(key, idempotency_key(request), fail, request);
               AEGIS_CO_TRY(parsed, jobs::parse_job_request(body, limits), fail, request);
               AEGIS_CO_TRY(submitted,
                            co_await service.submit(*principal, std::move(parsed), std::move(key), request.request_id),
                            fail, request);
               const auto& job = submitted.job;
               json::object out{{"id", job.id},
                                {"object", "job"},
                                {"status", jobs::to_string(job.status)},
                                {"classification", to_string(job.classification)},
                                {"created_at", format_rfc3339_ms(job.created_at_ms)}};
               auto response = http::json_response(202, out);
               response.set_header("location", "/v1/jobs/" + job.id);
               if (submitted.replayed) response.set_header("idempotent-replayed", "true");
               add_rate_limit_headers(response, submitted.rate);
               co_return response;
             });

  router.add(
      "GET", "/v1/jobs", http::Credential::api_key,
      [&service](http::HttpRequest& request, const http::Caller& caller) -> boost::asio::awaitable<http::HttpResponse> {
        const identity::Principal* principal = principal_of(caller);
        if (!principal) co_return fail(make_error(ErrorCode::unauthorized, "missing API key"), request);
        AEGIS_CO_TRY(query, list_query(request), fail, request);
        AEGIS_CO_TRY(page, co_await service.list(principal->team, std::move(query)), fail, request);
        json::array data;
        for (const auto& job : page.jobs) data.push_back(job_json(job));
        json::object out{{"object", "list"},
                         {"data", std::move(data)},
                         {"has_more", page.next_cursor.has_value()},
                         {"next_cursor", page.next_cursor ? json::value(*page.next_cursor) : json::value(nullptr)}};
        co_return http::json_response(200, out);
      });

  router.add(
      "GET", "/v1/jobs/{id}", http::Credential::api_key,
      [&service](http::HttpRequest& request, const http::Caller& caller) -> boost::asio::awaitable<http::HttpResponse> {
        const identity::Principal* principal = principal_of(caller);
        if (!principal) co_return fail(make_error(ErrorCode::unauthorized, "missing API key"), request);
        AEGIS_CO_TRY(params, http::query_params(request, {"wait"}), fail, request);
        AEGIS_CO_TRY(wait, wait_of(params), fail, request);
        AEGIS_CO_TRY(job, co_await service.get(principal->team, std::string(*request.path_param("id")), wait), fail,
                     request);
        if (job.content_error) co_return fail(unreadable_job(job), request);
        co_return http::json_response(200, job_json(job));
      });

  router.add(
      "DELETE", "/v1/jobs/{id}", http::Credential::api_key,
      [&service](http::HttpRequest& request, const http::Caller& caller) -> boost::asio::awaitable<http::HttpResponse> {
        const identity::Principal* principal = principal_of(caller);
        if (!principal) co_return fail(make_error(ErrorCode::unauthorized, "missing API key"), request);
        AEGIS_CO_TRY(job, co_await service.cancel(principal->team, std::string(*request.path_param("id"))), fail,
                     request);
        co_return http::json_response(200, job_json(job));
      });
}

}  // namespace aegis::api
