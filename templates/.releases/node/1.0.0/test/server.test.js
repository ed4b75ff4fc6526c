'use strict';
const test = require('node:test');
const assert = require('node:assert');
const http = require('node:http');

const { respond, createServer } = require('../src/server');

test('healthz answers 200', () => {
  assert.strictEqual(respond('/healthz')[0], 200);
});

test('root greets', () => {
  const [code, , body] = respond('/');
  assert.strictEqual(code, 200);
  assert.match(body, /hello/);
});

test('metrics count requests', () => {
  const [code, , body] = respond('/metrics');
  assert.strictEqual(code, 200);
  assert.match(body, /^app_requests_total \d+$/m);
});

test('unknown paths are 404', () => {
  assert.strictEqual(respond('/nope')[0], 404);
});

test('the server answers /healthz over HTTP', async () => {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address();
    const [status, body] = await new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
          let data = '';
          res.on('data', (chunk) => (data += chunk));
          res.on('end', () => resolve([res.statusCode, data]));
        })
        .on('error', reject);
    });
    assert.strictEqual(status, 200);
    assert.strictEqual(body, 'ok\n');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
