'use strict';
// Unit tests: the Express app on a free port of 127.0.0.1, over real HTTP.
const test = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const { createApp } = require('../src/server');

let server;
let port;

test.before(async () => {
  server = createApp().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = server.address().port;
});

test.after(() => new Promise((resolve) => server.close(resolve)));

function get(path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve([res.statusCode, body, res.headers['content-type']]));
      })
      .on('error', reject);
  });
}

test('healthz answers 200', async () => {
  assert.deepStrictEqual((await get('/healthz')).slice(0, 2), [200, 'ok\n']);
});

test('root greets', async () => {
  const [code, body] = await get('/');
  assert.strictEqual(code, 200);
  assert.match(body, /hello/);
});

test('metrics count requests', async () => {
  const [code, body, type] = await get('/metrics');
  assert.strictEqual(code, 200);
  assert.match(type, /^text\/plain/);
  assert.match(body, /^app_requests_total [1-9]\d*$/m);
});

test('unknown paths are 404', async () => {
  assert.strictEqual((await get('/nope'))[0], 404);
});

test('the Express header is not sent', async () => {
  await new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
        res.resume();
        assert.strictEqual(res.headers['x-powered-by'], undefined);
        resolve();
      })
      .on('error', reject);
  });
});
