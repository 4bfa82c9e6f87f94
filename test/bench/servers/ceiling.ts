// Ceiling: what Node's HTTP alone does here — a constant JSON answer, no Redis.
import { createServer } from 'node:http';

const body = JSON.stringify({ ok: true });
createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1');
