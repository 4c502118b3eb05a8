"""The gateway client: the /v1/jobs API (docs/JOBS.md: submit, poll, cancel, list) and,
as Client.rag, retrieval over the team's documents (/v1/rag)."""
from __future__ import annotations

import email.utils
import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator, Mapping, Optional, Sequence

from . import __version__
from .errors import (AegisError, AuthError, Blocked, BudgetExceeded, Conflict, ConnectionFailed,
                     InvalidRequest, JobFailed, NotFound, RateLimited, Timeout, Unavailable)
from .models import (BLOCKED_ERROR_TYPES, SUCCEEDED, Answer, Deletion, Document, Job, JobPage,
                     QueryResult)

# The server caps ?wait= at 60 s; a longer wait is a series of long polls.
MAX_LONG_POLL_S = 60.0
# Backoff on transient errors doubles from poll_interval up to this.
MAX_BACKOFF_S = 5.0
DEFAULT_MAX_TOKENS = 1024

_TRANSIENT = (ConnectionFailed, RateLimited, Unavailable)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


def backoff_delay(poll_interval: float, failures: int, rand: float) -> float:
    """The sleep after the n-th consecutive transient failure (n >= 1).

    poll_interval doubles per failure up to MAX_BACKOFF_S; rand in [0, 1)
    spreads it over [cap/2, cap) so clients that failed together do not
    retry together.
    """
    base = max(poll_interval, 0.01)
    cap = min(MAX_BACKOFF_S, base * (2 ** min(max(failures - 1, 0), 30)))
    return cap * (0.5 + 0.5 * rand)


def format_wait(seconds: float) -> str:
    """A ?wait= value the server accepts: 0..60, at most millisecond precision."""
    seconds = min(max(seconds, 0.0), MAX_LONG_POLL_S)
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> AegisError:
    """The typed exception for a non-2xx answer."""
    headers = {k.lower(): v for k, v in headers.items()}
    err_type: Optional[str] = None
    message: Optional[str] = None
    request_id: Optional[str] = None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        err = parsed["error"]
        err_type = err.get("type") if isinstance(err.get("type"), str) else None
        message = err.get("message") if isinstance(err.get("message"), str) else None
        request_id = err.get("request_id") if isinstance(err.get("request_id"), str) else None
    if request_id is None:
        request_id = headers.get("x-request-id")
    if message is None:
        text = body.decode("utf-8", "replace").strip() if body else ""
        message = text[:500] or http.client.responses.get(status, "HTTP error")
    retry_after = parse_retry_after(headers.get("retry-after"))

    if err_type in BLOCKED_ERROR_TYPES:
        # Policy, whatever the status (422 pii_blocked, 503 no_local_provider, 500 egress_blocked).
        return Blocked(status, err_type, message, request_id)
    if status in (400, 413):
        return InvalidRequest(status, err_type or ("invalid_request" if status == 400 else "payload_too_large"),
                              message, request_id)
    if status in (401, 403):
        return AuthError(status, err_type or "unauthorized", message, request_id)
    if status == 402:
        return BudgetExceeded(status, err_type or "budget_exceeded", message, request_id)
    if status == 404:
        return NotFound(status, err_type or "not_found", message, request_id)
    if status == 409:
        return Conflict(status, err_type or "conflict", message, request_id)
    if status == 422:
        return InvalidRequest(status, err_type or "invalid_request", message, request_id)
    if status == 429:
        return RateLimited(status, err_type or "rate_limited", message, request_id, retry_after)
    if status == 503:
        return Unavailable(status, err_type or "unavailable", message, request_id, retry_after)
    return AegisError(status, err_type, message, request_id)


class Client:
    """A team's view of the gateway's async job API.

    base_url: the gateway, e.g. "http://127.0.0.1:8080"; api_key: the team's
    virtual key; timeout: seconds for one HTTP exchange (a long poll gets its
    wait on top of this).
    """

    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0):
        if not base_url:
            raise ValueError("base_url is required")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        # Injectable for tests: time never has to pass for real to test backoff.
        self._clock = time.monotonic
        self._sleep = time.sleep
        self._random = random.random
        # Retrieval (/v1/rag): client.rag.ingest(...), .query(...), .answer(...), ...
        self.rag = Rag(self)

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ jobs

    def submit(self, task_type: str, messages: Optional[Sequence[Mapping[str, str]]] = None,
               prompt: Optional[str] = None, max_tokens: int = DEFAULT_MAX_TOKENS,
               model: Optional[str] = None, metadata: Optional[Mapping[str, str]] = None,
               classification: Optional[str] = None,
               idempotency_key: Optional[str] = None) -> Job:
        """Queues a job; the returned Job has id, status "queued", classification, created_at.

        Give exactly one of messages ([{"role": ..., "content": ...}, ...]) or prompt.
        """
        if (messages is None) == (prompt is None):
            raise ValueError("give exactly one of messages or prompt")
        body: dict[str, Any] = {"task_type": task_type, "max_tokens": max_tokens}
        if messages is not None:
            body["messages"] = [dict(m) for m in messages]
        else:
            body["prompt"] = prompt
        if model is not None:
            body["model"] = model
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if classification is not None:
            body["classification"] = classification
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        return Job.from_json(self._request("POST", "/v1/jobs", body=body, headers=headers))

    def get(self, id: str, wait: Optional[float] = None) -> Job:
        """The job now; with wait=S (0..60) the server holds the answer until the job
        finishes or S seconds pass."""
        query = None
        timeout = self.timeout
        if wait is not None:
            query = {"wait": format_wait(wait)}
            timeout = self.timeout + min(max(wait, 0.0), MAX_LONG_POLL_S)
        return Job.from_json(self._request("GET", self._job_path(id), query=query, timeout=timeout))

    def wait(self, id: str, timeout: float = 300.0, poll_interval: float = 0.5) -> Job:
        """Blocks until the job is final (succeeded, failed, cancelled or expired) and returns
        it whatever the status. Connection errors, 429 and 503 are retried with backoff
        (honouring retry-after); raises Timeout when `timeout` seconds pass first."""
        deadline = self._clock() + max(timeout, 0.0)
        failures = 0
        last_job: Optional[Job] = None
        while True:
            wait_s = min(max(deadline - self._clock(), 0.0), MAX_LONG_POLL_S)
            started = self._clock()
            try:
                job = self.get(id, wait=wait_s)
            except _TRANSIENT as exc:
                failures += 1
                retry_after = getattr(exc, "retry_after", None)
                delay = retry_after if retry_after is not None else backoff_delay(
                    poll_interval, failures, self._random())
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise self._timeout(id, timeout, last_job) from exc
                self._sleep(min(delay, remaining))
                continue
            failures = 0
            if job.is_final:
                return job
            last_job = job
            now = self._clock()
            if now >= deadline:
                raise self._timeout(id, timeout, job)
            # A proper long poll already waited; an early answer must not turn into a busy loop.
            elapsed = now - started
            if elapsed < min(wait_s, poll_interval):
                self._sleep(min(poll_interval - elapsed, deadline - now))

    def run(self, task_type: str, messages: Optional[Sequence[Mapping[str, str]]] = None,
            prompt: Optional[str] = None, max_tokens: int = DEFAULT_MAX_TOKENS,
            model: Optional[str] = None, metadata: Optional[Mapping[str, str]] = None,
            classification: Optional[str] = None, idempotency_key: Optional[str] = None,
            timeout: float = 300.0, poll_interval: float = 0.5) -> Job:
        """submit() then wait(): the succeeded Job, or raises Blocked (compliance
        refusals), JobFailed (any other end), Timeout, or what submit raises."""
        job = self.submit(task_type, messages=messages, prompt=prompt, max_tokens=max_tokens, model=model,
                          metadata=metadata, classification=classification, idempotency_key=idempotency_key)
        done = self.wait(job.id, timeout=timeout, poll_interval=poll_interval)
        if done.status == SUCCEEDED:
            return done
        if done.error is not None and done.error.type in BLOCKED_ERROR_TYPES:
            raise Blocked(None, done.error.type, f"job {done.id} blocked: {done.error.message}", None, job=done)
        raise JobFailed(done)

    def cancel(self, id: str) -> Job:
        """Cancels a queued or running job; Conflict if it has already finished."""
        return Job.from_json(self._request("DELETE", self._job_path(id)))

    def list(self, status: Optional[str] = None, limit: Optional[int] = None,
             cursor: Optional[str] = None) -> JobPage:
        """One page of the team's jobs, oldest first."""
        query: dict[str, str] = {}
        if status is not None:
            query["status"] = status
        if limit is not None:
            query["limit"] = str(limit)
        if cursor is not None:
            query["cursor"] = cursor
        return JobPage.from_json(self._request("GET", "/v1/jobs", query=query or None))

    def iter_jobs(self, status: Optional[str] = None, page_size: Optional[int] = None) -> Iterator[Job]:
        """Every job of the team (optionally of one status), oldest first, page by page."""
        cursor: Optional[str] = None
        while True:
            page = self.list(status=status, limit=page_size, cursor=cursor)
            yield from page.data
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _job_path(id: str) -> str:
        if not id:
            raise ValueError("job id is required")
        return "/v1/jobs/" + urllib.parse.quote(id, safe="")

    def _timeout(self, id: str, timeout: float, job: Optional[Job]) -> Timeout:
        state = f" (last seen {job.status})" if job is not None else ""
        return Timeout(f"job {id} did not finish within {timeout:g} s{state}", id, job)

    def _request(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, str]] = None,
                 headers: Optional[Mapping[str, str]] = None, timeout: Optional[float] = None) -> Any:
        return self._exchange(method, path, body=body, query=query, headers=headers, timeout=timeout)[0]

    def _open(self, request: urllib.request.Request, method: str, path: str,
              timeout: Optional[float] = None) -> Any:
        """The open response of a 2xx answer (the caller reads and closes it); raises the typed error otherwise."""
        try:
            return urllib.request.urlopen(request, timeout=self.timeout if timeout is None else timeout)
        except urllib.error.HTTPError as exc:
            try:
                payload = exc.read()
            except (OSError, http.client.HTTPException):
                payload = b""
            raise error_from_response(exc.code, dict(exc.headers.items()) if exc.headers else {},
                                      payload) from None
        except urllib.error.URLError as exc:
            raise ConnectionFailed(f"{method} {path}: {exc.reason}") from exc
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            raise ConnectionFailed(f"{method} {path}: {exc!r}") from exc

    def _exchange(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, str]] = None,
                  headers: Optional[Mapping[str, str]] = None,
                  timeout: Optional[float] = None) -> tuple[Any, dict[str, str]]:
        """The parsed JSON of a 2xx answer and its headers (names in lower case); raises the typed error otherwise."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        hdrs = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json",
                "User-Agent": f"aegis-client-python/{__version__}"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        resp = self._open(urllib.request.Request(url, data=data, headers=hdrs, method=method), method, path, timeout)
        try:
            with resp:
                status = resp.status
                payload = resp.read()
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            raise ConnectionFailed(f"{method} {path}: {exc!r}") from exc
        try:
            return json.loads(payload), resp_headers
        except ValueError:
            request_id = resp_headers.get("x-request-id")
            raise AegisError(status, "invalid_response",
                             f"{method} {path}: the gateway's answer is not JSON", request_id) from None


class Rag:
    """Retrieval over the team's document collections (/v1/rag), reached as Client.rag.

    Every chunk gets a level (the most restrictive of the declared one and what
    the gateway finds in it); a query or an answer only ever uses the chunks at
    or below the caller's clearance. Nothing here is retried automatically.
    """

    def __init__(self, client: "Client"):
        self._client = client

    def __repr__(self) -> str:
        return f"Rag({self._client!r})"

    def ingest(self, collection: str, text: Optional[str] = None, chunks: Optional[Sequence[str]] = None,
               source: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None,
               classification: Optional[str] = None) -> Document:
        """Stores a document; the returned Document has document_id, chunks (index and level of each)
        and classification (its most restrictive chunk).

        Give exactly one of text (the gateway chunks it) or chunks (stored as given).
        classification is a floor: the gateway may raise a chunk's level, never lower it.
        """
        if (text is None) == (chunks is None):
            raise ValueError("give exactly one of text or chunks")
        if isinstance(chunks, (str, bytes)):
            raise TypeError("chunks must be a sequence of strings, not one string")
        body: dict[str, Any] = {"collection": collection}
        if text is not None:
            body["text"] = text
        else:
            body["chunks"] = list(chunks)
        if source is not None:
            body["source"] = source
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if classification is not None:
            body["classification"] = classification
        data, headers = self._client._exchange("POST", "/v1/rag/documents", body=body)
        return Document.from_json(data, classification=headers.get("x-aegis-classification"))

    def list(self, collection: str) -> list[Document]:
        """Every document of the team in a collection (an unknown collection is an empty list)."""
        data = self._client._request("GET", "/v1/rag/documents", query={"collection": collection})
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ValueError(f"not a document list: {data!r}"[:300])
        return [Document.from_json(item) for item in data["data"]]

    def get(self, document_id: str) -> Document:
        """One document (levels and metadata, not its text); NotFound if the team has none with that id."""
        return Document.from_json(self._client._request("GET", self._path(document_id)))

    def delete(self, document_id: str) -> Deletion:
        """Erases the document with every chunk and vector of it; NotFound if there is none (any more)."""
        return Deletion.from_json(self._client._request("DELETE", self._path(document_id)))

    def query(self, collection: str, query: str, top_k: Optional[int] = None,
              filter: Optional[dict[str, Any]] = None) -> QueryResult:  # noqa: A002 (the API's name)
        """The top_k chunks (server default 5) closest to query, best first, among those the caller may see;
        with filter ({key: value or [values]}), only chunks of documents whose metadata matches every key."""
        body: dict[str, Any] = {"collection": collection, "query": query}
        if top_k is not None:
            body["top_k"] = top_k
        if filter is not None:
            body["filter"] = filter
        data, headers = self._client._exchange("POST", "/v1/rag/query", body=body)
        return QueryResult.from_json(data, classification=headers.get("x-aegis-classification"))

    def answer(self, collection: str, question: str, top_k: Optional[int] = None,
               max_tokens: Optional[int] = None) -> Answer:
        """Retrieves as query() does and has a model answer from those chunks only. The call is
        governed like any other: a RESTRICTED chunk in the context keeps it on a local model,
        and it is booked to the team's budget (BudgetExceeded, Blocked as for jobs)."""
        body: dict[str, Any] = {"collection": collection, "question": question}
        if top_k is not None:
            body["top_k"] = top_k
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        data, headers = self._client._exchange("POST", "/v1/rag/answer", body=body)
        return Answer.from_json(data, headers)

    def answer_stream(self, collection: str, question: str, top_k: Optional[int] = None,
                      max_tokens: Optional[int] = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """answer() as it is written: yields (event, data) pairs, ("chunks", {"chunk_ids"}) first,
        then ("delta", {"text"}) as the model writes, then ("done", {"chunk_ids", "model",
        "provider", "usage"}). A refusal before the first event raises the typed error as
        answer() does; an error event after it raises the error it carries."""
        body: dict[str, Any] = {"collection": collection, "question": question, "stream": True}
        if top_k is not None:
            body["top_k"] = top_k
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        client = self._client
        request = urllib.request.Request(
            client.base_url + "/v1/rag/answer", data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Authorization": f"Bearer {client.api_key}", "Accept": "text/event-stream",
                     "Content-Type": "application/json", "User-Agent": f"aegis-client-python/{__version__}"},
            method="POST")
        resp = client._open(request, "POST", "/v1/rag/answer")
        with resp:
            event, data = "message", []
            for raw in resp:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif not line and data:
                    payload = json.loads("\n".join(data))
                    if event == "error":
                        # After the first event the status is already 200; the error is the body's.
                        raise error_from_response(502, {}, json.dumps(payload).encode("utf-8"))
                    yield event, payload
                    if event == "done":
                        return
                    event, data = "message", []

    @staticmethod
    def _path(document_id: str) -> str:
        if not document_id:
            raise ValueError("document id is required")
        return "/v1/rag/documents/" + urllib.parse.quote(document_id, safe="")
