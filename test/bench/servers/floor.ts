// Floor: one ioredis GET per request, the session's user JSON keyed by the presented id. The
// practical limit of Node + Redis on this machine; the gateway does this plus its own work.
import { createServer } from 'node:http';
import Redis from 'ioredis';

const redis = new Redis(String(process.env.REDIS_URL), { enableAutoPipelining: true });
createServer((request, response) => {
  const id = request.headers['x-session-id'];
  redis.getBuffer(`floor:${String(id)}`).then(
    (value) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(value ?? '');
    },
    () => {
      response.writeHead(503);
      response.end();
    },
  );
}).listen(Number(process.env.PORT), '127.0.0.1');
