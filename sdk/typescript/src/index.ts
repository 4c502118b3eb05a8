// Client for the Aegis gateway's async job API (docs/JOBS.md): submit a
// request, get a job id at once, collect the result later; and, as
// client.rag, retrieval over the team's documents (/v1/rag). No runtime
// dependencies: global fetch (Node >= 18, browsers, Deno, Bun).

export const VERSION = "0.1.0";

// The server caps ?wait= at 60 s; a longer wait is a series of long polls.
export const MAX_LONG_POLL_MS = 60_000;
// Backoff on transient errors doubles from pollIntervalMs up to this.
export const MAX_BACKOFF_MS = 5_000;
export const DEFAULT_MAX_TOKENS = 1024;

// ------------------------------------------------------------------ values

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "expired";
export type Classification = "PUBLIC" | "INTERNAL" | "CONFIDENTIAL" | "RESTRICTED";

export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set<JobStatus>(["succeeded", "failed", "cancelled", "expired"]);
// Failure types that mean "policy said no", not "something broke": the same
// request will fail the same way again.
export const BLOCKED_ERROR_TYPES: ReadonlySet<string> = new Set(["pii_blocked", "egress_blocked", "no_local_provider"]);

export interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface Route {
  tier: string | null;
  provider: string | null;
  model: string | null;
  reason: string | null;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface JobResult {
  text: string;
  usage: Usage;
  /** Dollars, micro-dollar precision. */
  costUsd: number;
}

export interface JobError {
  type: string;
  message: string;
}

/**
 * A job as the gateway last reported it. The answer to submit() carries only
 * id, status, classification and createdAt; the rest is null / 0 / {} until
 * get() or wait().
 */
export interface Job {
  id: string;
  status: JobStatus;
  classification: Classification | null;
  route: Route | null;
  result: JobResult | null;
  error: JobError | null;
  attempts: number;
  createdAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  taskType: string | null;
  metadata: Record<string, string>;
  /** The JSON object as received. */
  raw: Record<string, unknown>;
}

/** One page of GET /v1/jobs, oldest job first. */
export interface JobPage {
  data: Job[];
  hasMore: boolean;
  nextCursor: string | null;
  raw: Record<string, unknown>;
}

export function isFinal(job: Pick<Job, "status">): boolean {
  return FINAL_STATUSES.has(job.status);
}

type JsonObject = Record<string, unknown>;

function asObject(value: unknown): JsonObject | null {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : null;
}

function asString(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function asNumber(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** An RFC 3339 timestamp as a Date; null stays null. */
export function parseTime(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new TypeError(`expected an RFC 3339 string, got ${JSON.stringify(value)}`);
  let text = value.trim();
  // The gateway always sends UTC; a bare time is read as UTC rather than local.
  if (!/(?:[zZ]|[+-]\d{2}:?\d{2})$/.test(text) && /T\d/.test(text)) text += "Z";
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new TypeError(`not an RFC 3339 time: ${JSON.stringify(value)}`);
  return date;
}

export function parseJob(data: unknown): Job {
  const obj = asObject(data);
  if (!obj || typeof obj.id !== "string" || typeof obj.status !== "string") {
    throw new TypeError(`not a job object: ${JSON.stringify(data)}`.slice(0, 300));
  }
  const route = asObject(obj.route);
  const result = asObject(obj.result);
  const usage = result ? asObject(result.usage) : null;
  const error = asObject(obj.error);
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObject(obj.metadata) ?? {})) {
    if (typeof v === "string") metadata[k] = v;
  }
  return {
    id: obj.id,
    status: obj.status as JobStatus,
    classification: asString(obj.classification) as Classification | null,
    route: route
      ? {
          tier: asString(route.tier),
          provider: asString(route.provider),
          model: asString(route.model),
          reason: asString(route.reason),
        }
      : null,
    result: result
      ? {
          text: asString(result.text) ?? "",
          usage: { inputTokens: asNumber(usage?.input_tokens), outputTokens: asNumber(usage?.output_tokens) },
          costUsd: asNumber(result.cost_usd),
        }
      : null,
    error: error ? { type: asString(error.type) ?? "", message: asString(error.message) ?? "" } : null,
    attempts: asNumber(obj.attempts),
    createdAt: parseTime(obj.created_at),
    startedAt: parseTime(obj.started_at),
    finishedAt: parseTime(obj.finished_at),
    taskType: asString(obj.task_type),
    metadata,
    raw: obj,
  };
}

export function parseJobPage(data: unknown): JobPage {
  const obj = asObject(data);
  if (!obj || !Array.isArray(obj.data)) throw new TypeError(`not a job list: ${JSON.stringify(data)}`.slice(0, 300));
  return {
    data: obj.data.map(parseJob),
    hasMore: obj.has_more === true,
    nextCursor: asString(obj.next_cursor),
    raw: obj,
  };
}

// ------------------------------------------------------------------ retrieval values (/v1/rag)

/** One stored chunk of a document: its position and the level the gateway gave it. */
export interface DocumentChunk {
  index: number;
  classification: Classification;
}

/**
 * A stored document (never its text). The 201 answer to an ingest carries
 * only documentId and chunks; classification then comes from the
 * x-aegis-classification header, and collection, source and createdAt are
 * null until get() or list(). classification is its most restrictive chunk's.
 */
export interface Document {
  documentId: string;
  chunks: DocumentChunk[];
  classification: Classification | null;
  collection: string | null;
  source: string | null;
  createdAt: Date | null;
  metadata: Record<string, unknown>;
  raw: Record<string, unknown>;
}

/** A chunk a query found; score is the cosine similarity to the query (higher is closer). */
export interface RetrievedChunk {
  id: string;
  documentId: string;
  index: number;
  text: string;
  score: number;
  source: string;
  classification: Classification;
}

/** The best chunks the caller may see, best first; classification is the level of the query text itself. */
export interface QueryResult {
  chunks: RetrievedChunk[];
  classification: Classification | null;
  raw: Record<string, unknown>;
}

/**
 * A model's answer from retrieved chunks. chunkIds: the chunks put in its
 * context; classification: the level of the whole prompt (a RESTRICTED chunk
 * keeps the call on a local model); route and costUsd come from the
 * x-aegis-route and x-aegis-cost-usd headers (null if absent).
 */
export interface Answer {
  answer: string;
  chunkIds: string[];
  model: string | null;
  provider: string | null;
  usage: Usage;
  classification: Classification | null;
  route: Route | null;
  costUsd: number | null;
  raw: Record<string, unknown>;
}

/** The answer to a delete: the document and every chunk and vector of it are gone. */
export interface Deletion {
  documentId: string;
  deleted: boolean;
  chunksDeleted: number;
  raw: Record<string, unknown>;
}

function parseDocumentChunk(data: unknown): DocumentChunk {
  const obj = asObject(data) ?? {};
  return { index: asNumber(obj.index), classification: (asString(obj.classification) ?? "") as Classification };
}

/** A document object; classification (e.g. from the ingest's header) fills in when the body has none. */
export function parseDocument(data: unknown, classification: string | null = null): Document {
  const obj = asObject(data);
  if (!obj || typeof obj.document_id !== "string") {
    throw new TypeError(`not a document object: ${JSON.stringify(data)}`.slice(0, 300));
  }
  const createdMs = obj.created_at_ms;
  return {
    documentId: obj.document_id,
    chunks: Array.isArray(obj.chunks) ? obj.chunks.map(parseDocumentChunk) : [],
    classification: (asString(obj.classification) ?? classification) as Classification | null,
    collection: asString(obj.collection),
    source: asString(obj.source),
    createdAt: typeof createdMs === "number" && Number.isFinite(createdMs) ? new Date(createdMs) : null,
    metadata: { ...(asObject(obj.metadata) ?? {}) },
    raw: obj,
  };
}

function parseRetrievedChunk(data: unknown): RetrievedChunk {
  const obj = asObject(data);
  if (!obj || typeof obj.id !== "string") throw new TypeError(`not a chunk object: ${JSON.stringify(data)}`.slice(0, 300));
  return {
    id: obj.id,
    documentId: asString(obj.document_id) ?? "",
    index: asNumber(obj.index),
    text: asString(obj.text) ?? "",
    score: asNumber(obj.score),
    source: asString(obj.source) ?? "",
    classification: (asString(obj.classification) ?? "") as Classification,
  };
}

export function parseQueryResult(data: unknown, classification: string | null = null): QueryResult {
  const obj = asObject(data);
  if (!obj || !Array.isArray(obj.chunks)) throw new TypeError(`not a query result: ${JSON.stringify(data)}`.slice(0, 300));
  return { chunks: obj.chunks.map(parseRetrievedChunk), classification: classification as Classification | null, raw: obj };
}

// HTTP header values arrive as Latin-1 code units; the gateway writes UTF-8 (e.g. "→" in a route reason).
function fromLatin1(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value) || /[^\u0000-\u00ff]/.test(value)) return value;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(value, (c) => c.charCodeAt(0)));
  } catch {
    return value;
  }
}

/**
 * x-aegis-route ("tier=T; provider=P; model=M; reason=R") as a Route; null
 * if absent. The reason is the rest of the value, "; " included.
 */
export function parseRouteHeader(value: string | null | undefined): Route | null {
  if (!value) return null;
  const text = fromLatin1(value);
  let head = text;
  let reason: string | null = null;
  const at = text.indexOf("; reason=");
  if (at >= 0) {
    head = text.slice(0, at);
    reason = text.slice(at + "; reason=".length);
  } else if (text.startsWith("reason=")) {
    head = "";
    reason = text.slice("reason=".length);
  }
  const fields: Record<string, string> = {};
  for (const part of head.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1);
  }
  return { tier: fields.tier ?? null, provider: fields.provider ?? null, model: fields.model ?? null, reason };
}

/** An answer object; the governance headers (x-aegis-classification, -route, -cost-usd) fill in the rest. */
export function parseAnswer(data: unknown, headers: Headers | null = null): Answer {
  const obj = asObject(data);
  if (!obj || typeof obj.answer !== "string") throw new TypeError(`not an answer object: ${JSON.stringify(data)}`.slice(0, 300));
  const usage = asObject(obj.usage);
  const cost = headers?.get("x-aegis-cost-usd");
  const costUsd = cost !== null && cost !== undefined && cost.trim() !== "" ? Number(cost) : NaN;
  return {
    answer: obj.answer,
    chunkIds: Array.isArray(obj.chunk_ids) ? obj.chunk_ids.map(String) : [],
    model: asString(obj.model),
    provider: asString(obj.provider),
    usage: { inputTokens: asNumber(usage?.input_tokens), outputTokens: asNumber(usage?.output_tokens) },
    classification: (headers?.get("x-aegis-classification") ?? null) as Classification | null,
    route: parseRouteHeader(headers?.get("x-aegis-route")),
    costUsd: Number.isFinite(costUsd) ? costUsd : null,
    raw: obj,
  };
}

export function parseDeletion(data: unknown): Deletion {
  const obj = asObject(data);
  if (!obj || typeof obj.document_id !== "string") {
    throw new TypeError(`not a deletion answer: ${JSON.stringify(data)}`.slice(0, 300));
  }
  return { documentId: obj.document_id, deleted: obj.deleted === true, chunksDeleted: asNumber(obj.chunks_deleted), raw: obj };
}

// ------------------------------------------------------------------ errors

/**
 * An error answer from the gateway, or a job that did not end well.
 * status: the HTTP status (null when there was no HTTP error, e.g. a failed
 * job or a client-side timeout); type: the gateway's error type (e.g.
 * "budget_exceeded"); requestId: the gateway's request id, to quote when
 * asking the operator to look at the audit log.
 */
export class AegisError extends Error {
  readonly status: number | null;
  readonly type: string | null;
  readonly requestId: string | null;

  constructor(status: number | null, type: string | null, message: string, requestId: string | null = null) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.type = type;
    this.requestId = requestId;
  }

  override toString(): string {
    const head = [this.status === null ? "" : String(this.status), this.type ?? ""].filter(Boolean).join(" ");
    let text = head ? `${this.name}: ${head}: ${this.message}` : `${this.name}: ${this.message}`;
    if (this.requestId) text += ` (request_id ${this.requestId})`;
    return text;
  }
}

/** 400, 413 (body or document too large), and a 422 that is not a policy block: a malformed request. */
export class InvalidRequest extends AegisError {}

/** 401/403: missing, wrong or revoked key. */
export class AuthError extends AegisError {}

/** 402: the team's budget cannot cover the job's worst-case cost. */
export class BudgetExceeded extends AegisError {}

/** 404: no such job for this team (another team's job looks the same). */
export class NotFound extends AegisError {}

/** 409: e.g. cancelling a job that has already finished. */
export class Conflict extends AegisError {}

/** 429: the queue is full; retryAfter is the server's hint in seconds (or null). */
export class RateLimited extends AegisError {
  readonly retryAfter: number | null;
  constructor(status: number, type: string, message: string, requestId: string | null, retryAfter: number | null) {
    super(status, type, message, requestId);
    this.retryAfter = retryAfter;
  }
}

/** 503: the gateway cannot serve now (draining, a dependency down); retryAfter as for RateLimited. */
export class Unavailable extends AegisError {
  readonly retryAfter: number | null;
  constructor(status: number, type: string, message: string, requestId: string | null, retryAfter: number | null) {
    super(status, type, message, requestId);
    this.retryAfter = retryAfter;
  }
}

/** No HTTP answer: connection refused or reset, DNS, the per-request timeout. status is null. */
export class ConnectionFailed extends AegisError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(null, "connection_error", message, null);
    if (options && "cause" in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

function jobMessage(job: Job): string {
  const detail = job.error ? `${job.error.type}: ${job.error.message}` : "no error given";
  return `job ${job.id} ${job.status} (${detail})`;
}

/** run(): the job ended without succeeding (failed, cancelled or expired); .job has it. */
export class JobFailed extends AegisError {
  readonly job: Job;
  constructor(job: Job, message?: string) {
    super(null, job.error?.type || job.status, message ?? jobMessage(job), null);
    this.job = job;
  }
}

/**
 * Policy refused the content: 422 pii_blocked at submit (.job is null), an
 * error answer of type pii_blocked, egress_blocked or no_local_provider
 * whatever its status (e.g. rag.answer's 503 no_local_provider), or a job that
 * failed with one of those (.job holds it). Retrying the same content will not help.
 */
export class Blocked extends AegisError {
  readonly job: Job | null;
  constructor(status: number | null, type: string, message: string, requestId: string | null, job: Job | null = null) {
    super(status, type, message, requestId);
    this.job = job;
  }
}

/**
 * wait(): the deadline passed before the job finished. .job is the last state
 * seen (null if the gateway never answered); .jobId is always set.
 */
export class Timeout extends AegisError {
  readonly jobId: string;
  readonly job: Job | null;
  constructor(message: string, jobId: string, job: Job | null = null) {
    super(null, "timeout", message, null);
    this.jobId = jobId;
    this.job = job;
  }
}

/** Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); null if absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (!text) return null;
  let seconds: number;
  if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) {
    seconds = Number(text);
  } else {
    const when = Date.parse(text);
    if (Number.isNaN(when)) return null;
    seconds = (when - nowMs) / 1000;
  }
  if (!Number.isFinite(seconds)) return null;
  return Math.max(0, seconds);
}

/**
 * The sleep after the n-th consecutive transient failure (n >= 1):
 * pollIntervalMs doubles per failure up to MAX_BACKOFF_MS; rand in [0, 1)
 * spreads it over [cap/2, cap) so clients that failed together do not retry
 * together.
 */
export function backoffDelayMs(pollIntervalMs: number, failures: number, rand: number): number {
  const base = Math.max(pollIntervalMs, 10);
  const cap = Math.min(MAX_BACKOFF_MS, base * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return cap * (0.5 + 0.5 * rand);
}

/** A ?wait= value the server accepts: 0..60 seconds, at most millisecond precision. */
export function formatWait(ms: number): string {
  const clamped = Math.min(Math.max(Number.isFinite(ms) ? ms : 0, 0), MAX_LONG_POLL_MS);
  const text = (Math.round(clamped) / 1000).toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
  return text || "0";
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
  409: "Conflict", 422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
  502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
};

/** The typed error for a non-2xx answer. */
export function errorFromResponse(status: number, headers: Headers, body: string): AegisError {
  let type: string | null = null;
  let message: string | null = null;
  let requestId: string | null = null;
  let parsed: unknown = null;
  try {
    parsed = body ? JSON.parse(body) : null;
  } catch {
    parsed = null;
  }
  const err = asObject(asObject(parsed)?.error);
  if (err) {
    type = asString(err.type);
    message = asString(err.message);
    requestId = asString(err.request_id);
  }
  requestId ??= headers.get("x-request-id");
  message ??= body.trim().slice(0, 500) || STATUS_TEXT[status] || "HTTP error";
  const retryAfter = parseRetryAfter(headers.get("retry-after"));

  // Policy, whatever the status (422 pii_blocked, 503 no_local_provider, 500 egress_blocked).
  if (type !== null && BLOCKED_ERROR_TYPES.has(type)) return new Blocked(status, type, message, requestId);
  switch (status) {
    case 400: return new InvalidRequest(status, type ?? "invalid_request", message, requestId);
    case 413: return new InvalidRequest(status, type ?? "payload_too_large", message, requestId);
    case 401:
    case 403: return new AuthError(status, type ?? "unauthorized", message, requestId);
    case 402: return new BudgetExceeded(status, type ?? "budget_exceeded", message, requestId);
    case 404: return new NotFound(status, type ?? "not_found", message, requestId);
    case 409: return new Conflict(status, type ?? "conflict", message, requestId);
    case 422: return new InvalidRequest(status, type ?? "invalid_request", message, requestId);
    case 429: return new RateLimited(status, type ?? "rate_limited", message, requestId, retryAfter);
    case 503: return new Unavailable(status, type ?? "unavailable", message, requestId, retryAfter);
    default: return new AegisError(status, type, message, requestId);
  }
}

function isTransient(error: unknown): error is ConnectionFailed | RateLimited | Unavailable {
  return error instanceof ConnectionFailed || error instanceof RateLimited || error instanceof Unavailable;
}

// ------------------------------------------------------------------ client

export interface ClientOptions {
  /** The gateway, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  /** The team's virtual key. */
  apiKey: string;
  /** Limit for one HTTP exchange (a long poll gets its wait on top). Default 30000. */
  timeoutMs?: number;
}

export interface SubmitRequest {
  taskType: string;
  /** Exactly one of messages and prompt. */
  messages?: Message[];
  prompt?: string;
  /** Prices the budget reservation. Default 1024. */
  maxTokens?: number;
  model?: string;
  metadata?: Record<string, string>;
  classification?: Classification;
  /** A repeated submit with the same key returns the first job. */
  idempotencyKey?: string;
}

export interface WaitOptions {
  /** Give up (Timeout) after this long. Default 300000; 0 checks once. */
  timeoutMs?: number;
  /** Pause between polls when the server answers early, and the first backoff step. Default 500. */
  pollIntervalMs?: number;
}

export type RunRequest = SubmitRequest & WaitOptions;

export interface ListOptions {
  status?: JobStatus;
  /** 1..1000; the server's default is 50. */
  limit?: number;
  cursor?: string;
}

export interface IngestRequest {
  /** 1 to 128 letters, digits, '_', '-' and '.'. */
  collection: string;
  /** Exactly one of text (the gateway chunks it) and chunks (stored as given). */
  text?: string;
  chunks?: string[];
  source?: string;
  metadata?: Record<string, unknown>;
  /** A floor: the gateway may raise a chunk's level, never lower it. */
  classification?: Classification;
}

export interface QueryRequest {
  collection: string;
  query: string;
  /** How many chunks at most; the server's default is 5. */
  topK?: number;
  /** Only documents whose metadata has each key with this value (or one of these values). */
  filter?: Record<string, string | number | boolean | Array<string | number | boolean>>;
}

export interface AnswerRequest {
  collection: string;
  question: string;
  /** How many chunks go into the model's context; the server's default is 5. */
  topK?: number;
  maxTokens?: number;
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

interface Exchanged {
  body: unknown;
  headers: Headers;
}

type Send = (method: string, path: string, options?: RequestOptions) => Promise<Exchanged>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** A team's view of the gateway's async job API. Holds no connection; share it freely. */
export class Client {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** Retrieval (/v1/rag): client.rag.ingest(...), .query(...), .answer(...), ... */
  readonly rag: Rag;
  readonly #apiKey: string;

  constructor(options: ClientOptions) {
    if (!options || !options.baseUrl) throw new TypeError("baseUrl is required");
    if (!options.apiKey) throw new TypeError("apiKey is required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.rag = new Rag((method, path, opts) => this.#exchange(method, path, opts));
  }

  /** POST /v1/jobs: the queued job (id, status, classification, createdAt). Never retried. */
  async submit(request: SubmitRequest): Promise<Job> {
    const body = submitBody(request);
    const headers: Record<string, string> = {};
    if (request.idempotencyKey !== undefined) headers["Idempotency-Key"] = request.idempotencyKey;
    return parseJob(await this.#request("POST", "/v1/jobs", { body, headers }));
  }

  /**
   * GET /v1/jobs/{id}: the job now. With waitMs (0..60000) the server holds
   * the answer until the job finishes or that time passes.
   */
  async get(id: string, options: { waitMs?: number } = {}): Promise<Job> {
    const { waitMs } = options;
    if (waitMs === undefined) return parseJob(await this.#request("GET", jobPath(id)));
    const clamped = Math.min(Math.max(waitMs, 0), MAX_LONG_POLL_MS);
    return parseJob(
      await this.#request("GET", jobPath(id), { query: { wait: formatWait(clamped) }, timeoutMs: this.timeoutMs + clamped }),
    );
  }

  /**
   * Resolves with the job once it is final (succeeded, failed, cancelled or
   * expired), whatever the status. Connection errors, 429 and 503 are retried
   * with backoff (honouring retry-after); rejects with Timeout when timeoutMs
   * passes first, and at once with any other error.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<Job> {
    const timeoutMs = Math.max(options.timeoutMs ?? 300_000, 0);
    const pollIntervalMs = options.pollIntervalMs ?? 500;
    const deadline = Date.now() + timeoutMs;
    let failures = 0;
    let lastJob: Job | null = null;
    for (;;) {
      const waitMs = Math.min(Math.max(deadline - Date.now(), 0), MAX_LONG_POLL_MS);
      const started = Date.now();
      let job: Job;
      try {
        job = await this.get(id, { waitMs });
      } catch (error) {
        if (!isTransient(error)) throw error;
        failures += 1;
        const retryAfter = error instanceof ConnectionFailed ? null : error.retryAfter;
        const delay = retryAfter !== null ? retryAfter * 1000 : backoffDelayMs(pollIntervalMs, failures, Math.random());
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw timeoutError(id, timeoutMs, lastJob, error);
        await sleep(Math.min(delay, remaining));
        continue;
      }
      failures = 0;
      if (isFinal(job)) return job;
      lastJob = job;
      const now = Date.now();
      if (now >= deadline) throw timeoutError(id, timeoutMs, job);
      // A proper long poll already waited; an early answer must not turn into a busy loop.
      const elapsed = now - started;
      if (elapsed < Math.min(waitMs, pollIntervalMs)) await sleep(Math.min(pollIntervalMs - elapsed, deadline - now));
    }
  }

  /**
   * submit() then wait(): resolves with the succeeded job; rejects with
   * Blocked (pii_blocked, egress_blocked, no_local_provider), JobFailed (any
   * other end, including cancelled and expired), Timeout, or what submit
   * rejects with.
   */
  async run(request: RunRequest): Promise<Job> {
    const { timeoutMs, pollIntervalMs, ...submit } = request;
    const job = await this.submit(submit);
    const done = await this.wait(job.id, { timeoutMs, pollIntervalMs });
    if (done.status === "succeeded") return done;
    if (done.error && BLOCKED_ERROR_TYPES.has(done.error.type)) {
      throw new Blocked(null, done.error.type, `job ${done.id} blocked: ${done.error.message}`, null, done);
    }
    throw new JobFailed(done);
  }

  /** DELETE /v1/jobs/{id}: the cancelled job; Conflict if it had already finished. */
  async cancel(id: string): Promise<Job> {
    return parseJob(await this.#request("DELETE", jobPath(id)));
  }

  /** GET /v1/jobs: one page of the team's jobs, oldest first. */
  async list(options: ListOptions = {}): Promise<JobPage> {
    const query: Record<string, string> = {};
    if (options.status !== undefined) query.status = options.status;
    if (options.limit !== undefined) query.limit = String(options.limit);
    if (options.cursor !== undefined) query.cursor = options.cursor;
    return parseJobPage(await this.#request("GET", "/v1/jobs", { query }));
  }

  /** Every job of the team (optionally of one status), oldest first, page by page. */
  async *iterJobs(options: { status?: JobStatus; pageSize?: number } = {}): AsyncGenerator<Job, void, undefined> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.list({ status: options.status, limit: options.pageSize, cursor });
      yield* page.data;
      if (!page.hasMore || !page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }

  toString(): string {
    return `Client(${this.baseUrl})`;
  }

  async #request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    return (await this.#exchange(method, path, options)).body;
  }

  /** The parsed JSON of a 2xx answer and its headers; rejects with the typed error otherwise. */
  async #exchange(method: string, path: string, options: RequestOptions = {}): Promise<Exchanged> {
    let url = this.baseUrl + path;
    const query = options.query ? new URLSearchParams(options.query).toString() : "";
    if (query) url += `?${query}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#apiKey}`,
      accept: "application/json",
      "user-agent": `aegis-client-typescript/${VERSION}`,
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }
    Object.assign(headers, options.headers);

    const limitMs = options.timeoutMs ?? this.timeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), limitMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method, headers, body, signal: controller.signal });
      text = await response.text();
    } catch (error) {
      const reason = controller.signal.aborted ? `no answer within ${limitMs} ms` : describeFetchError(error);
      throw new ConnectionFailed(`${method} ${path}: ${reason}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    if (response.status < 200 || response.status >= 300) throw errorFromResponse(response.status, response.headers, text);
    try {
      return { body: JSON.parse(text), headers: response.headers };
    } catch {
      throw new AegisError(response.status, "invalid_response", `${method} ${path}: the gateway's answer is not JSON`,
        response.headers.get("x-request-id"));
    }
  }
}

/**
 * Retrieval over the team's document collections (/v1/rag), reached as
 * client.rag (not constructed directly). Every chunk gets a level (the most
 * restrictive of the declared one and what the gateway finds in it); a query
 * or an answer only ever uses chunks at or below the caller's clearance.
 * Nothing here is retried automatically.
 */
export class Rag {
  readonly #send: Send;

  /** @internal */
  constructor(send: Send) {
    this.#send = send;
  }

  /**
   * POST /v1/rag/documents: the stored document's documentId, chunks (index
   * and level of each) and classification (its most restrictive chunk).
   */
  async ingest(request: IngestRequest): Promise<Document> {
    if (!request || typeof request.collection !== "string") throw new TypeError("collection is required");
    if ((request.text === undefined) === (request.chunks === undefined)) {
      throw new TypeError("give exactly one of text or chunks");
    }
    if (request.chunks !== undefined && !Array.isArray(request.chunks)) throw new TypeError("chunks must be an array of strings");
    const body: JsonObject = { collection: request.collection };
    if (request.text !== undefined) body.text = request.text;
    else body.chunks = [...request.chunks!];
    if (request.source !== undefined) body.source = request.source;
    if (request.metadata !== undefined) body.metadata = { ...request.metadata };
    if (request.classification !== undefined) body.classification = request.classification;
    const { body: data, headers } = await this.#send("POST", "/v1/rag/documents", { body });
    return parseDocument(data, headers.get("x-aegis-classification"));
  }

  /** GET /v1/rag/documents?collection=: every document of the team in it (an unknown collection is []). */
  async list(collection: string): Promise<Document[]> {
    const { body } = await this.#send("GET", "/v1/rag/documents", { query: { collection } });
    const obj = asObject(body);
    if (!obj || !Array.isArray(obj.data)) throw new TypeError(`not a document list: ${JSON.stringify(body)}`.slice(0, 300));
    return obj.data.map((d) => parseDocument(d));
  }

  /** GET /v1/rag/documents/{id}: levels and metadata, not the text; NotFound if the team has none with that id. */
  async get(documentId: string): Promise<Document> {
    return parseDocument((await this.#send("GET", documentPath(documentId))).body);
  }

  /** DELETE /v1/rag/documents/{id}: erases it with every chunk and vector; NotFound if there is none (any more). */
  async delete(documentId: string): Promise<Deletion> {
    return parseDeletion((await this.#send("DELETE", documentPath(documentId))).body);
  }

  /** POST /v1/rag/query: the topK chunks closest to the query, best first, among those the caller may see. */
  async query(request: QueryRequest): Promise<QueryResult> {
    const body: JsonObject = { collection: request.collection, query: request.query };
    if (request.topK !== undefined) body.top_k = request.topK;
    if (request.filter !== undefined) body.filter = request.filter;
    const { body: data, headers } = await this.#send("POST", "/v1/rag/query", { body });
    return parseQueryResult(data, headers.get("x-aegis-classification"));
  }

  /**
   * POST /v1/rag/answer: retrieves as query() does and has a model answer
   * from those chunks only. Governed like any call: a RESTRICTED chunk in the
   * context keeps it on a local model, and it is booked to the team's budget
   * (BudgetExceeded, Blocked as for jobs).
   */
  async answer(request: AnswerRequest): Promise<Answer> {
    const body: JsonObject = { collection: request.collection, question: request.question };
    if (request.topK !== undefined) body.top_k = request.topK;
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    const { body: data, headers } = await this.#send("POST", "/v1/rag/answer", { body });
    return parseAnswer(data, headers);
  }
}

function documentPath(id: string): string {
  if (!id) throw new TypeError("document id is required");
  return `/v1/rag/documents/${encodeURIComponent(id)}`;
}

function submitBody(request: SubmitRequest): JsonObject {
  if (!request || typeof request.taskType !== "string") throw new TypeError("taskType is required");
  if ((request.messages === undefined) === (request.prompt === undefined)) {
    throw new TypeError("give exactly one of messages or prompt");
  }
  const body: JsonObject = { task_type: request.taskType, max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS };
  if (request.messages !== undefined) body.messages = request.messages.map((m) => ({ role: m.role, content: m.content }));
  else body.prompt = request.prompt;
  if (request.model !== undefined) body.model = request.model;
  if (request.metadata !== undefined) body.metadata = { ...request.metadata };
  if (request.classification !== undefined) body.classification = request.classification;
  return body;
}

function jobPath(id: string): string {
  if (!id) throw new TypeError("job id is required");
  return `/v1/jobs/${encodeURIComponent(id)}`;
}

function timeoutError(id: string, timeoutMs: number, job: Job | null, cause?: unknown): Timeout {
  const state = job ? ` (last seen ${job.status})` : "";
  const error = new Timeout(`job ${id} did not finish within ${timeoutMs} ms${state}`, id, job);
  if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
  return error;
}

// fetch's own message is a bare "fetch failed"; the cause says what happened.
function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ""}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
