/**
 * Loopback ports for the servers the tests start as child processes, without the race of "pick a
 * free port, close it, hope nobody takes it before the child binds it".
 *
 * A port picked by `freePort` can be taken before the child binds it (another test's server, or
 * any outgoing connection's ephemeral port). So a child is started on a picked port, and if it
 * fails with "address in use" it is started again on another one (`onFreePort`). And a child is
 * taken as started only when the child itself holds the listening socket (`listensOn`, from
 * /proc): a probe that merely connects could reach whoever else holds the port.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port the kernel had free a moment ago. Not reserved: start children with `onFreePort`. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A child could not bind its port: someone else holds it. */
export class AddressInUse extends Error {
  constructor(readonly port: number, detail: string) {
    super(`port ${port} is in use: ${detail}`);
  }
}

/** Starts something on a free port; picks another port for as long as the one tried is taken. */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 20): Promise<T> {
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (error) {
      if (!(error instanceof AddressInUse)) throw error;
      last = error;
    }
  }
  throw new Error(`no free port in ${attempts} attempts`, { cause: last });
}

/** Whether the process `pid` holds a listening TCP socket on the loopback `port`. */
export function listensOn(pid: number, port: number): boolean {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // gone
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match !== null && inodes.has(match[1] as string)) return true;
  }
  return false;
}

/** The rows of /proc/net/tcp and tcp6 whose local port is `port`, split into their fields. */
function socketRows(port: number): string[][] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const rows: string[][] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = row.trim().split(/\s+/);
      if (fields.length >= 10 && fields[1]?.endsWith(`:${hexPort}`)) rows.push(fields);
    }
  }
  return rows;
}

/** Inodes of the sockets listening on `port` (any address). */
function listeningInodes(port: number): Set<string> {
  return new Set(socketRows(port).filter((fields) => fields[3] === '0A').map((fields) => fields[9] as string));
}

/**
 * Bytes waiting unread in the sockets on the loopback `port` (its listening socket's backlog
 * counts connections not yet accepted): how a test sees that a request reached a frozen server.
 */
export function unreadOn(port: number): number {
  return socketRows(port).reduce((unread, fields) => unread + parseInt(fields[4]?.split(':')[1] ?? '0', 16), 0);
}
