"""An instance metadata service on 127.0.0.1 for tests: IMDSv2 only (a token from PUT is
required on every GET; without it, 401), instance id, region, and a settable spot notice."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeImds:
    def __init__(self, instance_id: str = "i-0123456789abcdef0", region: str = "us-east-1") -> None:
        self.instance_id = instance_id
        self.region = region
        self.spot_action: dict[str, str] | None = None
        self.tokens: set[str] = set()
        self.rejected: list[str] = []  # paths asked for without a valid token
        self.token_requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeImds:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _answer(self, path: str) -> tuple[int, str]:
        if path == "/latest/meta-data/instance-id":
            return 200, self.instance_id
        if path == "/latest/meta-data/placement/region":
            return 200, self.region
        if path == "/latest/meta-data/spot/instance-action":
            return (200, json.dumps(self.spot_action)) if self.spot_action else (404, "Not Found")
        return 404, "Not Found"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                if self.path != "/latest/api/token" or not ttl or not 1 <= int(ttl) <= 21600:
                    self._send(400, "Bad Request")
                    return
                imds.token_requests += 1
                token = secrets.token_urlsafe(24)
                imds.tokens.add(token)
                self._send(200, token)

            def do_GET(self) -> None:
                if self.headers.get("X-aws-ec2-metadata-token") not in imds.tokens:
                    imds.rejected.append(self.path)
                    self._send(401, "Unauthorized")
                    return
                self._send(*imds._answer(self.path))

        return Handler
