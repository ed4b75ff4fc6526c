package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestRoutes(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	cases := []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok\n"},
		{"/", 200, "hello"},
		{"/metrics", 200, "app_requests_total "},
		{"/nope", 404, "not found"},
	}
	for _, c := range cases {
		code, body := get(t, srv, c.path)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("GET %s = %d %q, want %d containing %q", c.path, code, body, c.code, c.body)
		}
	}
}
