#pragma once
// Tamper evidence for the audit trail (docs/ARCHITECTURE.md, "The audit
// chain"). Every row carries the hash of its predecessor in its chain; the
// heads of the chains are sealed in signed checkpoints. Value types and the
// canonical encoding; the writer side is audit/chain_writer.hpp, the checker
// audit/chain_verifier.hpp.
#include <cstdint>
#include <string>
#include <string_view>

#include "audit/record.hpp"

namespace aegis::audit {

// The predecessor of a chain's first row.
inline constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

// Where a row sits in its chain. A chain is "<writer>/<YYYY-MM>": each writer
// (the audit writer or the job store of one process) keeps one chain per UTC
// month of its rows' time_ms, so replicas never serialise on one another and
// dropping a month's partition drops whole chains, never part of one.
struct ChainLink {
  std::string chain_id;
  std::int64_t seq = 0;   // 1, 2, 3, ... within the chain, in commit order
  std::string prev_hash;  // row_hash of seq - 1 (kGenesisHash for seq 1), lowercase hex
  std::string row_hash;   // hex SHA-256 over prev_hash and canonical_row(record, chain_id, seq)
};

// A row as stored, with its place in its chain.
struct StoredAuditRow {
  AuditRecord record;
  ChainLink link;
};

// A chain's head sealed with the gateway's Ed25519 key. The signature covers
// checkpoint_message(); it is what a database administrator cannot forge, so
// rows rewritten below a checkpoint, or a tail cut off under one, show.
struct Checkpoint {
  std::int64_t id = 0;  // assigned by the store
  std::string chain_id;
  std::int64_t seq = 0;  // the sealed head's seq (rows 1..seq)
  std::string head_hash;
  std::int64_t sealed_at_ms = 0;
  std::string key_id;     // key_fingerprint() of the signing key
  std::string signature;  // base64 of the 64-byte Ed25519 signature
};

// The bytes hashed for a row: a fixed-order encoding of every audit column
// (AuditRecord's fields, not the intent bookkeeping) plus its chain and seq,
// so an edited value, a moved row or a row copied into another chain changes
// its hash. Never includes content: the row holds none. The prompt-cache
// counts (added after the first chained rows) are appended only when one of
// them is not 0, so rows written before they existed still verify.
std::string canonical_row(const AuditRecord& record, std::string_view chain_id, std::int64_t seq);

// Lowercase hex SHA-256 of prev_hash, a newline, and the canonical row.
std::string link_hash(std::string_view prev_hash, const std::string& canonical);

// What a checkpoint's signature covers.
std::string checkpoint_message(const Checkpoint& checkpoint);

// "YYYY-MM" (UTC) of an epoch-millisecond time: the month part of a chain id.
std::string chain_month(std::int64_t time_ms);

}  // namespace aegis::audit
