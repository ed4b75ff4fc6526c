"""A tiny HTTP service: `/` greets, `/healthz` answers 200, `/metrics` counts requests.

Standard library only, so the image builds without network access.
"""

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GREETING = os.environ.get("GREETING", "hello from lbc")

_lock = threading.Lock()
_requests = 0


def respond(path):
    """Status code, content type and body for a GET of `path`."""
    global _requests
    with _lock:
        _requests += 1
        count = _requests
    if path == "/healthz":
        return 200, "text/plain; charset=utf-8", "ok\n"
    if path == "/":
        return 200, "text/plain; charset=utf-8", GREETING + "\n"
    if path == "/metrics":
        body = (
            "# HELP app_requests_total HTTP requests served.\n"
            "# TYPE app_requests_total counter\n"
            f"app_requests_total {count}\n"
        )
        return 200, "text/plain; version=0.0.4", body
    return 404, "text/plain; charset=utf-8", "not found\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        code, content_type, body = respond(self.path)
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def serve(port):
    return ThreadingHTTPServer(("0.0.0.0", port), Handler)


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = serve(port)
    print(f"listening on :{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
