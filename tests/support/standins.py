"""Stand-ins for what cannot run here, on 127.0.0.1: a Slack incoming webhook and an SMTP server."""

import email
import email.policy
import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Slack(BaseHTTPRequestHandler):
    status = 200
    received: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"ok" if self.status == 200 else b"server error")

    def log_message(self, *args) -> None:
        pass


def serve_slack(status: int, path: str = "/hooks/T000") -> Iterator[tuple[str, list[dict]]]:
    """A webhook answering `status` to every post: its URL, and the JSON bodies it received."""
    handler = type("Handler", (Slack,), {"status": status, "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{path}", handler.received
    server.shutdown()
    server.server_close()


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for Django's backend without TLS or login: every message is accepted."""

    def handle(self) -> None:
        self.wfile.write(b"220 stand-in\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 end with a dot\r\n")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                self.server.received.append(_readable(b"".join(lines)))  # type: ignore[attr-defined]
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def _readable(raw: bytes) -> str:
    """The message as a person reads it: headers and every part decoded (base64, quoted-printable)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [str(value) for value in message.values()]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if payload:
            parts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(parts)


@contextmanager
def smtp() -> Iterator[tuple[int, list[str]]]:
    """An SMTP server on a free port: the port, and each message received, decoded."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.daemon_threads = True
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
