#include "api/admin_console.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <optional>

#include "api/admin_params.hpp"
#include "audit/chain_verifier.hpp"
#include "audit/checkpoint_file.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/json_response.hpp"
#include "jobs/job.hpp"
#include "report/compliance_report.hpp"
#include "report/overview.hpp"
#include "telemetry/log.hpp"

namespace aegis::api {

namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;

namespace {

constexpr int kRecentFailures = 20;
constexpr std::int64_t kDefaultWindowS = 3600;
constexpr std::int64_t kDefaultStepS = 60;
constexpr std::int64_t kDefaultDocumentLimit = 50;
constexpr std::int64_t kMaxDocumentLimit = 500;

HttpResponse fail(const Error& error, const HttpRequest& request) {
  return http::error_response(error, request.request_id);
}

std::string_view breaker_name(CircuitState state) {
  switch (state) {
    case CircuitState::closed: return "closed";
    case CircuitState::open: return "open";
    case CircuitState::half_open: return "half_open";
  }
  return "closed";
}

json::object levels_json(const std::map<Level, std::int64_t>& counts) {
  json::object out;
  for (const Level level : report::kLevels) {
    auto it = counts.find(level);
    out[to_string(level)] = it == counts.end() ? 0 : it->second;
  }
  return out;
}

Error no_retrieval() { return rag::retrieval_unavailable(); }

// A page of a team's documents, newest first (created_at, then id): the
// cursor is the last document's "created_at_ms:id".
struct DocumentCursor {
  std::int64_t created_at_ms = 0;
  std::string id;
};

Result<std::optional<DocumentCursor>> parse_cursor(const std::map<std::string, std::string>& params) {
  auto it = params.find("cursor");
  if (it == params.end() || it->second.empty()) return std::optional<DocumentCursor>();
  const std::string& text = it->second;
  const auto colon = text.find(':');
  DocumentCursor cursor;
  if (colon != std::string::npos) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + colon, cursor.created_at_ms);
    cursor.id = text.substr(colon + 1);
    if (ec == std::errc() && end == text.data() + colon && !cursor.id.empty()) return std::optional(cursor);
  }
  return make_error(ErrorCode::invalid_request, "cursor must be a next_cursor value of an earlier page");
}

bool newer(const rag::DocumentRecord& a, const rag::DocumentRecord& b) {
  return a.created_at_ms != b.created_at_ms ? a.created_at_ms > b.created_at_ms : a.id < b.id;
}

json::object document_row(const rag::DocumentRecord& doc) {
  return json::object{{"id", doc.id},
                      {"collection", doc.collection},
                      {"level", to_string(doc.level)},
                      {"created_at", format_rfc3339_ms(doc.created_at_ms)},
                      {"chunks", static_cast<std::int64_t>(doc.chunks.size())}};
}

}  // namespace

void register_admin_console_routes(http::Router& router, const ConsoleContext& context) {
  auto ctx = std::make_shared<const ConsoleContext>(context);

  // The window's figures come from the audit trail (every replica sees the
  // same), read on the report's executor: a week of rows is a long scan.
  router.add("GET", "/admin/v1/overview", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(params, http::query_params(request, {"window_s", "step_s"}), fail, request);
               AEGIS_CO_TRY(window_s,
                            whole_param(params, "window_s", report::kOverviewMinWindowS, report::kOverviewMaxWindowS),
                            fail, request);
               AEGIS_CO_TRY(step_s, whole_param(params, "step_s", report::kOverviewMinStepS, report::kOverviewMaxStepS),
                            fail, request);
               AEGIS_CO_TRY(window,
                            report::overview_window(ctx->clock.wall_ms(), window_s.value_or(kDefaultWindowS),
                                                    step_s.value_or(kDefaultStepS)),
                            fail, request);
               auto collect = [&]() -> Result<report::Overview> {
                 flush_audit_queue(ctx->audit_writer);
                 report::OverviewBuilder builder(window);
                 audit::AuditScan scan;
                 scan.since_ms = window.since_ms;
                 scan.until_ms = window.until_ms;
                 AEGIS_TRY_VOID(ctx->store.scan_audit(scan, [&builder](const audit::StoredAuditRow& row) {
                   builder.add(row.record);
                   return true;
                 }));
                 AEGIS_TRY(totals, ctx->store.compliance_totals());
                 return builder.finish(totals);
               };
               AEGIS_CO_TRY(overview, co_await ctx->scan_db.run(collect), fail, request);
               co_return http::json_response(200, report::overview_json(overview));
             });

  // This replica's live state: what the config declares, the breaker and
  // health check, and what the gateway's attempts at each did since start.
  router.add(
      "GET", "/admin/v1/providers", http::Credential::admin_key,
      [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
        AEGIS_CO_TRY_VOID(http::query_params(request, {}), fail, request);
        json::array data;
        for (const auto& p : ctx->config.providers) {
          json::array models;
          for (const auto& [tier, model] : p.models) {
            if (std::find(models.begin(), models.end(), json::value(model)) == models.end()) {
              models.emplace_back(model);
            }
          }
          if (!p.embedding_model.empty()) models.emplace_back(p.embedding_model);
          json::array capabilities;
          if (p.vision) capabilities.emplace_back("vision");
          if (p.documents) capabilities.emplace_back("documents");
          CircuitBreaker* breaker = ctx->health.breaker(p.name);
          const CircuitState state = breaker != nullptr ? breaker->state() : CircuitState::closed;
          const auto stats = ctx->health.stats(p.name);
          data.push_back(json::object{{"name", p.name},
                                      {"type", p.type},
                                      {"locality", p.locality == config::Locality::local ? "local" : "cloud"},
                                      {"residency", p.residency},
                                      {"models", std::move(models)},
                                      {"capabilities", std::move(capabilities)},
                                      {"healthy", ctx->health.up(p.name) && state != CircuitState::open},
                                      {"breaker", breaker_name(state)},
                                      {"requests", stats.requests},
                                      {"errors", stats.errors},
                                      {"fallbacks", stats.fallbacks},
                                      {"latency_ms", json::object{{"p50", stats.p50_ms}, {"p99", stats.p99_ms}}}});
        }
        co_return http::json_response(200, {{"data", std::move(data)}});
      });

  router.add("GET", "/admin/v1/jobs/summary", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY_VOID(http::query_params(request, {}), fail, request);
               if (ctx->job_store == nullptr) {
                 co_return fail(make_error(ErrorCode::unavailable, "async jobs are not enabled"), request);
               }
               auto load = [&]() -> Result<std::pair<jobs::JobCounts, jobs::QueueSummary>> {
                 AEGIS_TRY(counts, ctx->job_store->counts());
                 AEGIS_TRY(summary, ctx->job_store->summary(kRecentFailures));
                 return std::pair{counts, std::move(summary)};
               };
               AEGIS_CO_TRY(found, co_await ctx->db.run(load), fail, request);
               json::object by_state;
               for (std::size_t i = 0; i < jobs::kJobStatusCount; ++i) {
                 by_state[jobs::to_string(static_cast<jobs::JobStatus>(i))] = found.first[i];
               }
               std::int64_t oldest_age_s = 0;
               if (found.second.oldest_queued_created_ms) {
                 oldest_age_s =
                     std::max<std::int64_t>(0, (ctx->clock.wall_ms() - *found.second.oldest_queued_created_ms) / 1000);
               }
               json::array failures;
               for (const auto& job : found.second.recent_failures) {
                 failures.push_back(json::object{{"id", job.id},
                                                 {"team", job.team},
                                                 {"task_type", job.task_type},
                                                 {"error", job.error_type},
                                                 {"finished_at", format_rfc3339_ms(job.finished_at_ms)}});
               }
               co_return http::json_response(200, {{"by_state", std::move(by_state)},
                                                   {"oldest_queued_age_s", oldest_age_s},
                                                   {"recent_failures", std::move(failures)}});
             });

  router.add("GET", "/admin/v1/rag/collections", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY_VOID(http::query_params(request, {}), fail, request);
               if (ctx->rag_store == nullptr) co_return fail(no_retrieval(), request);
               AEGIS_CO_TRY(collections, co_await ctx->db.run([&] { return ctx->rag_store->list_collections(); }), fail,
                            request);
               json::array data;
               for (const auto& c : collections) {
                 std::int64_t documents = 0;
                 for (const auto& [level, n] : c.documents_by_level) documents += n;
                 data.push_back(json::object{{"team", c.team},
                                             {"collection", c.collection},
                                             {"documents", documents},
                                             {"by_level", levels_json(c.documents_by_level)}});
               }
               co_return http::json_response(200, {{"data", std::move(data)}});
             });

  // Metadata only: the caller's source label and metadata object may name
  // people, so neither is shown, nor any chunk's text.
  router.add(
      "GET", "/admin/v1/rag/documents", http::Credential::admin_key,
      [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
        AEGIS_CO_TRY(params, http::query_params(request, {"team", "collection", "limit", "cursor"}), fail, request);
        auto team = params.find("team");
        if (team == params.end() || team->second.empty()) {
          co_return fail(make_error(ErrorCode::invalid_request, "team is required"), request);
        }
        std::optional<std::string> collection;
        if (auto it = params.find("collection"); it != params.end() && !it->second.empty()) collection = it->second;
        AEGIS_CO_TRY(limit_param, whole_param(params, "limit", 1, kMaxDocumentLimit), fail, request);
        const std::int64_t limit = limit_param.value_or(kDefaultDocumentLimit);
        AEGIS_CO_TRY(cursor, parse_cursor(params), fail, request);
        if (ctx->rag_store == nullptr) co_return fail(no_retrieval(), request);
        auto load = [&]() -> Result<std::vector<rag::DocumentRecord>> {
          std::vector<std::string> names;
          if (collection) {
            names.push_back(*collection);
          } else {
            AEGIS_TRY(all, ctx->rag_store->list_collections());
            for (const auto& c : all) {
              if (c.team == team->second) names.push_back(c.collection);
            }
          }
          std::vector<rag::DocumentRecord> docs;
          for (const auto& name : names) {
            AEGIS_TRY(some, ctx->rag_store->list_documents(team->second, name));
            for (auto& doc : some) docs.push_back(std::move(doc));
          }
          return docs;
        };
        AEGIS_CO_TRY(docs, co_await ctx->db.run(load), fail, request);
        std::sort(docs.begin(), docs.end(), newer);
        auto first = docs.begin();
        if (cursor) {
          rag::DocumentRecord after;
          after.created_at_ms = cursor->created_at_ms;
          after.id = cursor->id;
          first = std::upper_bound(docs.begin(), docs.end(), after, newer);
        }
        json::array data;
        json::value next = nullptr;
        for (auto it = first; it != docs.end(); ++it) {
          if (static_cast<std::int64_t>(data.size()) == limit) {
            const auto& last = *std::prev(it);
            next = std::to_string(last.created_at_ms) + ":" + last.id;
            break;
          }
          data.push_back(document_row(*it));
        }
        co_return http::json_response(200, {{"data", std::move(data)}, {"next_cursor", std::move(next)}});
      });

  // The team-key DELETE /v1/rag/documents/{id}'s erasure (RagService::erase:
  // the same store call and rag.erase audit row), as the document's team,
  // with key id "admin".
  router.add("DELETE", "/admin/v1/rag/documents/{id}", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               if (ctx->rag_store == nullptr || ctx->rag == nullptr) co_return fail(no_retrieval(), request);
               std::string id(*request.path_param("id"));
               AEGIS_CO_TRY(team, co_await ctx->db.run([&] { return ctx->rag_store->document_team(id); }), fail,
                            request);
               if (!team) {
                 co_return fail(make_error(ErrorCode::not_found, "document '" + id + "' not found"), request);
               }
               identity::Principal admin;
               admin.team = *team;
               admin.key_id = "admin";
               // A named caller, not a braced temporary in the co_await: GCC 12 destroys
               // such a temporary's members twice (a double free of the request id).
               const rag::RagCaller erase_caller{&admin, request.request_id};
               AEGIS_CO_TRY(doc, co_await ctx->rag->erase(erase_caller, id), fail, request);
               co_return http::json_response(200, {{"document_id", doc.id},
                                                   {"team", *team},
                                                   {"deleted", true},
                                                   {"chunks_deleted", static_cast<std::int64_t>(doc.chunks.size())}});
             });

  // `aegis audit verify` on the report's executor: every chain (or those
  // meeting [since, until)) walked whole, with this gateway's signing key.
  router.add("GET", "/admin/v1/audit/verify", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(params, http::query_params(request, {"since", "until"}), fail, request);
               audit::VerifyOptions options;
               AEGIS_CO_TRY(since, time_param(params, "since"), fail, request);
               AEGIS_CO_TRY(until, time_param(params, "until"), fail, request);
               options.since_ms = since;
               options.until_ms = until;
               options.public_keys = ctx->public_keys;
               options.retained_from_ms =
                   audit::retained_from_ms(ctx->config.storage.audit_retention_months, ctx->clock.wall_ms());
               auto verify = [&]() -> Result<audit::VerifyReport> {
                 flush_audit_queue(ctx->audit_writer);
                 AEGIS_TRY(outside, audit::read_configured_checkpoint_file(ctx->config.audit.checkpoint_file));
                 options.outside_checkpoints = std::move(outside);
                 return audit::verify_audit_chains(ctx->store, options);
               };
               AEGIS_CO_TRY(report, co_await ctx->scan_db.run(verify), fail, request);
               json::array problems;
               for (const auto& f : report.findings) {
                 json::object item{{"chain", f.chain_id},
                                   {"kind", std::string(audit::to_string(f.kind))},
                                   {"seq", f.seq},
                                   {"message", f.message}};
                 if (f.checkpoint_id != 0) item["checkpoint_id"] = f.checkpoint_id;
                 problems.push_back(std::move(item));
               }
               co_return http::json_response(200,
                                             {{"ok", report.intact()},
                                              {"sealed", report.exit_code() == 0},
                                              {"chains", report.chains},
                                              {"rows", report.rows},
                                              {"checkpoints", static_cast<std::int64_t>(report.checkpoint_ids.size())},
                                              {"retired_chains", report.retired_chains},
                                              {"problems", std::move(problems)}});
             });
}

}  // namespace aegis::api
