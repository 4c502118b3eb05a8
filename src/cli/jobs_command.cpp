#include "cli/jobs_command.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/gateway_client.hpp"
#include "core/json.hpp"
#include "core/money.hpp"
#include "core/system_clock.hpp"
#include "jobs/job.hpp"

namespace aegis::cli {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr int kExitOk = kClientExitOk;
constexpr int kExitFailed = kClientExitFailed;
constexpr int kExitUsage = kClientExitUsage;
constexpr int kExitTimeout = 124;  // as timeout(1)

// The longest ?wait= the API accepts (docs/JOBS.md).
constexpr double kMaxServerWaitSeconds = 60;

// "60", "12.5", "0.25": ?wait= takes decimals, and people read these in logs.
std::string format_seconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", std::max(0.0, seconds));
  std::string s(buf);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// Without a key of the caller's, a retried submit could create a second job
// when only the response was lost; with one, the gateway hands back the first.
// The random part of a job id (128 bits from OpenSSL) is the key's.
std::string random_idempotency_key() { return "aegis-cli-" + jobs::new_job_id(0).substr(16); }

bool is_final(std::string_view status) {
  return status == "succeeded" || status == "failed" || status == "cancelled" || status == "expired";
}

std::string route_text(const json::object& job) {
  const auto* route = object_field(job, "route");
  if (!route) return "-";
  return or_dash(string_field(*route, "tier")) + "/" + or_dash(string_field(*route, "provider")) + "/" +
         or_dash(string_field(*route, "model"));
}

// A job re-serialised by this command keeps its cost as the gateway wrote it
// (0.000054, not the 5.4e-05 a double would print).
json::object exact_cost(json::object job) {
  auto* result = job.if_contains("result");
  auto* cost = result && result->is_object() ? result->get_object().if_contains("cost_usd") : nullptr;
  if (cost && cost->is_number()) {
    if (const auto money = Money::from_usd_double(cost->to_number<double>())) *cost = usd_json(*money);
  }
  return job;
}

// Always six decimals, so a column of costs lines up on the point.
std::string cost_text(const json::object& job) {
  const auto* result = object_field(job, "result");
  if (!result) return "-";
  const auto* cost = result->if_contains("cost_usd");
  if (!cost || !cost->is_number()) return "-";
  const auto money = Money::from_usd_double(cost->to_number<double>());
  if (!money) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "$%lld.%06lld", static_cast<long long>(money->micros / Money::kMicrosPerDollar),
                static_cast<long long>(money->micros % Money::kMicrosPerDollar));
  return buf;
}

void print_job(const json::object& job) {
  std::cout << or_dash(string_field(job, "id")) << " " << or_dash(string_field(job, "status")) << "  "
            << route_text(job) << "  " << cost_text(job) << "\n";
  if (const auto* result = object_field(job, "result")) {
    const auto text = string_field(*result, "text");
    std::cout << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
  }
  if (const auto* error = object_field(job, "error")) {
    std::cout << "error: " << or_dash(string_field(*error, "type")) << ": " << string_field(*error, "message") << "\n";
  }
}

void print_table(const std::vector<json::object>& jobs) {
  if (jobs.empty()) {
    std::cout << "no jobs\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ID", "STATUS", "TASK", "ROUTE", "COST", "CREATED"});
  for (const auto& job : jobs) {
    rows.push_back({or_dash(string_field(job, "id")), or_dash(string_field(job, "status")),
                    or_dash(string_field(job, "task_type")), route_text(job), cost_text(job),
                    or_dash(string_field(job, "created_at"))});
  }
  print_columns(rows);
}

// One invocation's conversation with the gateway. Everything runs as
// coroutines on a private io_context; the command is a single logical thread.
class Session {
 public:
  Session(GatewayClient& client, bool json) : client_(client), json_(json) {}

  asio::awaitable<int> submit(std::string body, std::string idempotency_key, bool wait, double timeout) {
    std::vector<http::Header> extra;
    extra.push_back(http::Header{"idempotency-key", std::move(idempotency_key)});
    auto op = call("POST", "/v1/jobs", std::move(body), std::move(extra), 0ms);
    AEGIS_CO_TRY(reply, co_await std::move(op), transport_failure);
    if (reply.status != 202 && reply.status != 200) co_return api_failure(reply);
    const auto* job = reply.doc.if_object();
    const auto id = job ? string_field(*job, "id") : std::string_view();
    if (id.empty()) co_return malformed(reply);
    if (wait) {
      const std::string job_id(id);
      auto waited = wait_job(job_id, timeout);
      co_return co_await std::move(waited);
    }
    if (json_) {
      print_body(reply);
    } else {
      std::cout << id << "\n";
    }
    co_return kExitOk;
  }

  asio::awaitable<int> get(std::string id) { co_return co_await one_job("GET", std::move(id)); }
  asio::awaitable<int> cancel(std::string id) { co_return co_await one_job("DELETE", std::move(id)); }

  // GET or DELETE /v1/jobs/{id}, then the job as the answer shows it.
  asio::awaitable<int> one_job(std::string method, std::string id) {
    auto op = call(method, "/v1/jobs/" + percent_encode(id), "", {}, 0ms);
    AEGIS_CO_TRY(reply, co_await std::move(op), transport_failure);
    if (reply.status != 200) co_return api_failure(reply);
    if (!reply.doc.is_object()) co_return malformed(reply);
    show(reply);
    co_return kExitOk;
  }

  // Long-polls with ?wait= until the job is final or the deadline passes.
  asio::awaitable<int> wait_job(std::string id, double timeout_seconds) {
    const auto& clock = SystemClock::instance();
    const auto deadline = clock.steady_now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                   std::chrono::duration<double>(timeout_seconds));
    const std::string target = "/v1/jobs/" + percent_encode(id) + "?wait=";
    for (;;) {
      const double remaining = std::chrono::duration<double>(deadline - clock.steady_now()).count();
      const double server_wait = std::clamp(remaining, 0.0, kMaxServerWaitSeconds);
      const auto asked_at = clock.steady_now();
      const auto hold =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(server_wait));
      auto op = call("GET", target + format_seconds(server_wait), "", {}, hold);
      AEGIS_CO_TRY(reply, co_await std::move(op), transport_failure);
      if (reply.status != 200) co_return api_failure(reply);
      const auto* job = reply.doc.if_object();
      if (!job) co_return malformed(reply);
      const auto status = string_field(*job, "status");
      if (is_final(status)) {
        show(reply);
        co_return status == "succeeded" ? kExitOk : kExitFailed;
      }
      const auto now = clock.steady_now();
      if (now >= deadline) {
        show(reply);
        std::cerr << client_.command() << ": timed out after " << format_seconds(timeout_seconds) << " s; job " << id
                  << " is still " << or_dash(status) << "\n";
        co_return kExitTimeout;
      }
      // A gateway that answers a long poll at once would otherwise be polled
      // in a tight loop.
      if (server_wait >= 1 && now - asked_at < 100ms) {
        const auto pause = std::min<std::chrono::steady_clock::duration>(250ms, deadline - now);
        asio::steady_timer timer(client_.executor(), pause);
        co_await timer.async_wait(asio::use_awaitable);
      }
    }
  }

  asio::awaitable<int> list(std::string status, std::int64_t limit, std::string cursor, bool all) {
    std::vector<json::object> jobs;
    std::optional<Reply> only_page;
    bool more = false;
    std::string next = std::move(cursor);
    for (int page = 0;; ++page) {
      std::string query;
      const auto add = [&query](std::string_view name, std::string_view value) {
        query += query.empty() ? '?' : '&';
        query += std::string(name) + "=" + percent_encode(value);
      };
      if (!status.empty()) add("status", status);
      if (limit > 0) add("limit", std::to_string(limit));
      if (!next.empty()) add("cursor", next);
      auto op = call("GET", "/v1/jobs" + query, "", {}, 0ms);
      AEGIS_CO_TRY(reply, co_await std::move(op), transport_failure);
      if (reply.status != 200) co_return api_failure(reply);
      const auto* body = reply.doc.if_object();
      const auto* data = body ? body->if_contains("data") : nullptr;
      if (!data || !data->is_array()) co_return malformed(reply);
      for (const auto& item : data->get_array()) {
        if (item.is_object()) jobs.push_back(item.get_object());
      }
      const auto* has_more = body->if_contains("has_more");
      more = has_more && has_more->is_bool() && has_more->get_bool();
      next = std::string(string_field(*body, "next_cursor"));
      if (!all || !more || next.empty()) {
        if (page == 0) only_page = std::move(reply);
        break;
      }
    }
    if (json_) {
      if (only_page) {
        print_body(*only_page);
      } else {
        // Several pages make one document of the same shape, as if the server
        // had answered with everything at once.
        json::array data;
        for (auto& job : jobs) data.push_back(exact_cost(std::move(job)));
        json::object merged{
            {"object", "list"}, {"data", std::move(data)}, {"has_more", false}, {"next_cursor", nullptr}};
        std::cout << to_json(merged) << "\n";
      }
      co_return kExitOk;
    }
    print_table(jobs);
    if (more && !next.empty()) {
      std::cerr << "more jobs: aegis jobs list --cursor " << next << (status.empty() ? "" : " --status " + status)
                << " (or --all)\n";
    }
    co_return kExitOk;
  }

 private:
  asio::awaitable<Result<Reply>> call(std::string method, std::string target, std::string body,
                                      std::vector<http::Header> extra, std::chrono::milliseconds server_hold) {
    return client_.call(std::move(method), std::move(target), std::move(body), std::move(extra), server_hold);
  }

  void show(const Reply& reply) const {
    if (json_) {
      print_body(reply);
    } else {
      print_job(reply.doc.get_object());
    }
  }

  int transport_failure(const Error& error) const { return client_.transport_failure(error); }
  int api_failure(const Reply& reply) const { return client_.api_failure(reply); }
  int malformed(const Reply& reply) const { return client_.malformed(reply, "the job JSON docs/JOBS.md describes"); }

  GatewayClient& client_;
  bool json_;
};

}  // namespace

JobsCommand::JobsCommand(CLI::App& app) {
  jobs_ = app.add_subcommand("jobs", "Submit and follow async jobs on a running gateway (/v1/jobs)");
  jobs_->require_subcommand(1);
  jobs_->footer(
      "The team's virtual key comes from $AEGIS_API_KEY (never a flag, so it stays out of ps and history).\n"
      "Exit codes: 0 ok; 1 the job did not succeed, or the gateway answered with an error (its type and\n"
      "message on stderr) or could not be reached; 2 bad usage or configuration; 124 wait timed out.\n"
      "Connection failures and 429/503 with retry-after are retried a few times with backoff.");

  submit_ = jobs_->add_subcommand("submit", "Submit a job; prints its id (or, with --wait, the finished job)");
  get_ = jobs_->add_subcommand("get", "Print a job's current state");
  wait_ = jobs_->add_subcommand("wait", "Wait for a job to finish; exit 0 only if it succeeded");
  cancel_ = jobs_->add_subcommand("cancel", "Cancel a queued or running job");
  list_ = jobs_->add_subcommand("list", "List the team's jobs, oldest first");

  for (auto* sub : {submit_, get_, wait_, cancel_, list_}) add_client_options(*sub, common_.url, common_.json);

  submit_->add_option("--task", task_, "task type, e.g. summarize (picks the tier like x-aegis-task)")->required();
  auto* prompt = submit_->add_option("--prompt", prompt_, "the prompt text (one user message)");
  auto* prompt_file = submit_->add_option("--prompt-file", prompt_file_, "read the prompt from a file ('-': stdin)");
  auto* messages_file = submit_->add_option("--messages-file", messages_file_,
                                            "a JSON array of {\"role\", \"content\"} messages ('-': stdin)");
  prompt->excludes(prompt_file)->excludes(messages_file);
  prompt_file->excludes(messages_file);
  submit_->add_option("--max-tokens", max_tokens_, "most output tokens; prices the budget reservation")
      ->required()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}));
  submit_->add_option("--model", model_, "auto, a tier (haiku|sonnet|opus), a model id or provider/model");
  submit_->add_option("--classification", classification_,
                      "floor for the job's level: PUBLIC | INTERNAL | CONFIDENTIAL | RESTRICTED");
  submit_->add_option("--metadata", metadata_, "KEY=VALUE, repeatable; returned with the job as given");
  submit_->add_option("--idempotency-key", idempotency_key_,
                      "the same key from the same team returns the first job instead of a new one "
                      "(default: a random one, so retries never submit twice)");
  auto* wait_flag = submit_->add_flag("--wait", submit_wait_, "Wait for the job to finish, as `aegis jobs wait`");
  submit_->add_option("--timeout", timeout_seconds_, "with --wait: seconds to wait (default 300)")
      ->needs(wait_flag)
      ->check(CLI::NonNegativeNumber);

  for (auto* sub : {get_, wait_, cancel_}) sub->add_option("ID", id_, "the job id (job_...)")->required();
  wait_->add_option("--timeout", timeout_seconds_, "seconds to wait before giving up with exit 124")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  list_->add_option("--status", status_, "queued | running | succeeded | failed | cancelled | expired");
  list_->add_option("--limit", limit_, "jobs per page, 1..1000 (default: the gateway's, 50)");
  list_->add_option("--cursor", cursor_, "start after this cursor (a previous page's next_cursor)");
  list_->add_flag("--all", all_, "Follow next_cursor to the last page");
}

bool JobsCommand::parsed() const { return jobs_->parsed(); }

int JobsCommand::run() {
  const std::string command = submit_->parsed()   ? "submit"
                              : get_->parsed()    ? "get"
                              : wait_->parsed()   ? "wait"
                              : cancel_->parsed() ? "cancel"
                                                  : "list";
  const auto usage = [&command](const std::string& message) {
    std::cerr << "aegis jobs " << command << ": " << message << "\n";
    return kExitUsage;
  };

  auto target = resolve_gateway(common_.url);
  if (!target.ok()) return usage(target.error().message);

  std::string submit_body;
  if (submit_->parsed()) {
    json::object body{{"task_type", task_}, {"max_tokens", max_tokens_}};
    if (submit_->get_option("--prompt")->count() > 0) {
      body["prompt"] = prompt_;
    } else if (!prompt_file_.empty()) {
      auto text = read_file(prompt_file_);
      if (!text) return usage("cannot read --prompt-file '" + prompt_file_ + "'");
      body["prompt"] = *text;
    } else if (!messages_file_.empty()) {
      auto text = read_file(messages_file_);
      if (!text) return usage("cannot read --messages-file '" + messages_file_ + "'");
      boost::system::error_code ec;
      auto messages = json::parse(*text, ec);
      if (ec || !messages.is_array()) {
        return usage("--messages-file '" + messages_file_ +
                     "' must hold a JSON array of {\"role\", \"content\"} messages");
      }
      body["messages"] = std::move(messages);
    } else {
      return usage("one of --prompt, --prompt-file or --messages-file is required");
    }
    if (!model_.empty()) body["model"] = model_;
    if (!classification_.empty()) body["classification"] = classification_;
    if (!metadata_.empty()) {
      auto metadata = metadata_flags(metadata_);
      if (!metadata.ok()) return usage(metadata.error().message);
      body["metadata"] = std::move(*metadata);
    }
    submit_body = to_json(body);
  }
  if ((get_->parsed() || wait_->parsed() || cancel_->parsed()) && id_.empty()) return usage("the job ID is empty");

  return run_client("aegis jobs " + command, *target, [&](GatewayClient& client) -> asio::awaitable<int> {
    Session session(client, common_.json);
    // The operation is built in a statement of its own: GCC 12 destroys a
    // temporary argument twice when it is made inside a co_await expression.
    std::string key = idempotency_key_.empty() ? random_idempotency_key() : idempotency_key_;
    asio::awaitable<int> work =
        submit_->parsed()   ? session.submit(std::move(submit_body), std::move(key), submit_wait_, timeout_seconds_)
        : get_->parsed()    ? session.get(id_)
        : wait_->parsed()   ? session.wait_job(id_, timeout_seconds_)
        : cancel_->parsed() ? session.cancel(id_)
                            : session.list(status_, limit_, cursor_, all_);
    co_return co_await std::move(work);
  });
}

}  // namespace aegis::cli
