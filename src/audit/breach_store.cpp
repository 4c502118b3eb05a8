#include "audit/breach_store.hpp"

#include "core/time_format.hpp"

namespace aegis::audit {

bool is_breach_status(std::string_view status) noexcept {
  return status == "open" || is_settable_breach_status(status);
}

bool is_settable_breach_status(std::string_view status) noexcept {
  return status == "assessed" || status == "reported" || status == "closed";
}

AuditRecord breach_update_row(const Breach& breach, const BreachUpdate& update, std::string request_id) {
  AuditRecord row;
  row.time_ms = update.time_ms;
  row.request_id = std::move(request_id);
  row.team = breach.team;
  row.surface = "admin.breaches";
  row.task = "breach_update";
  row.reason = "breach=" + std::to_string(breach.id) + " status=" + update.status + " by=" + update.actor;
  row.status = 200;
  return row;
}

boost::json::object breach_json(const Breach& b) {
  boost::json::object entities;
  for (const auto& [type, count] : b.entities) entities[type] = count;
  return boost::json::object{{"id", b.id},
                             {"detected_at", format_rfc3339_ms(b.detected_at_ms)},
                             {"kind", b.kind},
                             {"team", b.team},
                             {"key_id", b.key_id},
                             {"provider", b.provider},
                             {"entities", std::move(entities)},
                             {"request_id", b.request_id},
                             {"detail", b.detail},
                             {"status", b.status},
                             {"note", b.note},
                             {"updated_at", format_rfc3339_ms(b.updated_at_ms)},
                             {"updated_by", b.updated_by}};
}

boost::json::object breach_update_json(const BreachUpdate& u) {
  return boost::json::object{
      {"time", format_rfc3339_ms(u.time_ms)}, {"status", u.status}, {"note", u.note}, {"actor", u.actor}};
}

std::optional<Breach> breach_for_row(const AuditRecord& row) {
  const bool left_the_network = row.level == Level::RESTRICTED && !row.locality.empty() && row.locality != "local";
  if (!left_the_network && !row.egress_blocked) return std::nullopt;
  Breach b;
  b.detected_at_ms = row.time_ms;
  b.kind = std::string(left_the_network ? kBreachPipedaViolation : kBreachEgressBlock);
  b.ref = row.request_id;
  b.team = row.team;
  b.key_id = row.key_id;
  b.provider = row.provider;
  b.entities = row.entities;
  b.request_id = row.request_id;
  b.detail = left_the_network ? "RESTRICTED data was sent to " + row.locality + " provider '" + row.provider + "'"
                              : "a send to provider '" + row.provider + "' was blocked at egress (" +
                                    (row.egress_rule.empty() ? std::string("classifier") : row.egress_rule) + ")";
  b.updated_at_ms = row.time_ms;
  return b;
}

}  // namespace aegis::audit
