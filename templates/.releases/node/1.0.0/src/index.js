'use strict';
const { createServer } = require('./server');

const port = Number(process.env.PORT || 8080);
const server = createServer();
server.listen(port, '0.0.0.0', () => console.log(`listening on :${port}`));

// Stop cleanly on `docker stop` and Kubernetes' SIGTERM.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
