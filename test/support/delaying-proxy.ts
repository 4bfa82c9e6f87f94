/**
 * A loopback TCP proxy that passes a client's bytes on at once and the server's answers only
 * after `delayMs`, in order: a slow server (a loaded machine's sentinel) without touching the
 * server or the client. Closed by `close()`, every connection with it.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface DelayingProxy {
  readonly port: number;
  close(): Promise<void>;
}

export async function startDelayingProxy(target: number, delayMs: number): Promise<DelayingProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk) => upstream.write(chunk));
    // Each chunk after delayMs: timers of one delay fire in the order they were set.
    // (Unref'd: a proxy closed, or a test done, waits on no reply still held back.)
    upstream.on('data', (chunk) => void setTimeout(() => client.writable && client.write(chunk), delayMs).unref());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => void setTimeout(() => client.destroy(), delayMs).unref());
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address === 'object' && address !== null) resolve(address.port);
      else reject(new Error('no port'));
    });
  });
  return {
    port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
