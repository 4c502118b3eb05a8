"""Typed views of the /v1/jobs JSON (docs/JOBS.md). Each keeps what it was parsed from."""
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
