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
    const delay = path.startsWith('/slow/') ? parseInt(path.split('/')[2], 10) : 0;
    req.on('end', () => setTimeout(() => send(200, `${n}\n`), delay));
  } else if (path.startsWith('/hello')) {
    send(200, 'hello from node\n');
  } else if (path.startsWith('/status/')) {
    send(parseInt(path.split('/')[2], 10), 'status\n');
  } else if (path.startsWith('/big/')) {
    send(200, 'x'.repeat(parseInt(path.split('/')[2], 10)));
  } else if (path.startsWith('/slow/')) {
    setTimeout(() => send(200, 'slow\n'), parseInt(path.split('/')[2], 10));
  } else if (path.startsWith('/chunked/')) {
    // no length: chunked; the second chunk and the last one go in one writev (res.end corks)
    const n = parseInt(path.split('/')[2], 10);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('c'.repeat(Math.floor(n / 2)));
    res.end('c'.repeat(n - Math.floor(n / 2)));
  } else if (path.startsWith('/trailers/')) {
    // chunked, then the last chunk with a trailer field
    const n = parseInt(path.split('/')[2], 10);
    res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Checksum' });
    res.write('t'.repeat(n));
    res.addTrailers({ 'X-Checksum': 'abc123' });
    res.end();
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
// GET /ws: 101, then echoes WebSocket frames (a minimal one: payloads under 126 bytes)
server.on('upgrade', (req, socket) => {
  if (req.url !== '/ws') {
    socket.destroy();
    return;
  }
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      const masked = (pending[1] & 0x80) !== 0;
      const length = pending[1] & 0x7f;
      const start = 2 + (masked ? 4 : 0);
      if (pending.length < start + length) return;
      const payload = Buffer.from(pending.subarray(start, start + length));
      for (let i = 0; masked && i < length; i++) payload[i] ^= pending[2 + (i % 4)];
      const opcode = pending[0] & 0x0f;
      pending = pending.subarray(start + length);
      if (opcode === 8) {
        socket.end(Buffer.from([0x88, 0]));
        return;
      }
      socket.write(Buffer.concat([Buffer.from([0x81, length]), payload]));
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
