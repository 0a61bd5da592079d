// Test HTTP/1.1 server for the kernel tests: same routes as python_server.py.
// Usage: node node_server.js PORT [CERT KEY]; with a certificate and key it serves HTTPS.
// Prints "listening PORT" when ready.
const http = require('http');
const https = require('https');
const fs = require('fs');
const port = parseInt(process.argv[2], 10);
const handler = (req, res) => {
  const path = req.url.split('?')[0];
  const send = (status, body) => {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (req.method === 'POST') {
    let n = 0;
    req.on('data', (chunk) => { n += chunk.length; });
    req.on('end', () => send(200, `${n}\n`));
  } else if (path.startsWith('/hello')) {
    send(200, 'hello from node\n');
  } else if (path.startsWith('/status/')) {
    send(parseInt(path.split('/')[2], 10), 'status\n');
  } else if (path.startsWith('/big/')) {
    send(200, 'x'.repeat(parseInt(path.split('/')[2], 10)));
  } else if (path.startsWith('/slow/')) {
    setTimeout(() => send(200, 'slow\n'), parseInt(path.split('/')[2], 10));
  } else if (path.startsWith('/drop/')) {
    req.socket.destroy();
  } else {
    send(404, 'not found\n');
  }
};
const server = process.argv.length > 4
  ? https.createServer({ cert: fs.readFileSync(process.argv[3]), key: fs.readFileSync(process.argv[4]) }, handler)
  : http.createServer(handler);
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
