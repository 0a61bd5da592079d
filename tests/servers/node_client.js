// Test HTTP client for the kernel tests: waits for a line on stdin, then requests each path.
// Usage: node node_client.js BASE_URL MODE PATH...
// MODE: fetch (keep-alive), request (http.request, keep-alive agent) or request-fresh
// (http.request, a new connection per request). Prints "ready" first, then per request
// "STATUS START_NS END_NS" (process.hrtime: CLOCK_MONOTONIC).
const http = require('http');
const [base, mode, ...paths] = process.argv.slice(2);

function viaRequest(url, agent) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

async function main() {
  const agent = mode === 'request' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  for (const path of paths) {
    const start = process.hrtime.bigint();
    let status;
    if (mode === 'fetch') {
      const res = await fetch(base + path);
      await res.arrayBuffer();
      status = res.status;
    } else {
      status = await viaRequest(base + path, agent);
    }
    console.log(`${status} ${start} ${process.hrtime.bigint()}`);
  }
  if (agent) agent.destroy();
}

console.log('ready');
process.stdin.once('data', () => {
  process.stdin.destroy();
  main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
});
