"""Python client for the Aegis gateway: the async job API (/v1/jobs) and retrieval (/v1/rag).
Standard library only."""
__version__ = "0.1.0"

from .errors import (AegisError, AuthError, Blocked, BudgetExceeded, Conflict, ConnectionFailed,  # noqa: E402
                     InvalidRequest, JobFailed, NotFound, RateLimited, Timeout, Unavailable)
from .models import (FINAL_STATUSES, Answer, Deletion, Document, DocumentChunk, Job, JobError,  # noqa: E402
                     JobPage, JobResult, QueryResult, RetrievedChunk, Route)
from .client import Client, Rag  # noqa: E402

__all__ = [
    "Client", "Job", "JobError", "JobPage", "JobResult", "Route", "FINAL_STATUSES",
    "Rag", "Document", "DocumentChunk", "RetrievedChunk", "QueryResult", "Answer", "Deletion",
    "AegisError", "AuthError", "Blocked", "BudgetExceeded", "Conflict", "ConnectionFailed",
    "InvalidRequest", "JobFailed", "NotFound", "RateLimited", "Timeout", "Unavailable",
]
