"""The review web app (Starlette): one answer at a time, rubric or blind A/B, behind a token, CSRF and CSP."""

from __future__ import annotations

import socket
import unicodedata
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
from harness.review.security import SECURITY_HEADERS, SESSION_COOKIE, Guard, host_names
from harness.review.store import AB, CHOICES, RUBRIC, Comparison, Rating, ReviewStore, now

HERE = Path(__file__).parent
STATIC = {"review.js": "text/javascript", "review.css": "text/css"}
MAX_FORM_BYTES = 64 * 1024
MAX_NAME = 60
MAX_COMMENT = 4000


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
            Route("/reviewer", self.set_reviewer, methods=["POST"]),
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
        if "token" in request.query_params:
            if not self.guard.token_ok(request.query_params["token"]):
                return self.error(
                    403, "This link's token is not valid. Use the link printed by `harness review serve`."
                )
            response = RedirectResponse("/", 303)  # the token leaves the address bar and the history
            response.set_cookie(SESSION_COOKIE, self.guard.open_session(), httponly=True, samesite="strict")
            return response
        session = request.cookies.get(SESSION_COOKIE)
        reviewer = self.guard.reviewer(session)
        if reviewer is None:
            return self.error(403, "Open the link with the token that `harness review serve` printed.")
        assert session is not None
        if not reviewer or "change" in request.query_params:
            return self.page("name.html", csrf=self.guard.csrf(session), reviewer=reviewer)
        progress = {RUBRIC: await self._progress(reviewer, RUBRIC)}
        if self.has_ab:
            progress[AB] = await self._progress(reviewer, AB)
        return self.page("home.html", reviewer=reviewer, progress=progress, meta=self.meta)

    async def set_reviewer(self, request: Request) -> Response:
        form, session = await self._checked_form(request)
        if isinstance(form, Response):
            return form
        name = " ".join(unicodedata.normalize("NFC", form.get("reviewer", "")).split())
        if not name or len(name) > MAX_NAME or not all(ch.isprintable() for ch in name):
            return self.error(400, f"Give your name: 1 to {MAX_NAME} printable characters.")
        self.guard.set_reviewer(session, name)
        return RedirectResponse("/", 303)

    async def show(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        await run_in_threadpool(self._refresh)
        session = request.cookies.get(SESSION_COOKIE)
        reviewer = self.guard.reviewer(session)
        if reviewer is None:
            return self.error(403, "Open the link with the token that `harness review serve` printed.")
        if not reviewer:
            return RedirectResponse("/", 303)
        if mode not in (RUBRIC, AB) or (mode == AB and not self.has_ab):
            return self.error(404, "No such review mode.")
        assert session is not None
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
        answer_a, answer_b = item.sides()
        assert item.pair_hash is not None
        return self.page(
            "ab.html", stamp=self.guard.stamp(item.pair_hash), answer_a=answer_a, answer_b=answer_b, **context
        )

    async def submit(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        await run_in_threadpool(self._refresh)
        form, session = await self._checked_form(request)
        if isinstance(form, Response):
            return form
        reviewer = self.guard.reviewer(session)
        if not reviewer:
            return self.error(403, "Give your name before reviewing.")
        if mode not in (RUBRIC, AB):
            return self.error(404, "No such review mode.")
        try:
            item = await run_in_threadpool(self.store.item, int(form.get("item", "")))
        except ValueError:
            item = None
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
            comparison = Comparison(
                item.eval_set, item.item_id, reviewer, now(), item.pair_hash, choice, item.winner(choice), comment
            )
            await run_in_threadpool(self.store.add_comparison, comparison)
        return RedirectResponse(f"/review/{mode}", 303)

    async def _checked_form(self, request: Request) -> tuple[dict[str, str] | Response, str]:
        """The posted form, after the Origin, session and CSRF checks; or the refusal to send back."""
        session = request.cookies.get(SESSION_COOKIE, "")
        if not self.guard.origin_ok(request.headers.get("origin"), request.headers.get("sec-fetch-site")):
            return self.error(403, "Refused: this form was not sent from the review page (Origin check)."), session
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return self.error(415, "Refused: expected a form submission."), session
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return self.error(413, "Refused: the form is too large."), session
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return self.error(400, "Refused: the form could not be read."), session
        form = {key: values[-1] for key, values in parsed.items()}
        if not self.guard.csrf_ok(session, form.get("csrf")):
            return self.error(403, "Refused: the session or CSRF token is missing or wrong. Reload the page."), session
        return form, session

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


def make_server(
    db: Path, host: str = "127.0.0.1", port: int = 8765, token: str | None = None, allow_hosts: tuple[str, ...] = ()
) -> tuple[Any, socket.socket, str]:
    """A uvicorn server for the review in `db`, its socket, and the URL with the access token."""
    import uvicorn

    store = ReviewStore(db)
    store.meta()  # fail now, with the fix, when nothing was sampled
    sock = bind(host, port)
    port = sock.getsockname()[1]
    guard = Guard(host_names(host, port, allow_hosts), token)
    config = uvicorn.Config(
        build_app(store, guard), log_level="warning", access_log=False, server_header=False, lifespan="off"
    )
    shown = f"[{host}]" if ":" in host else host
    return uvicorn.Server(config), sock, f"http://{shown}:{port}/?token={guard.token}"
