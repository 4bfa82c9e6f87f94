// A loopback TCP proxy in a process of its own (so a test can SIGSTOP it: a connection frozen,
// not closed). `node proxy-process.cjs <target port> <max delay ms>`: it prints the port it
// listens on, then passes the client's bytes on at once and each of the server's chunks after a
// random delay of up to <max delay ms>, in order within a connection. Connections are delayed
// independently, so what the server sent on two of them can arrive the other way round: a
// subscriber's message after a reply the server sent later on another connection.
'use strict';
const net = require('node:net');
const [target, maxDelay] = process.argv.slice(2).map(Number);
const server = net.createServer((client) => {
  const upstream = net.connect(target, '127.0.0.1');
  let due = 0;
  for (const socket of [client, upstream]) socket.on('error', () => undefined);
  client.on('data', (chunk) => upstream.write(chunk));
  upstream.on('data', (chunk) => {
    due = Math.max(due, Date.now() + Math.random() * maxDelay);
    setTimeout(() => client.writable && client.write(chunk), due - Date.now());
  });
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => setTimeout(() => client.destroy(), Math.max(0, due - Date.now())));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
// A test that dies without stopping it (a killed jest worker) must not leave it running.
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.exit(0);
  }
}, 1000).unref();
