#pragma once
// The configuration snapshot: parsed and validated once at start-up
// (config/loader.hpp), immutable afterwards and shared as
// std::shared_ptr<const Config>. Only value types live here.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/classification.hpp"
#include "core/money.hpp"
#include "core/request_limits.hpp"
#include "core/secret_key.hpp"
#include "core/tier.hpp"

namespace aegis::config {

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 0;  // 0: one per core
  std::size_t max_body_bytes = std::size_t{4} * 1024 * 1024;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  std::chrono::milliseconds read_timeout{30'000};  // whole request (headers + body) must arrive within this
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive connection with no request
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds drain_timeout{10'000};  // SIGTERM: in-flight requests get this long
  // /metrics is labelled by team: a scrape may have to present this bearer
  // token, and/or the metrics may be served on a listener of their own.
  std::string metrics_token;
  std::optional<ListenAddress> metrics_listen;
};

// The embedded SQLite database, or a shared PostgreSQL (docs/CONFIG.md, `storage`).
struct StorageConfig {
  std::string sqlite_path = "./data/aegis.db";
  // libpq connection string (key=value or postgresql:// URI). Set: teams,
  // keys, the audit trail and spend live in PostgreSQL. Never logged.
  std::string postgres_dsn;
  // PostgreSQL: whole months of audit rows kept before the current one; older
  // monthly partitions are dropped (0: every month is kept).
  int audit_retention_months = 0;
};

enum class Locality { local, cloud };

struct ModelPrice {
  // USD per million tokens, held as micro-dollars per million tokens.
  Money input_per_mtok;
  Money output_per_mtok;
  // Prompt-cache rates (docs/CONFIG.md, `providers[].prices`). Unset: the
  // loader fills them from the provider's type (with_cache_defaults); a
  // price built in code without them prices cache tokens as plain input.
  std::optional<Money> cache_read_per_mtok;      // Anthropic cache reads; OpenAI/Azure cached input
  std::optional<Money> cache_write_per_mtok;     // Anthropic cache writes, 5-minute TTL
  std::optional<Money> cache_write_1h_per_mtok;  // Anthropic cache writes, 1-hour TTL
};

// `price` with each unset cache rate set to the provider type's default, as
// the providers bill: `anthropic` reads at 0.1x input, 5-minute writes at
// 1.25x, 1-hour writes at 2x; every other type (OpenAI, Azure OpenAI and
// compatible servers) cached input at 0.5x and writes (which they never
// report) at 1x. Each rate is rounded up to the micro-dollar.
ModelPrice with_cache_defaults(ModelPrice price, std::string_view provider_type);

struct ProviderConfig {
  std::string name;
  std::string type;  // anthropic | azure_openai | openai_compat | ollama | sim
  std::string base_url;
  std::string api_key;      // resolved from ${ENV}; never logged
  std::string api_version;  // azure_openai only
  Locality locality = Locality::cloud;
  // Where the provider keeps and processes data ("CA", "US", "EU", ...), as the
  // operator's contract with it says; shown in the compliance report. Empty:
  // not declared (the report says "unspecified").
  std::string residency;
  std::map<Tier, std::string> models;        // tier -> model id / deployment
  std::map<std::string, ModelPrice> prices;  // model id -> price
  std::string embedding_model;               // model id / deployment for /v1/embeddings; empty: none
  // What the provider's models accept besides text (`capabilities`): routing
  // sends a request holding an image or a PDF only where it is declared.
  bool vision = false;     // images
  bool documents = false;  // PDF documents, as the provider's own document parts
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds first_byte_timeout{60'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds total_timeout{300'000};
  unsigned max_concurrency = 64;
};

enum class ConfidentialPolicy { cloud_masked, local_only };

struct RoutingConfig {
  std::map<std::string, Tier> task_tiers;   // task type -> tier
  std::vector<std::string> fallback_chain;  // provider names, in order
  ConfidentialPolicy confidential = ConfidentialPolicy::cloud_masked;
  Money downgrade_opus_below = Money::from_dollars(1);
  std::optional<Money> downgrade_sonnet_below;  // off unless set
  // team -> the model names it may request explicitly (tier aliases, concrete
  // ids, "provider/id"); a team not listed may request any configured model.
  // "auto" is always allowed.
  std::map<std::string, std::vector<std::string>> team_models;
};

struct ResilienceConfig {
  int failure_threshold = 3;                       // consecutive counted failures that open a breaker
  std::chrono::seconds open_duration{60};          // how long it stays open before one half-open probe
  std::chrono::seconds health_check_interval{15};  // background health checks per provider; 0 = off
};

struct EgressConfig {
  // Networks that count as local in addition to loopback, RFC 1918 and
  // RFC 4193 (fc00::/7), e.g. "100.64.0.0/10" for a carrier-grade NAT VPN.
  std::vector<std::string> local_cidrs;
};

struct CustomRecognizer {
  std::string name;
  std::string pattern;  // validated with RE2 at load
  std::string entity_type;
  Level level = Level::CONFIDENTIAL;
  std::string validator;  // "" | luhn | mod97
  std::vector<std::string> context_words;
};

struct ClassificationConfig {
  std::vector<std::string> internal_domains;
  std::vector<CustomRecognizer> custom_recognizers;
};

enum class InventedPiiPolicy { alert, redact };

struct PiiConfig {
  InventedPiiPolicy invented_pii = InventedPiiPolicy::alert;
  std::vector<std::string> block_entities;                              // everyone
  std::map<std::string, std::vector<std::string>> team_block_entities;  // team -> entity types
};

struct BudgetConfig {
  std::string timezone = "UTC";  // IANA name; budget months follow it
  std::chrono::seconds reservation_ttl{900};
};

// A key for job content at rest (jobs.encryption.keys[]), resolved at load.
struct JobsContentKey {
  std::string id;      // stored with every value it seals
  std::string source;  // "env NAME" or "file PATH", for messages; never the key itself
  Key256 bytes{};      // never logged
};

// No keys: the gateway generates one beside the database (jobs/content_keys.hpp).
struct JobsEncryptionConfig {
  std::string active;                // the key id new values are sealed with
  std::vector<JobsContentKey> keys;  // the active one and older ones still read
};

// The async job API (POST /v1/jobs): a durable queue in the store, run by
// workers inside the gateway through the same pipeline as synchronous calls.
struct JobsConfig {
  std::int64_t max_queue_depth = 10'000;                      // queued jobs; submits beyond get 429
  std::chrono::seconds queue_ttl{86'400};                     // a job still queued after this is expired
  std::chrono::seconds retention{7 * 86'400};                 // finished jobs (and their content) are purged after this
  std::chrono::seconds lease{30};                             // a running job's lease; renewed every lease/3
  int max_attempts = 3;                                       // claims before a job whose worker keeps dying fails
  int workers = 64;                                           // jobs running at once in this process
  int provider_concurrency = 16;                              // default jobs at once per provider
  std::map<std::string, int> provider_concurrency_overrides;  // provider name -> jobs at once
  bool sync_every_commit = true;                              // a 202 survives power loss, not only kill -9
  // Request and vault are deleted (NULL) in the transaction that finishes a
  // job; true keeps them until retention like the result. Per team: overrides.
  bool keep_requests = false;
  std::map<std::string, bool> keep_requests_teams;  // team -> keep
  JobsEncryptionConfig encryption;
};

// `limits:` bounds on the shape of one request (core/request_limits.hpp).
using LimitsConfig = RequestLimits;

// Rate limits themselves are per team and per key, in the store (admin API);
// this section holds what is process-wide.
struct RateLimitsConfig {
  // Failed authentications (401) one source address may make a minute before
  // its requests are refused with 429 (a token bucket of this size refilling
  // at this rate); 0 turns the throttle off.
  std::int64_t auth_failures_per_minute = 30;
};

struct LoggingConfig {
  std::string level = "info";  // trace|debug|info|warn|error|off
  bool access_log = true;
};

// Retrieval (POST /v1/rag/...): how documents are cut into chunks and how
// many chunks a query may ask for.
struct RagConfig {
  std::int64_t chunk_tokens = 256;         // per chunk (estimated at 4 bytes a token)
  std::int64_t chunk_overlap_tokens = 32;  // repeated from the end of the previous chunk
  std::int64_t max_top_k = 50;             // a query asking for more gets 400
  std::int64_t max_document_bytes = 1'048'576;
  // "provider/model" of a cloud embedder for PUBLIC and INTERNAL chunks (and
  // queries); empty: every chunk and query is embedded by a local provider.
  std::string cloud_embedding_model;
  // The embedded store's in-memory index: a level's chunks of one collection
  // and model are searched exactly up to hnsw_threshold vectors, through an
  // HNSW graph beyond (hnswlib: M, ef_construction, ef_search).
  std::int64_t hnsw_threshold = 20'000;
  std::int64_t hnsw_m = 16;
  std::int64_t hnsw_ef_construction = 128;
  std::int64_t hnsw_ef_search = 96;
  // The PostgreSQL database (with pgvector) that holds retrieval; empty:
  // storage.postgres_dsn; with neither, the embedded SQLite store.
  std::string postgres_dsn;
  std::int64_t postgres_connections = 4;
};

// Where audit rows and checkpoints are streamed for a SIEM (audit.export,
// docs/ARCHITECTURE.md "SIEM export"). type "": nowhere.
struct AuditExportConfig {
  std::string type;  // "" | "jsonl" | "syslog" | "http"

  // jsonl: one JSON object a line, rotated to path.1, path.2, ... past rotate_bytes.
  std::string path;
  std::int64_t rotate_bytes = std::int64_t{100} * 1024 * 1024;  // 0: never rotate
  int keep_files = 5;                                           // rotated files kept beside path

  // syslog: RFC 5424 over TCP with octet-counting framing (RFC 6587), or TLS.
  std::string host;
  int port = 0;  // required for syslog
  bool tls = false;
  std::string ca_file;  // empty: the system's trust store
  std::string app_name = "aegis";
  int facility = 13;  // RFC 5424 "log audit"

  // http: Splunk HEC-compatible JSON events.
  std::string url;
  std::string token_env;  // environment variable holding the HEC token; never logged

  std::chrono::milliseconds timeout{10'000};  // connect, send and (http) answer, per batch
  std::int64_t batch_rows = 500;
  std::chrono::seconds max_backoff{60};
  std::chrono::milliseconds poll_interval{1'000};  // how often new rows are looked for when caught up
  std::string cursor_file;                         // empty: <storage.sqlite_path>.export-cursor
};

// `audit:` the tamper-evident trail (docs/ARCHITECTURE.md, "The audit chain").
struct AuditConfig {
  // The Ed25519 private key (PEM) that signs checkpoints: a file, or an
  // environment variable holding the PEM. Neither: the gateway generates one
  // beside the SQLite database (audit/signing_key.hpp). Never logged.
  std::string signing_key_file;
  std::string signing_key_env;
  std::chrono::seconds checkpoint_interval{60};
  // How often the gateway verifies every chain itself, recording tampering
  // in the breach register; 0: never (aegis audit verify still does).
  std::chrono::seconds verify_interval{3600};
  // Also appends every checkpoint, one JSON object a line, to this file
  // (outside the database's reach); empty: none.
  std::string checkpoint_file;
  AuditExportConfig export_to;
};

// `responses:` POST /v1/responses (docs/ARCHITECTURE.md, "The Responses API").
// A team's conversations are kept for previous_response_id only where `store`
// says so; what is kept is the raw text of the turns, in the gateway's own
// store, until `retention` (and a DELETE /v1/responses/{id} erases it sooner).
struct ResponsesConfig {
  bool store = false;
  std::map<std::string, bool> store_teams;  // team -> store
  std::chrono::seconds retention{86'400};

  bool stores_for(const std::string& team) const {
    auto it = store_teams.find(team);
    return it == store_teams.end() ? store : it->second;
  }
};

// The exact response cache (docs/ARCHITECTURE.md, "The response cache"): in
// this process's memory only, bounded by entries and bytes (LRU eviction).
struct ResponseCacheConfig {
  std::int64_t max_entries = 10'000;
  std::int64_t max_bytes = std::int64_t{64} * 1024 * 1024;
  // team -> TTL: the cache is on for these teams, unless the admin API set
  // the team's own setting (PATCH /admin/v1/teams/{name}), which wins.
  std::map<std::string, std::chrono::seconds> teams;
};

// `media:` images and PDF documents in requests (core/chat.hpp, Attachment):
// how they are fetched and bounded, and the OCR that turns them into text
// before classification.
struct MediaConfig {
  // Off: a request holding an http(s) image URL is refused (400) rather than
  // making the gateway fetch from wherever a client points it.
  bool fetch_urls = false;
  std::int64_t fetch_max_bytes = std::int64_t{10} * 1024 * 1024;
  bool fetch_local = false;  // whether a fetched URL may lead into the local network (SSRF guard)
  std::int64_t max_attachment_bytes = std::int64_t{20} * 1024 * 1024;  // per image or PDF, decoded
  // Per image or rendered PDF page: a small file can decode to gigabytes.
  std::int64_t max_pixels = 40'000'000;
  std::int64_t max_pdf_pages = 20;
  std::chrono::milliseconds ocr_timeout{10'000};  // per request; past it the request counts as over budget
  int ocr_threads = 0;                            // 0: half the cores, at least 1
  std::int64_t ocr_queue = 64;                    // requests waiting beyond this count as over budget
  std::string languages = "eng+fra";              // Tesseract language string
  std::int64_t cache_entries = 1024;              // extraction results kept, by content hash
};

// `oidc:` enterprise identity (docs/CONFIG.md, "oidc"): access tokens that
// are JWTs from these issuers authenticate /v1 (as a team) and /admin (with
// an admin value in the team claim), besides virtual keys and the admin key.
struct OidcIssuerConfig {
  std::string issuer;         // exact `iss`
  std::string audience;       // `aud` must contain it
  std::string discovery_url;  // empty: issuer + "/.well-known/openid-configuration"
  std::string team_claim = "groups";
  // Claim value -> team name; empty: a claim value that names an existing team is that team.
  std::map<std::string, std::string> teams;
  std::vector<std::string> admin_values;  // claim values that grant the admin role
  std::chrono::seconds clock_skew{60};
  std::chrono::seconds jwks_min_refresh_interval{30};  // unknown-kid refetches, at most one per this
  std::chrono::seconds jwks_cache{3600};
  std::string console_client_id = "aegis-console";
  std::string console_client_secret;  // resolved from ${ENV}; never logged

  // discovery_url, or the issuer's well-known document.
  std::string discovery() const {
    if (!discovery_url.empty()) return discovery_url;
    return issuer + "/.well-known/openid-configuration";
  }
};

struct OidcConfig {
  std::vector<OidcIssuerConfig> issuers;  // empty: no tokens are accepted
};

// The longest TTL a team's cached answers may have (config and admin API alike).
inline constexpr std::int64_t kMaxResponseCacheTtlS = std::int64_t{7} * 86'400;  // a week

// The admin console at /ui (docs/CONFIG.md, `console`).
struct ConsoleConfig {
  bool enabled = true;
  std::chrono::seconds session_ttl{8 * 3600};
  // HMAC key of session cookies, >= 32 bytes; the same on every replica so a
  // session survives a load balancer's choice. Empty: random per process.
  std::string session_secret;
  // Where people reach the console ("https://aegis.example.com"), for the
  // sign-in redirect; empty: the request's own Host.
  std::string public_url;
};

struct Config {
  ServerConfig server;
  StorageConfig storage;
  std::vector<ProviderConfig> providers;
  RoutingConfig routing;
  ResilienceConfig resilience;
  EgressConfig egress;
  ClassificationConfig classification;
  PiiConfig pii;
  BudgetConfig budgets;
  JobsConfig jobs;
  RagConfig rag;
  ResponsesConfig responses;
  LimitsConfig limits;
  MediaConfig media;
  RateLimitsConfig rate_limits;
  LoggingConfig logging;
  AuditConfig audit;
  ResponseCacheConfig response_cache;
  ConsoleConfig console;
  OidcConfig oidc;
  std::string source;  // file path it was loaded from, or "<built-in>"
};

}  // namespace aegis::config
