// Peer: what a Node user would pick instead — express + express-session + connect-redis (with
// its own client, node-redis), reading an existing session by its signed cookie and answering
// its user. Defaults as the packages document them (resave off, saveUninitialized off).
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';

declare module 'express-session' {
  interface SessionData {
    user?: unknown;
  }
}

async function main(): Promise<void> {
  const client = createClient({ url: String(process.env.REDIS_URL) });
  await client.connect();
  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      store: new RedisStore({ client, prefix: 'sess:' }),
      secret: String(process.env.PEER_SECRET),
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3600_000 },
    }),
  );
  app.get('/session', (request, response) => {
    response.json(request.session.user ?? null);
  });
  app.listen(Number(process.env.PORT), '127.0.0.1');
}

void main();
