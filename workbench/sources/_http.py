"""HTTP plumbing shared by the server sources: TLS, transport failures, retry pauses, redaction.

Each source keeps its own request loop (what is safe to retry and what its errors say
differ); the pieces here are the ones that do not.
"""

from __future__ import annotations

import random
import ssl
from pathlib import Path
from urllib.parse import unquote

import httpx

from workbench.errors import UsageError

MAX_BACKOFF_S = 8.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def tls_context(
    verify: bool,
    ca_bundle: str | Path | None,
    client_cert: str | Path | None,
    client_key: str | Path | None,
) -> ssl.SSLContext | bool:
    """Return what httpx takes as ``verify``: a context trusting ``ca_bundle``, or the flag."""
    if ca_bundle is None and client_cert is None:
        return verify
    try:
        context = (
            ssl.create_default_context(cafile=str(ca_bundle))
            if ca_bundle is not None
            else ssl.create_default_context()
        )
        if client_cert is not None:
            context.load_cert_chain(
                str(client_cert), str(client_key) if client_key is not None else None
            )
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot load the TLS files: {exc}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def is_certificate_error(exc: BaseException) -> bool:
    """Return whether a transport error comes from an untrusted server certificate."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def certificate_reason(exc: BaseException) -> str:
    """Return the verifier's words for an untrusted certificate."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) and seen.verify_message:
            return seen.verify_message
        seen = seen.__cause__ or seen.__context__
    return "certificate verify failed"


def transport_reason(exc: httpx.TransportError) -> str:
    """Return a transport error as a short reason (its text, else its type)."""
    return str(exc) or type(exc).__name__


def retry_after(response: httpx.Response) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait, if it gives a number."""
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def backoff_pause(attempt: int, backoff: float, asked: float | None = None) -> float:
    """Return the seconds to wait before retry ``attempt + 1``.

    The server's ``Retry-After`` when it gave one, else ``backoff * 2**attempt``; capped at
    :data:`MAX_BACKOFF_S`, with up to 10 % jitter so clients do not retry in step.
    """
    pause = asked if asked is not None else backoff * 2**attempt
    return min(pause, MAX_BACKOFF_S) * (1 + random.random() * 0.1)


def split_credentials(url: str) -> tuple[httpx.URL, str | None, str | None]:
    """Return ``url`` without user info, query or fragment, and the user info it held."""
    parsed = httpx.URL(url.strip())
    username = unquote(parsed.username) if parsed.username else None
    password = unquote(parsed.password or "") if parsed.username else None
    base = parsed.copy_with(username=None, password=None, query=None, fragment=None)
    return base, username, password


def redact(url: httpx.URL) -> str:
    """Return ``url`` as text without its user info."""
    try:
        return str(url.copy_with(username=None, password=None))
    except Exception:  # a URL too broken to rebuild: show its host only
        return url.host or "the URL"
