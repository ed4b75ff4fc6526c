import threading
import unittest
import urllib.error
import urllib.request

import app


class RespondTest(unittest.TestCase):
    def test_health(self):
        self.assertEqual(app.respond("/healthz")[0], 200)

    def test_root_greets(self):
        code, _, body = app.respond("/")
        self.assertEqual(code, 200)
        self.assertIn("hello", body)

    def test_metrics(self):
        code, _, body = app.respond("/metrics")
        self.assertEqual(code, 200)
        self.assertIn("app_requests_total ", body)

    def test_unknown_path(self):
        self.assertEqual(app.respond("/nope")[0], 404)


class ServerTest(unittest.TestCase):
    """The real server on a free port."""

    def setUp(self):
        self.server = app.serve(0)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def get(self, path):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    def test_healthz_over_http(self):
        self.assertEqual(self.get("/healthz"), (200, "ok\n"))

    def test_not_found_over_http(self):
        self.assertEqual(self.get("/missing")[0], 404)


if __name__ == "__main__":
    unittest.main()
