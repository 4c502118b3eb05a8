"""Typed views of the gateway's JSON: /v1/jobs (docs/JOBS.md) and /v1/rag. Each keeps what it was parsed from."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Optional

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"

FINAL_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED, EXPIRED})

# Failure types that mean "policy said no", not "something broke": retrying
# the same request will fail the same way.
BLOCKED_ERROR_TYPES = frozenset({"pii_blocked", "egress_blocked", "no_local_provider"})


def parse_time(value: Any) -> Optional[_dt.datetime]:
    """An RFC 3339 timestamp as an aware UTC datetime; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC 3339 string, got {value!r}")
    text = value.strip()
    # fromisoformat takes "Z" only from 3.11; normalise so older parsers agree.
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = _dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        # The gateway always sends UTC; a bare time is read as UTC rather than local.
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.astimezone(_dt.timezone.utc)


def _obj(value: Any) -> Optional[dict]:
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Route:
    tier: Optional[str]
    provider: Optional[str]
    model: Optional[str]
    reason: Optional[str]

    @classmethod
    def from_json(cls, data: Any) -> Optional["Route"]:
        data = _obj(data)
        if data is None:
            return None
        return cls(data.get("tier"), data.get("provider"), data.get("model"), data.get("reason"))


@dataclass(frozen=True)
class JobResult:
    text: str
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @classmethod
    def from_json(cls, data: Any) -> Optional["JobResult"]:
        data = _obj(data)
        if data is None:
            return None
        usage = _obj(data.get("usage")) or {}
        return cls(
            text=data.get("text") or "",
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            cost_usd=float(data.get("cost_usd") or 0.0),
        )


@dataclass(frozen=True)
class JobError:
    type: str
    message: str

    @classmethod
    def from_json(cls, data: Any) -> Optional["JobError"]:
        data = _obj(data)
        if data is None:
            return None
        return cls(str(data.get("type") or ""), str(data.get("message") or ""))


@dataclass(frozen=True)
class Job:
    """A job as the gateway last reported it.

    The 202 answer to a submit carries only id, status, classification and
    created_at; the other fields are then None / 0 / {} until get() or wait().
    """

    id: str
    status: str
    classification: Optional[str] = None
    route: Optional[Route] = None
    result: Optional[JobResult] = None
    error: Optional[JobError] = None
    attempts: int = 0
    created_at: Optional[_dt.datetime] = None
    started_at: Optional[_dt.datetime] = None
    finished_at: Optional[_dt.datetime] = None
    task_type: Optional[str] = None
    metadata: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        """True once nothing will change the job any more."""
        return self.status in FINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    @classmethod
    def from_json(cls, data: Any) -> "Job":
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not isinstance(
                data.get("status"), str):
            raise ValueError(f"not a job object: {data!r}"[:300])
        return cls(
            id=data["id"],
            status=data["status"],
            classification=data.get("classification"),
            route=Route.from_json(data.get("route")),
            result=JobResult.from_json(data.get("result")),
            error=JobError.from_json(data.get("error")),
            attempts=int(data.get("attempts") or 0),
            created_at=parse_time(data.get("created_at")),
            started_at=parse_time(data.get("started_at")),
            finished_at=parse_time(data.get("finished_at")),
            task_type=data.get("task_type"),
            metadata=dict(_obj(data.get("metadata")) or {}),
            raw=data,
        )


@dataclass(frozen=True)
class JobPage:
    """One page of GET /v1/jobs, oldest job first."""

    data: list
    has_more: bool
    next_cursor: Optional[str]
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self):
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def from_json(cls, data: Any) -> "JobPage":
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ValueError(f"not a job list: {data!r}"[:300])
        return cls(
            data=[Job.from_json(item) for item in data["data"]],
            has_more=bool(data.get("has_more")),
            next_cursor=data.get("next_cursor"),
            raw=data,
        )


# ---------------------------------------------------------------- retrieval (/v1/rag)

def _from_latin1(value: str) -> str:
    """A header value as the gateway wrote it (UTF-8); HTTP libraries hand it over as Latin-1."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def parse_route_header(value: Optional[str]) -> Optional[Route]:
    """x-aegis-route ("tier=T; provider=P; model=M; reason=R") as a Route; None if absent.
    The reason is the rest of the value, "; " included."""
    if not value:
        return None
    text = _from_latin1(value)
    head, found, reason = text.partition("; reason=")
    if not found and head.startswith("reason="):
        head, reason, found = "", head[len("reason="):], "reason="
    fields = {}
    for part in head.split(";"):
        name, eq, val = part.strip().partition("=")
        if eq:
            fields[name] = val
    return Route(fields.get("tier"), fields.get("provider"), fields.get("model"), reason if found else None)


def _float_header(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class DocumentChunk:
    """One stored chunk of a document: its position and the level the gateway gave it."""

    index: int
    classification: str

    @classmethod
    def from_json(cls, data: Any) -> "DocumentChunk":
        data = _obj(data) or {}
        return cls(_int(data.get("index")), str(data.get("classification") or ""))


@dataclass(frozen=True)
class Document:
    """A stored document (never its text).

    The 201 answer to an ingest carries only document_id and chunks;
    classification then comes from the x-aegis-classification header, and
    collection, source and created_at are None until get() or list().
    classification is the most restrictive level of its chunks.
    """

    document_id: str
    chunks: list
    classification: Optional[str] = None
    collection: Optional[str] = None
    source: Optional[str] = None
    created_at: Optional[_dt.datetime] = None
    metadata: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any, classification: Optional[str] = None) -> "Document":
        if not isinstance(data, dict) or not isinstance(data.get("document_id"), str):
            raise ValueError(f"not a document object: {data!r}"[:300])
        created_ms = data.get("created_at_ms")
        created_at = None
        if isinstance(created_ms, (int, float)) and not isinstance(created_ms, bool):
            created_at = _dt.datetime.fromtimestamp(created_ms / 1000, tz=_dt.timezone.utc)
        chunks = data.get("chunks") if isinstance(data.get("chunks"), list) else []
        return cls(
            document_id=data["document_id"],
            chunks=[DocumentChunk.from_json(c) for c in chunks],
            classification=data.get("classification") or classification,
            collection=data.get("collection"),
            source=data.get("source"),
            created_at=created_at,
            metadata=dict(_obj(data.get("metadata")) or {}),
            raw=data,
        )


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk a query found: score is the cosine similarity to the query (higher is closer)."""

    id: str
    document_id: str
    index: int
    text: str
    score: float
    source: str
    classification: str

    @classmethod
    def from_json(cls, data: Any) -> "RetrievedChunk":
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError(f"not a chunk object: {data!r}"[:300])
        score = data.get("score")
        return cls(
            id=data["id"],
            document_id=str(data.get("document_id") or ""),
            index=_int(data.get("index")),
            text=str(data.get("text") or ""),
            score=float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else 0.0,
            source=str(data.get("source") or ""),
            classification=str(data.get("classification") or ""),
        )


@dataclass(frozen=True)
class QueryResult:
    """The answer to a query: the best chunks the caller may see, best first.
    classification is the level of the query text itself (x-aegis-classification)."""

    chunks: list
    classification: Optional[str] = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self):
        return iter(self.chunks)

    def __len__(self) -> int:
        return len(self.chunks)

    @classmethod
    def from_json(cls, data: Any, classification: Optional[str] = None) -> "QueryResult":
        if not isinstance(data, dict) or not isinstance(data.get("chunks"), list):
            raise ValueError(f"not a query result: {data!r}"[:300])
        return cls([RetrievedChunk.from_json(c) for c in data["chunks"]], classification, data)


@dataclass(frozen=True)
class Answer:
    """A model's answer from retrieved chunks.

    chunk_ids: the chunks put in its context; classification: the level of the
    whole prompt (a RESTRICTED chunk keeps the call on a local model); route and
    cost_usd come from the x-aegis-route and x-aegis-cost-usd headers (None if absent).
    """

    answer: str
    chunk_ids: list
    model: Optional[str]
    provider: Optional[str]
    input_tokens: int
    output_tokens: int
    classification: Optional[str] = None
    route: Optional[Route] = None
    cost_usd: Optional[float] = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any, headers: Optional[dict] = None) -> "Answer":
        if not isinstance(data, dict) or not isinstance(data.get("answer"), str):
            raise ValueError(f"not an answer object: {data!r}"[:300])
        headers = headers or {}
        usage = _obj(data.get("usage")) or {}
        ids = data.get("chunk_ids") if isinstance(data.get("chunk_ids"), list) else []
        return cls(
            answer=data["answer"],
            chunk_ids=[str(i) for i in ids],
            model=data.get("model"),
            provider=data.get("provider"),
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            classification=headers.get("x-aegis-classification"),
            route=parse_route_header(headers.get("x-aegis-route")),
            cost_usd=_float_header(headers.get("x-aegis-cost-usd")),
            raw=data,
        )


@dataclass(frozen=True)
class Deletion:
    """The answer to a delete: the document and every chunk and vector of it are gone."""

    document_id: str
    deleted: bool
    chunks_deleted: int
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> "Deletion":
        if not isinstance(data, dict) or not isinstance(data.get("document_id"), str):
            raise ValueError(f"not a deletion answer: {data!r}"[:300])
        return cls(data["document_id"], data.get("deleted") is True, _int(data.get("chunks_deleted")), data)
