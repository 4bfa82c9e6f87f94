/**
 * The client's HTTP to the gateway: node:http(s) with one keep-alive agent, not `fetch`. On
 * Node 20, `fetch` (undici with web streams and an AbortSignal per request) cost the client
 * process about ten times the CPU per call; a cache miss should cost little more than the
 * gateway's own answer.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  /** The gateway's clock (its Date header), in epoch ms; whole seconds. */
  readonly serverNowMs: number;
}

export class GatewayHttp {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;

  constructor(endpoint: string, private readonly timeoutMs: number) {
    this.url = new URL(endpoint);
    const https = this.url.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.request = https ? httpsRequest : httpRequest;
  }

  /** POSTs a body, JSON unless `headers` names another content type; rejects only when no answer came (connection refused, reset, timeout). */
  post(json: string, headers: Record<string, string>): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = this.request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          path: this.url.pathname,
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', ...headers, 'content-length': Buffer.byteLength(json) },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              serverNowMs: Date.parse(res.headers.date ?? '') || Date.now(),
            }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(json);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
