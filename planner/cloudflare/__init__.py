"""The Cloudflare API client: envelopes, pagination, retries and rate limiting.

This package is the only user of httpx in the engine. Import from here, not from submodules.
"""

from planner.cloudflare.client import (
    DEFAULT_BASE_URL,
    USER_AGENT,
    CloudflareClient,
    RequestStats,
)
from planner.cloudflare.credentials import Credentials
from planner.cloudflare.ratelimit import RateLimiter, ServerQuota, parse_ratelimit
from planner.cloudflare.retry import RetryPolicy, parse_retry_after
from planner.cloudflare.types import (
    AssociationUpdate,
    HostnameAssociation,
    HostnameCertificate,
    Setting,
    Zone,
    ZoneCertificate,
)
from planner.errors import ReadOnlyError

__all__ = [
    "DEFAULT_BASE_URL",
    "USER_AGENT",
    "AssociationUpdate",
    "CloudflareClient",
    "Credentials",
    "HostnameAssociation",
    "HostnameCertificate",
    "RateLimiter",
    "ReadOnlyError",
    "RequestStats",
    "RetryPolicy",
    "ServerQuota",
    "Setting",
    "Zone",
    "ZoneCertificate",
    "parse_ratelimit",
    "parse_retry_after",
]
