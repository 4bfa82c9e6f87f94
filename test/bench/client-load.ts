/**
 * The "client" row's load: a backend module reading sessions through `session-gateway/client`
 * with its near cache, as fast as 50 concurrent callers can. Run pinned to the load core, like
 * wrk. Every read is a random one of the seeded sessions. Prints one line:
 * `BENCH_RESULT {"reads","durationUs","hits","misses","bypassed","errors","p50Us","p99Us"}`.
 *
 * Environment: BENCH_URL (gateway base URL), BENCH_TOKEN, BENCH_IDS (one ID per line),
 * BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS (concurrent callers).
 */
import { readFileSync } from 'node:fs';
import { SessionClient } from '../../src/client';

const SAMPLE_EVERY = 64;

async function main(): Promise<void> {
  const ids = readFileSync(String(process.env.BENCH_IDS), 'utf8').split('\n').filter(Boolean);
  const callers = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const client = new SessionClient({ url: String(process.env.BENCH_URL), token: String(process.env.BENCH_TOKEN) });
  const deadline = Date.now() + 10_000;
  while (!client.caching) {
    if (Date.now() > deadline) throw new Error('the event stream did not come up');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  let stop = false;
  let reads = 0;
  let errors = 0;
  let mismatches = 0;
  let checked = 0;
  const samples: number[] = [];
  const caller = async (): Promise<void> => {
    while (!stop) {
      const n = Math.floor(Math.random() * ids.length);
      const id = ids[n] as string;
      const sampled = reads % SAMPLE_EVERY === 0;
      const startedAt = sampled ? performance.now() : 0;
      try {
        const session = await client.get(id);
        checked++;
        if (session === null) errors++;
        // Seeded in order: session n's user has id 100000 + n.
        else if (session.id !== id || (session.attributes.user as { id?: unknown } | undefined)?.id !== 100000 + n) mismatches++;
      } catch {
        errors++;
      }
      if (sampled) samples.push(performance.now() - startedAt);
      reads++;
    }
  };
  const run = async (seconds: number): Promise<void> => {
    stop = false;
    const running = Array.from({ length: callers }, caller);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    stop = true;
    await Promise.all(running);
  };

  await run(Number(process.env.BENCH_WARMUP_SECONDS ?? 2));
  reads = 0;
  errors = 0;
  samples.length = 0; // checked and mismatches are kept: the warm-up is checked too
  const before = { ...client.stats };
  const startedAt = performance.now();
  await run(Number(process.env.BENCH_SECONDS ?? 10));
  const durationUs = (performance.now() - startedAt) * 1000;
  samples.sort((x, y) => x - y);
  const at = (q: number): number => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0) * 1000;
  const result = {
    reads,
    durationUs,
    hits: client.stats.hits - before.hits,
    misses: client.stats.misses - before.misses,
    bypassed: client.stats.bypassed - before.bypassed,
    errors,
    checked,
    mismatches,
    p50Us: at(0.5),
    p99Us: at(0.99),
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
  await client.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
