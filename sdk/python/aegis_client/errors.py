"""Exceptions raised by the client. Every one is an AegisError."""
from __future__ import annotations

from typing import Optional


class AegisError(Exception):
    """An error answer from the gateway, or a job that did not end well.

    status: the HTTP status (None when no HTTP error was returned, e.g. a
    failed job or a client-side timeout); type: the gateway's error type
    (e.g. "budget_exceeded"); request_id: the gateway's request id, to quote
    when asking the operator to look at the audit log.
    """

    def __init__(self, status: Optional[int], type: Optional[str], message: str,
                 request_id: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        if self.type:
            parts.append(self.type)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.request_id:
            text += f" (request_id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status!r}, type={self.type!r}, "
                f"message={self.message!r}, request_id={self.request_id!r})")


class InvalidRequest(AegisError):
    """400: the request was malformed (bad field, bad query parameter); 413: too large
    (payload_too_large, e.g. a document over rag.max_document_bytes)."""


class AuthError(AegisError):
    """401/403: missing, wrong or revoked key."""


class BudgetExceeded(AegisError):
    """402: the team's budget cannot cover the job's worst-case cost."""


class NotFound(AegisError):
    """404: no such job or document for this team (another team's looks the same)."""


class Conflict(AegisError):
    """409: e.g. cancelling a job that has already finished."""


class RateLimited(AegisError):
    """429: the queue is full; retry_after is the server's hint in seconds (or None)."""

    def __init__(self, status, type, message, request_id=None, retry_after: Optional[float] = None):
        super().__init__(status, type, message, request_id)
        self.retry_after = retry_after


class Unavailable(AegisError):
    """503: the gateway cannot serve now (draining, a dependency down); retry_after as for RateLimited."""

    def __init__(self, status, type, message, request_id=None, retry_after: Optional[float] = None):
        super().__init__(status, type, message, request_id)
        self.retry_after = retry_after


class ConnectionFailed(AegisError):
    """No HTTP answer: connection refused or reset, DNS, socket timeout. status is None."""

    def __init__(self, message: str):
        super().__init__(None, "connection_error", message, None)


class JobFailed(AegisError):
    """run(): the job ended without succeeding (failed, cancelled or expired); .job has it."""

    def __init__(self, job, message: Optional[str] = None):
        err = job.error
        super().__init__(None, err.type if err else job.status,
                         message or _job_message(job), None)
        self.job = job


class Blocked(AegisError):
    """Policy refused the content: an error answer of type pii_blocked,
    egress_blocked or no_local_provider whatever its status (422 pii_blocked at
    submit, 503 no_local_provider from rag.answer; .job is None), or a job that
    failed with one of those (.job holds it). Retrying the same content will not help."""

    def __init__(self, status, type, message, request_id=None, job=None):
        super().__init__(status, type, message, request_id)
        self.job = job


class Timeout(AegisError):
    """wait(): the deadline passed before the job finished. .job is the last state
    seen (None if the gateway never answered); .job_id is always set."""

    def __init__(self, message: str, job_id: str, job=None):
        super().__init__(None, "timeout", message, None)
        self.job_id = job_id
        self.job = job


def _job_message(job) -> str:
    err = job.error
    detail = f"{err.type}: {err.message}" if err else "no error given"
    return f"job {job.id} {job.status} ({detail})"
