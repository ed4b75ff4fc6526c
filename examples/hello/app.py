"""A tiny HTTP service: `/` greets, `/healthz` answers 200. Standard library only."""

import os
from http.server import BaseHTTPRequestHandler, HTTPServer

GREETING = os.environ.get("GREETING", "hello from lbc")


def respond(path):
    if path == "/healthz":
        return 200, "ok\n"
    if path == "/":
        return 200, GREETING + "\n"
    return 404, "not found\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = respond(self.path)
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"listening on :{port}", flush=True)
    HTTPServer(("0.0.0.0", port), Handler).serve_forever()
