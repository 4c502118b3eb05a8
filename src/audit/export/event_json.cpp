#include "audit/export/event_json.hpp"

#include <boost/json.hpp>

#include "core/classification.hpp"

namespace aegis::audit::siem {

namespace json = boost::json;

ExportEvent row_event(const StoredAuditRow& row) {
  const AuditRecord& r = row.record;
  json::object entities;
  for (const auto& [type, count] : r.entities) entities[type] = count;
  json::array path;
  for (const auto& step : r.fallback_path) path.emplace_back(step);
  json::object out;
  out["type"] = "audit_row";
  out["chain_id"] = row.link.chain_id;
  out["seq"] = row.link.seq;
  out["prev_hash"] = row.link.prev_hash;
  out["row_hash"] = row.link.row_hash;
  out["time_ms"] = r.time_ms;
  out["request_id"] = r.request_id;
  out["team"] = r.team;
  out["key_id"] = r.key_id;
  out["surface"] = r.surface;
  out["task"] = r.task;
  out["level"] = to_string(r.level);
  out["entities"] = std::move(entities);
  out["placeholders"] = r.placeholders;
  out["tier"] = r.tier;
  out["provider"] = r.provider;
  out["model"] = r.model;
  out["locality"] = r.locality;
  out["reason"] = r.reason;
  out["fallback_path"] = std::move(path);
  out["status"] = r.status;
  out["error_type"] = r.error_type;
  out["input_tokens"] = r.input_tokens;
  out["output_tokens"] = r.output_tokens;
  out["cache_read_tokens"] = r.cache_read_tokens;
  out["cache_write_tokens"] = r.cache_write_tokens;
  out["cost_micros"] = r.cost.micros;
  out["budget_period"] = r.budget_period;
  out["latency_us"] = r.latency_us;
  out["overhead_us"] = r.overhead_us;
  out["invented_pii"] = r.invented_pii;
  out["egress_blocked"] = r.egress_blocked;
  out["egress_veto"] = r.egress_veto;
  out["egress_rule"] = r.egress_rule;
  out["cache_hit"] = r.cache_hit;
  return ExportEvent{ExportEvent::Kind::row, row.link.chain_id, row.link.seq, r.time_ms, json::serialize(out)};
}

ExportEvent checkpoint_event(const Checkpoint& checkpoint) {
  json::object out;
  out["type"] = "checkpoint";
  out["id"] = checkpoint.id;
  out["chain_id"] = checkpoint.chain_id;
  out["seq"] = checkpoint.seq;
  out["head_hash"] = checkpoint.head_hash;
  out["sealed_at_ms"] = checkpoint.sealed_at_ms;
  out["key_id"] = checkpoint.key_id;
  out["signature"] = checkpoint.signature;
  return ExportEvent{ExportEvent::Kind::checkpoint, checkpoint.chain_id, checkpoint.seq, checkpoint.sealed_at_ms,
                     json::serialize(out)};
}

}  // namespace aegis::audit::siem
