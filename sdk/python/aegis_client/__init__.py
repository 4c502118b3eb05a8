"""Python client for the Aegis gateway's async job API (/v1/jobs). Standard library only."""
__version__ = "0.1.0"

from .errors import (AegisError, AuthError, Blocked, BudgetExceeded, Conflict, ConnectionFailed,  # noqa: E402
                     InvalidRequest, JobFailed, NotFound, RateLimited, Timeout, Unavailable)
from .models import FINAL_STATUSES, Job, JobError, JobPage, JobResult, Route  # noqa: E402
from .client import Client  # noqa: E402

__all__ = [
    "Client", "Job", "JobError", "JobPage", "JobResult", "Route", "FINAL_STATUSES",
    "AegisError", "AuthError", "Blocked", "BudgetExceeded", "Conflict", "ConnectionFailed",
    "InvalidRequest", "JobFailed", "NotFound", "RateLimited", "Timeout", "Unavailable",
]
