import unittest

import app


class RespondTest(unittest.TestCase):
    def test_health(self):
        self.assertEqual(app.respond("/healthz"), (200, "ok\n"))

    def test_root_greets(self):
        code, body = app.respond("/")
        self.assertEqual(code, 200)
        self.assertIn("hello", body)

    def test_unknown_path(self):
        self.assertEqual(app.respond("/nope")[0], 404)


if __name__ == "__main__":
    unittest.main()
