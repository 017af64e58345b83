"""Provides HostileEndpoint: an OpenAI-compatible address that misbehaves in one chosen way."""

from __future__ import annotations

import json
import socket
import threading

OK_REPLY = "今天天气很好，我们去河边走走吧。"


class HostileEndpoint:
    """A loopback TCP server speaking just enough HTTP to misbehave on purpose.

    Modes (``mode`` attribute, changeable between requests):

    - ``ok``: a valid chat completion;
    - ``hang``: read the request, never answer;
    - ``drip``: headers, then one byte of a valid body every ``drip_seconds``;
    - ``reset``: close the connection without a word;
    - ``truncated``: announce 1000 bytes, send 20, close;
    - ``garbage``: 200 with random-looking bytes that quote the request's Authorization header;
    - ``echo401`` / ``echo500``: an error whose JSON message quotes the Authorization header;
    - ``nested``: 200 with JSON nested 100,000 levels deep;
    - ``schema``: 200 with JSON of the wrong shape (``{"choices": 5}``);
    - ``huge``: 200 with a 30 MB body that is not JSON.
    """

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.drip_seconds = 0.3
        self.requests = 0
        self.headers_seen: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                head, body = self._read_request(conn)
            except OSError:
                return
            self.requests += 1
            auth = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in head.split("\r\n")
                    if line.lower().startswith("authorization:")
                ),
                "",
            )
            self.headers_seen.append(auth)
            try:
                self._answer(conn, self.mode, auth)
            except OSError:
                pass

    @staticmethod
    def _read_request(conn: socket.socket) -> tuple[str, bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                raise OSError("closed")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        text = head.decode("latin-1")
        length = next(
            (
                int(line.split(":", 1)[1])
                for line in text.split("\r\n")
                if line.lower().startswith("content-length:")
            ),
            0,
        )
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return text, body

    @staticmethod
    def _response(status: str, payload: bytes, length: int | None = None) -> bytes:
        size = len(payload) if length is None else length
        return (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + payload

    def _answer(self, conn: socket.socket, mode: str, auth: str) -> None:
        ok = json.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": OK_REPLY},
                    }
                ],
            },
            ensure_ascii=False,
        ).encode()
        if mode == "ok":
            conn.sendall(self._response("200 OK", ok))
        elif mode == "hang":
            self.stopped.wait(120)
        elif mode == "drip":
            conn.sendall(self._response("200 OK", b"", length=len(ok)))
            for byte in ok:
                if self.stopped.wait(self.drip_seconds):
                    return
                conn.sendall(bytes([byte]))
        elif mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        elif mode == "truncated":
            conn.sendall(self._response("200 OK", ok[:20], length=1000))
        elif mode == "garbage":
            conn.sendall(
                self._response(
                    "200 OK", b"\x89PNG\x00\xff" + f"echo: {auth}".encode() + b"\x00" * 64
                )
            )
        elif mode in ("echo401", "echo500"):
            status = "401 Unauthorized" if mode == "echo401" else "500 Internal Server Error"
            body = json.dumps(
                {"error": {"message": f"rejected credentials {auth!r} for this model"}}
            ).encode()
            conn.sendall(self._response(status, body))
        elif mode == "nested":
            conn.sendall(
                self._response("200 OK", b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
            )
        elif mode == "schema":
            conn.sendall(
                self._response("200 OK", b'{"choices": 5, "note": "' + auth.encode() + b'"}')
            )
        elif mode == "huge":
            conn.sendall(self._response("200 OK", b"x" * (30 * 2**20)))
        else:
            raise ValueError(mode)
