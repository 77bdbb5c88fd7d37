"""Who may use the review app: sessions opened from a reviewer's secret link, CSRF tokens, Host and Origin checks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = (80, 443)
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def _bracketed(name: str) -> str:
    return f"[{name}]" if ":" in name else name


def host_names(host: str, port: int, extra: Iterable[str] = ()) -> set[str]:
    """The Host header values the app answers to: the address it listens on (and localhost for loopback).

    Browsers leave the port out on 80 and 443, so those ports also accept the bare names; names given with
    --allow-host are accepted with and without the port (behind a proxy the port is the proxy's).
    """
    names = {host}
    if host in ("127.0.0.1", "::1", "localhost"):
        names |= {"127.0.0.1", "localhost", "::1"}
    allowed = {f"{_bracketed(name)}:{port}" for name in names | set(extra)}
    if port in DEFAULT_PORTS:
        allowed |= {_bracketed(name) for name in names}
    return allowed | {_bracketed(name) for name in extra}


class Guard:
    """Issues and checks sessions and CSRF tokens; one per running server, with a fresh secret.

    The session cookie's name carries the port and a random part of this server's own, so another service on
    the same host (cookies are not port-isolated) is not sent a usable session, and a restarted server does
    not accept the last one's sessions.
    """

    def __init__(self, hosts: set[str], port: int) -> None:
        self.hosts = hosts
        self.origins = {f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")}
        self.cookie = f"harness_review_{port}_{secrets.token_hex(6)}"
        self._secret = secrets.token_bytes(32)
        self._sessions: dict[str, str] = {}  # session id -> name of the reviewer whose link opened it
        self._lock = threading.Lock()

    def open_session(self, reviewer: str) -> str:
        """A new session for the reviewer whose link was opened; the name cannot be changed afterwards."""
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = reviewer
        return session

    def reviewer(self, session: str | None) -> str | None:
        """The reviewer of a session, or None for no valid session."""
        if not session:
            return None
        with self._lock:
            return self._sessions.get(session)

    def close_sessions(self, reviewer: str) -> None:
        """End every session of a reviewer (their link was revoked)."""
        with self._lock:
            for session in [s for s, name in self._sessions.items() if name == reviewer]:
                del self._sessions[session]

    def csrf(self, session: str) -> str:
        """The CSRF token of a session: an HMAC of its id under this server's secret."""
        return hmac.new(self._secret, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()

    def stamp(self, value: str) -> str:
        """An opaque tag of a value (e.g. the hash of an A/B pair) that does not reveal which side is which."""
        return hmac.new(self._secret, b"stamp:" + value.encode(), hashlib.sha256).hexdigest()[:24]

    def host_ok(self, host: str | None) -> bool:
        return host is not None and host.lower() in self.hosts

    def origin_ok(self, origin: str | None, fetch_site: str | None) -> bool:
        """A POST must come from this app's own pages: its Origin matches, and Sec-Fetch-Site agrees if sent."""
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return False
        if not origin:
            return False
        parts = urlsplit(origin)
        return f"{parts.scheme}://{parts.netloc}".lower() in self.origins and not parts.path.strip("/")

    def csrf_ok(self, session: str | None, submitted: str | None) -> bool:
        if not session or not submitted or self.reviewer(session) is None:
            return False
        return hmac.compare_digest(self.csrf(session).encode(), submitted.encode())
