'use strict';
// A tiny HTTP service: `/` greets, `/healthz` answers 200, `/metrics` counts requests.
// Node's standard library only, so the image builds without network access.

const http = require('node:http');

const GREETING = process.env.GREETING || 'hello from lbc';
let requests = 0;

/** Status code, content type and body for a GET of `path`. */
function respond(path) {
  requests += 1;
  switch (path) {
    case '/healthz':
      return [200, 'text/plain; charset=utf-8', 'ok\n'];
    case '/':
      return [200, 'text/plain; charset=utf-8', `${GREETING}\n`];
    case '/metrics':
      return [
        200,
        'text/plain; version=0.0.4',
        '# HELP app_requests_total HTTP requests served.\n' +
          '# TYPE app_requests_total counter\n' +
          `app_requests_total ${requests}\n`,
      ];
    default:
      return [404, 'text/plain; charset=utf-8', 'not found\n'];
  }
}

function createServer() {
  return http.createServer((req, res) => {
    const [code, type, body] = respond(new URL(req.url, 'http://localhost').pathname);
    res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    console.error(`${req.socket.remoteAddress} "${req.method} ${req.url}" ${code}`);
  });
}

module.exports = { respond, createServer };
