"""Unit tests: the routes through Flask's test client, and the real WSGI server on a free port."""

import threading
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server

import app


@pytest.fixture
def client():
    return app.app.test_client()


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"


def test_root_greets(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "hello" in response.get_data(as_text=True)


def test_metrics_count_requests(client):
    client.get("/")
    body = client.get("/metrics").get_data(as_text=True)
    assert "app_requests_total " in body
    count = int(body.rsplit(" ", 1)[1])
    assert count >= 2


def test_unknown_path(client):
    assert client.get("/nope").status_code == 404


@pytest.fixture
def server():
    srv = make_server("127.0.0.1", 0, app.app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_healthz_over_http(server):
    assert get(server + "/healthz") == (200, "ok\n")


def test_not_found_over_http(server):
    assert get(server + "/missing")[0] == 404
