"""Who may use the review app: an access token, session cookies, CSRF tokens, Host and Origin allow-lists."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

SESSION_COOKIE = "harness_review"
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


def host_names(host: str, port: int, extra: Iterable[str] = ()) -> set[str]:
    """The Host header values the app answers to: the address it listens on (and localhost for loopback)."""
    names = {host, *extra}
    if host in ("127.0.0.1", "::1", "localhost"):
        names |= {"127.0.0.1", "localhost", "::1"}
    return {f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in names}


class Guard:
    """Issues and checks sessions and CSRF tokens; one per running server, with a fresh secret."""

    def __init__(self, hosts: set[str], token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.hosts = hosts
        self.origins = {f"http://{host}" for host in hosts}
        self._secret = secrets.token_bytes(32)
        self._sessions: dict[str, str] = {}  # session id -> reviewer name ("" until they give one)
        self._lock = threading.Lock()

    def token_ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token.encode())

    def open_session(self) -> str:
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = ""
        return session

    def reviewer(self, session: str | None) -> str | None:
        """The reviewer of a session: None for no valid session, "" before they gave their name."""
        if not session:
            return None
        with self._lock:
            return self._sessions.get(session)

    def set_reviewer(self, session: str, name: str) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions[session] = name

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
