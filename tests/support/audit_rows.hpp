#pragma once
// Audit rows the store suites write: a minimal one and one with every field set.
#include <string>
#include <utility>

#include "audit/record.hpp"

namespace aegis::test_support {

inline audit::AuditRecord row(std::string request_id, std::string team, std::int64_t time_ms) {
  audit::AuditRecord r;
  r.time_ms = time_ms;
  r.request_id = std::move(request_id);
  r.team = std::move(team);
  r.key_id = "4f9c0a1b2c3d4e5f";
  r.surface = "openai.chat";
  r.level = Level::INTERNAL;
  r.locality = "local";
  r.status = 200;
  return r;
}

inline audit::AuditRecord full_row() {
  audit::AuditRecord r;
  r.time_ms = 1'795'000'000'123;
  r.request_id = "req_0123456789abcdef";
  r.team = "payments";
  r.key_id = "4f9c0a1b2c3d4e5f";
  r.surface = "anthropic.messages";
  r.task = "code_review";
  r.level = Level::CONFIDENTIAL;
  r.entities = {{"EMAIL", 2}, {"PERSON", 1}};
  r.placeholders = 3;
  r.tier = "sonnet";
  r.provider = "azure";
  r.model = "gpt-4o";
  r.locality = "cloud";
  r.reason = "task code_review -> sonnet; CONFIDENTIAL masked";
  r.fallback_path = {"anthropic:unavailable", "azure:ok"};
  r.status = 200;
  r.error_type = "";
  r.input_tokens = 1234;
  r.output_tokens = 567;
  r.cache_read_tokens = 2048;
  r.cache_write_tokens = 512;
  r.cost = Money::from_micros(12'345);
  r.budget_period = "2026-11";
  r.latency_us = 812'345;
  r.overhead_us = 345;
  r.invented_pii = true;
  r.egress_blocked = false;
  r.cache_hit = true;
  return r;
}

}  // namespace aegis::test_support
