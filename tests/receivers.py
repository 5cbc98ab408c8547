"""Real receivers on 127.0.0.1 for the delivery tests: an aiosmtpd SMTP server and a scriptable HTTP server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port() -> int:
    """A port nothing listens on (yet): connecting to it is refused until a receiver binds it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_packet(**changes: Any) -> dict[str, Any]:
    """A realistic kb.handoff.v1 packet; customer-typed fields hold markup to prove it is escaped."""
    packet: dict[str, Any] = {
        "schema": "kb.handoff.v1",
        "event": "ticket.created",
        "reference": "T-8F3K2Q",
        "created_at": "2026-11-24T05:40:00+00:00",
        "status": "open",
        "reason": "low_confidence",
        "customer": {"email": "ada@example.com", "name": "Ada Lovelace", "user_id": None, "verified": False},
        "subject": "My certificate <b>never</b> arrived",
        "note": "I finished the course yesterday.\nPlease hurry, it's for a job application.",
        "page_url": "https://help.example.com/articles/download-your-certificate",
        "confidence": 0.31,
        "articles_suggested": [
            {"slug": "download-your-certificate", "title": "Download your certificate",
             "url": "http://host/articles/download-your-certificate", "score": 0.41, "feedback": "down"},
            {"slug": "course-completion", "title": "When a course counts as complete",
             "url": "http://host/articles/course-completion", "score": 0.33, "feedback": None},
        ],
        "transcript": [
            {"role": "user", "text": "My certificate <b>never</b> arrived", "ts": "2026-11-24T05:39:12.000+00:00",
             "page_url": "https://help.example.com/articles/download-your-certificate", "type": None, "articles": []},
            {"role": "bot", "text": "I'm not sure. These might help:", "ts": "2026-11-24T05:39:13.000+00:00",
             "page_url": None, "type": "handoff",
             "articles": [{"slug": "download-your-certificate", "score": 0.41}, {"slug": "course-completion", "score": 0.33}]},
            {"role": "system", "text": "Ticket T-8F3K2Q created", "ts": "2026-11-24T05:40:00.000+00:00",
             "page_url": None, "type": "handoff", "articles": []},
        ],
        "admin_url": "http://host/admin/tickets/T-8F3K2Q",
    }
    packet.update(changes)
    return packet


class SmtpInbox:
    """An aiosmtpd server that keeps every message; ``reply`` scripts an answer such as ``"451 try later"``."""

    def __init__(self, port: int | None = None, *, login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.reply = "250 OK"
        self._login = login
        auth: dict[str, Any] = {}
        if login:
            auth = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="localhost", **auth
        )

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == self._login
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.reply.startswith("250"):
            return self.reply
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def __enter__(self) -> SmtpInbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


class WebhookReceiver:
    """A threaded HTTP server that records each request and answers from a script of responses.

    A response is a status code, or ``"hang"``: wait (up to 5 s, or until the test ends) without answering.
    After the script runs out it answers 200.
    """

    def __init__(self, port: int | None = None, responses: Iterable[int | str] = ()) -> None:
        self.port = port or free_port()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.responses = list(responses)
        self.headers: dict[str, str] = {}
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tickets"

    def _next(self) -> int | str:
        with self._lock:
            return self.responses.pop(0) if self.responses else 200

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                answer = receiver._next()
                if answer == "hang":
                    receiver._release.wait(5)
                    return
                self.send_response(int(answer))
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # server_close() joins the handler threads: nothing outlives the test

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and hung up is expected here

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
