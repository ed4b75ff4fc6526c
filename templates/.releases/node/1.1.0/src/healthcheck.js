'use strict';
// The image's HEALTHCHECK: exit 0 when GET /healthz answers 200.
const http = require('node:http');

const port = process.env.PORT || 8080;
const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});
