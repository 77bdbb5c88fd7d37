"""The review web app (Starlette): one answer at a time, rubric or blind A/B, for reviewers with an issued link,
behind CSRF and CSP."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from harness.errors import HarnessError
from harness.review.security import SECURITY_HEADERS, Guard, host_names
from harness.review.store import AB, CHOICES, RUBRIC, Comparison, Rating, ReviewStore, now, winner_of

HERE = Path(__file__).parent
STATIC = {"review.js": "text/javascript", "review.css": "text/css"}
MAX_FORM_BYTES = 64 * 1024
MAX_COMMENT = 4000
MAX_ITEM_DIGITS = 18  # item ids are SQLite rowids: below 2**63
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
NO_SESSION = "Open your personal review link (the organiser makes it with `harness review invite NAME`)."


def visible(text: object) -> str:
    """Text with bidirectional controls shown as <U+202E> and such: they cannot reorder what a reviewer reads."""
    return BIDI_CONTROLS.sub(lambda m: f"<U+{ord(m.group()):04X}>", str(text))


class Protect:
    """ASGI middleware: refuse unknown Host headers; add CSP and other security headers to every response."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if not self.guard.host_ok(headers.get(b"host", b"").decode("latin-1")):
            await _with_headers(Response("unknown Host header\n", 421, media_type="text/plain"))(scope, receive, send)
            return

        async def send_secure(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (key.encode(), value.encode()) for key, value in SECURITY_HEADERS.items()
                ]
            await send(message)

        await self.app(scope, receive, send_secure)


def _with_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


class ReviewApp:
    """Routes of the review app over one ReviewStore."""

    def __init__(self, store: ReviewStore, guard: Guard) -> None:
        self.store, self.guard = store, guard
        self._sampled_at = ""
        self._refresh()
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True
        )
        env.filters["visible"] = visible
        self.templates = env
        self.static = {name: (HERE / "static" / name).read_bytes() for name in STATIC}

    def _refresh(self) -> None:
        """Reload the review's settings when `harness review sample` ran again while the app was serving."""
        sampled_at = self.store.query("SELECT value FROM meta WHERE key = 'created_at'")[0][0]
        if sampled_at != self._sampled_at:
            self.meta = self.store.meta()
            self.has_ab = any(item.disagree for item in self.store.items())
            self._sampled_at = sampled_at

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/review/{mode}", self.show, methods=["GET"]),
            Route("/review/{mode}", self.submit, methods=["POST"]),
            Route("/static/{name}", self.asset, methods=["GET"]),
        ]

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(rubric_name=self.meta.rubric.name, **context)
        return HTMLResponse(html, status)

    def error(self, status: int, message: str) -> HTMLResponse:
        return self.page("error.html", status, message=message)

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found\n", 404, media_type="text/plain")
        return Response(self.static[name], media_type=STATIC[name])

    async def home(self, request: Request) -> Response:
        await run_in_threadpool(self._refresh)
        if "key" in request.query_params:
            reviewer = await run_in_threadpool(self.store.reviewer_by_secret, request.query_params["key"])
            if reviewer is None:
                return self.error(403, "This link is not valid, or it was revoked. Ask the organiser for yours.")
            response = RedirectResponse("/", 303)  # the secret leaves the address bar and the history
            response.set_cookie(
                self.guard.cookie, self.guard.open_session(reviewer), httponly=True, samesite="strict", path="/"
            )
            return response
        session, reviewer = await self._reviewer(request)
        if reviewer is None:
            return self.error(403, NO_SESSION)
        progress = {RUBRIC: await self._progress(reviewer, RUBRIC)}
        if self.has_ab:
            progress[AB] = await self._progress(reviewer, AB)
        return self.page("home.html", reviewer=reviewer, progress=progress, meta=self.meta)

    async def _reviewer(self, request: Request) -> tuple[str, str | None]:
        """The session cookie and its reviewer; None when there is no session or the reviewer was revoked."""
        session = request.cookies.get(self.guard.cookie, "")
        reviewer = self.guard.reviewer(session)
        if reviewer is not None and not await run_in_threadpool(self.store.is_active, reviewer):
            self.guard.close_sessions(reviewer)
            return session, None
        return session, reviewer

    async def show(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        await run_in_threadpool(self._refresh)
        session, reviewer = await self._reviewer(request)
        if reviewer is None:
            return self.error(403, NO_SESSION)
        if mode not in (RUBRIC, AB) or (mode == AB and not self.has_ab):
            return self.error(404, "No such review mode.")
        meta = self.meta
        item = await run_in_threadpool(self.store.next_item, reviewer, mode, meta.rubric.version, meta.min_reviews)
        progress = await self._progress(reviewer, mode)
        context: dict[str, Any] = {"reviewer": reviewer, "progress": progress, "mode": mode, "meta": meta}
        if item is None:
            return self.page("done.html", **context)
        context |= {"item": item, "csrf": self.guard.csrf(session)}
        if mode == RUBRIC:
            stamp = self.guard.stamp(f"{item.tuned_hash}:{meta.rubric.version}")
            return self.page("rubric.html", stamp=stamp, rubric=meta.rubric, **context)
        assert item.pair_hash is not None
        tuned_side = await run_in_threadpool(self.store.tuned_side, reviewer, item)
        answer_a, answer_b = item.sides(tuned_side)
        return self.page(
            "ab.html", stamp=self.guard.stamp(item.pair_hash), answer_a=answer_a, answer_b=answer_b, **context
        )

    async def submit(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        await run_in_threadpool(self._refresh)
        form, reviewer = await self._checked_form(request)
        if isinstance(form, Response):
            return form
        if mode not in (RUBRIC, AB):
            return self.error(404, "No such review mode.")
        item_field = form.get("item", "")
        if not (item_field.isascii() and item_field.isdecimal() and len(item_field) <= MAX_ITEM_DIGITS):
            return self.error(400, "Not saved: the form's item id is not a valid id. Go back to the start.")
        item = await run_in_threadpool(self.store.item, int(item_field))
        if item is None:
            return self.error(
                400, "That item is not in the review sample (was it sampled again?). Go back to the start."
            )
        comment = form.get("comment", "").strip()[:MAX_COMMENT]
        if mode == RUBRIC:
            if form.get("stamp") != self.guard.stamp(f"{item.tuned_hash}:{self.meta.rubric.version}"):
                return self.error(
                    409, "This answer or the rubric changed since the page was loaded; not saved. Reload."
                )
            try:
                scores = self.meta.rubric.check_scores(
                    {name: form.get(f"c_{name}", "") for name in self.meta.rubric.names}
                )
            except HarnessError as exc:
                return self.error(400, f"Not saved: {exc}")
            rating = Rating(
                item.eval_set, item.item_id, reviewer, now(), self.meta.rubric.version, item.tuned_hash, scores, comment
            )
            await run_in_threadpool(self.store.add_rating, rating)
        else:
            if item.pair_hash is None or form.get("stamp") != self.guard.stamp(item.pair_hash):
                return self.error(409, "These answers changed since the page was loaded; nothing was saved. Reload.")
            choice = form.get("choice", "")
            if choice not in CHOICES:
                return self.error(400, f"Not saved: choose one of {', '.join(CHOICES)}.")
            if await run_in_threadpool(self.store.rated_by, reviewer, item.eval_set, item.item_id):
                return self.error(
                    409, "Not saved: you rated this answer on its own, so your comparison of it would not be blind."
                )
            tuned_side = await run_in_threadpool(self.store.tuned_side, reviewer, item)
            comparison = Comparison(
                item.eval_set,
                item.item_id,
                reviewer,
                now(),
                item.pair_hash,
                choice,
                winner_of(choice, tuned_side),
                comment,
                tuned_side,
            )
            await run_in_threadpool(self.store.add_comparison, comparison)
        return RedirectResponse(f"/review/{mode}", 303)

    async def _checked_form(self, request: Request) -> tuple[dict[str, str] | Response, str]:
        """The posted form and the session's reviewer, after the Origin, session and CSRF checks; or the refusal
        to send back."""
        session, reviewer = await self._reviewer(request)
        if not self.guard.origin_ok(request.headers.get("origin"), request.headers.get("sec-fetch-site")):
            return self.error(403, "Refused: this form was not sent from the review page (Origin check)."), ""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return self.error(415, "Refused: expected a form submission."), ""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return self.error(413, "Refused: the form is too large."), ""
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return self.error(400, "Refused: the form could not be read."), ""
        form = {key: values[-1] for key, values in parsed.items()}
        if reviewer is None or not self.guard.csrf_ok(session, form.get("csrf")):
            return self.error(403, "Refused: the session or CSRF token is missing or wrong. Reload the page."), ""
        return form, reviewer

    async def _progress(self, reviewer: str, mode: str) -> dict[str, int]:
        meta = self.meta
        return await run_in_threadpool(self.store.progress, reviewer, mode, meta.rubric.version, meta.min_reviews)


def build_app(store: ReviewStore, guard: Guard) -> ASGIApp:
    """The ASGI app: routes wrapped in the Host check and security headers."""
    review = ReviewApp(store, guard)
    return Protect(Starlette(routes=review.routes()), guard)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 picks a free one), so the URL can be printed with the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HarnessError(f"cannot listen on {host}:{port} ({exc.strerror})", hint="pick another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def review_link(base_url: str, secret: str) -> str:
    """A reviewer's personal link: the app's address with their secret."""
    return f"{base_url.rstrip('/')}/?key={secret}"


def make_server(
    db: Path, host: str = "127.0.0.1", port: int = 8765, allow_hosts: tuple[str, ...] = ()
) -> tuple[Any, socket.socket, str]:
    """A uvicorn server for the review in `db`, its socket, and its base URL (reviewers add their secret)."""
    import uvicorn

    store = ReviewStore(db)
    store.meta()  # fail now, with the fix, when nothing was sampled
    sock = bind(host, port)
    port = sock.getsockname()[1]
    guard = Guard(host_names(host, port, allow_hosts), port)
    config = uvicorn.Config(
        build_app(store, guard), log_level="warning", access_log=False, server_header=False, lifespan="off"
    )
    shown = f"[{host}]" if ":" in host else host
    return uvicorn.Server(config), sock, f"http://{shown}:{port}"
