// HTTP/2 server or client for the kernel tests (Node's http2 module).
// Usage:
//   node node_http2.js server PORT [CERT KEY]
//     h2c (HTTP/2 with prior knowledge), or with a certificate and key HTTP/2 over TLS (ALPN h2).
//     Answers every request with 200 "hello from node http2". Prints "listening PORT" when ready.
//   node node_http2.js client URL N
//     Prints "ready", waits for a line on stdin, then makes N GET requests on one HTTP/2 session
//     (trusting any certificate), printing each status.
const http2 = require('http2');
const fs = require('fs');
const readline = require('readline');

if (process.argv[2] === 'server') {
  const port = parseInt(process.argv[3], 10);
  const handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello from node http2\n');
  };
  const server = process.argv.length > 5
    ? http2.createSecureServer({ cert: fs.readFileSync(process.argv[4]), key: fs.readFileSync(process.argv[5]) }, handler)
    : http2.createServer(handler);
  server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
} else if (process.argv[2] === 'client') {
  const url = process.argv[3];
  const count = parseInt(process.argv[4], 10);
  console.log('ready');
  readline.createInterface({ input: process.stdin }).once('line', async () => {
    const session = http2.connect(url, { rejectUnauthorized: false });
    for (let i = 0; i < count; i++) {
      const status = await new Promise((resolve, reject) => {
        const request = session.request({ ':path': `/hello/${i}` });
        let answered = 0;
        request.on('response', (headers) => { answered = headers[':status']; });
        request.on('data', () => {});
        request.on('end', () => resolve(answered));
        request.on('error', reject);
        request.end();
      });
      console.log(status);
    }
    session.close(() => process.exit(0));
  });
} else {
  console.error('usage: node_http2.js server PORT [CERT KEY] | client URL N');
  process.exit(2);
}
