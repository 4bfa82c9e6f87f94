/**
 * How a Sentinel-backed connection follows a failover: ioredis's Sentinel connector (it asks the
 * sentinels for the primary on every connect), with its failover detector replaced by one that
 * cannot end the connection.
 *
 * ioredis's own detector (`failoverDetector: true`) answers a `+switch-master` by calling the
 * connector's `disconnect()`, the call a client makes to close for good. Heard while the
 * connection is reconnecting and the connector is asking a sentinel for the primary (the primary
 * was killed; the sentinels elected a new one meanwhile), it makes that connect attempt fail as
 * closed, and the connection ends: it never reconnects, and every command fails from then on.
 * Slow sentinel answers (a loaded machine) make that window wide; the failover tests met it in CI.
 *
 * Here a `+switch-master` naming another address than the one this connection's socket is for
 * destroys that socket, nothing else: the connection sees its socket close and reconnects as
 * after any other drop (its retry strategy, then the sentinels asked anew), whatever it was doing
 * when the message came. The watch listens on every configured sentinel, is started for each
 * socket the connector opens, and is closed with the connection.
 */
import Redis, { SentinelConnector, type SentinelConnectionOptions } from 'ioredis';

type Options = SentinelConnectionOptions & { readonly name: string };
type Stream = Awaited<ReturnType<SentinelConnector['connect']>>;

const SWITCH_MASTER = '+switch-master';

export class FailoverFollowingSentinelConnector extends SentinelConnector {
  private watch: SwitchWatch | null = null;
  private readonly watchOptions: Options;

  /** `options`: the connection's own (ioredis hands a `Connector` every option it was given). */
  constructor(options: unknown) {
    super({ ...(options as Options), failoverDetector: false });
    this.watchOptions = options as Options;
  }

  override async connect(...args: Parameters<SentinelConnector['connect']>): Promise<Stream> {
    const stream = await super.connect(...args);
    this.watch?.close();
    this.watch = new SwitchWatch(this.watchOptions, stream);
    return stream;
  }

  override disconnect(): void {
    this.watch?.close();
    this.watch = null;
    super.disconnect();
  }
}

/** Destroys `stream` when the sentinels announce that the primary moved elsewhere. */
class SwitchWatch {
  private readonly clients: Redis[];
  private closed = false;

  constructor(
    private readonly options: Options,
    private readonly stream: Stream,
  ) {
    this.clients = (options.sentinels ?? []).map((sentinel) => {
      const client = new Redis({
        host: sentinel.host ?? '127.0.0.1',
        port: sentinel.port ?? 26379,
        ...(options.sentinelUsername === undefined ? {} : { username: options.sentinelUsername }),
        ...(options.sentinelPassword === undefined ? {} : { password: options.sentinelPassword }),
        ...(options.sentinelTLS === undefined ? {} : { tls: options.sentinelTLS }),
        ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }),
        enableReadyCheck: false,
        // As ioredis's own detector reconnects to the sentinels (a sentinel down, then back).
        ...(options.sentinelReconnectStrategy === undefined ? {} : { retryStrategy: options.sentinelReconnectStrategy }),
      });
      client.on('error', () => undefined); // a sentinel down: the others still tell
      client.on('message', (channel: string, message: string) => {
        if (channel === SWITCH_MASTER) this.switched(message);
      });
      client.subscribe(SWITCH_MASTER).catch(() => undefined);
      return client;
    });
    stream.once('close', () => this.close());
  }

  /** `<name> <old ip> <old port> <new ip> <new port>`, from each sentinel that switched. */
  private switched(message: string): void {
    const [name, , , host, port] = message.split(' ');
    if (this.closed || name !== this.options.name || port === undefined) return;
    if (this.stream.remotePort === Number(port) && this.stream.remoteAddress === host) return; // already there
    this.close();
    this.stream.destroy();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.clients) client.disconnect();
  }
}
