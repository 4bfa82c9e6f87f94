/**
 * Trying again after a pause: one attempt pending at a time, the pause doubling from `minMs` to
 * `maxMs` with each attempt scheduled, back to `minMs` once one succeeded. Its timer never holds
 * the process open. Used where the gateway keeps something up by itself (the session cache's
 * feed and lease, the leases' own listening to the feed).
 */
export class Backoff {
  private timer: NodeJS.Timeout | null = null;
  private delayMs: number;

  constructor(
    private readonly minMs = 100,
    private readonly maxMs = 5000,
  ) {
    this.delayMs = minMs;
  }

  /** Whether an attempt is waiting for its pause to end. */
  get pending(): boolean {
    return this.timer !== null;
  }

  /** Runs `attempt` after the current pause, unless one is pending already; the next pause is twice as long. */
  schedule(attempt: () => void): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      attempt();
    }, this.delayMs);
    this.timer.unref();
    this.delayMs = Math.min(this.delayMs * 2, this.maxMs);
  }

  /** An attempt succeeded: the next pause is the shortest again. */
  reset(): void {
    this.delayMs = this.minMs;
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
