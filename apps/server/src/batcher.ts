/**
 * Dynamic batching: requests queue up while a batch runs; the next batch takes the oldest
 * request and the compatible ones after it (same explicit configuration, or none) up to
 * `maxBatch` inputs. A lone request waits at most `maxWaitMs` for company. One batch runs at a
 * time per worker: the model already uses every thread it was given.
 */

export interface QueuedJob {
  /** Inputs this request adds to a batch. */
  readonly inputs: number;
  /** Requests batch only with others of the same key ('auto': the controller picks). */
  readonly key: string;
  /** performance.now() when it arrived. */
  readonly arrival: number;
  /** performance.now() after which it is no use to the client (its deadlineMs). */
  readonly expiresAt?: number;
  /** Called instead of running it when it expired in the queue. */
  expire(): void;
}

/** What is left in the queue when a batch starts. */
export interface Behind {
  inputs: number;
  oldestArrival: number | undefined;
}

export interface BatcherOptions<J extends QueuedJob> {
  maxBatch: number;
  maxWaitMs: number;
  /** Most inputs waiting; `submit` refuses beyond it. */
  maxQueuedInputs: number;
  execute(batch: J[], behind: Behind): Promise<void>;
}

export class Batcher<J extends QueuedJob> {
  private queue: J[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private queued = 0;
  private draining = false;

  constructor(private readonly o: BatcherOptions<J>) {}

  /** Inputs waiting (not counting the batch running). */
  get queuedInputs(): number {
    return this.queued;
  }

  get busy(): boolean {
    return this.running || this.queue.length > 0;
  }

  /** Queues a request; false when the queue is full (the caller answers 429). */
  submit(job: J): boolean {
    if (this.queued > 0 && this.queued + job.inputs > this.o.maxQueuedInputs) return false;
    this.queue.push(job);
    this.queued += job.inputs;
    this.schedule();
    return true;
  }

  /** Takes a request out of the queue (its client left); false when it already started. */
  cancel(job: J): boolean {
    const i = this.queue.indexOf(job);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    this.queued -= job.inputs;
    this.settle();
    return true;
  }

  /** From now on batches run as soon as the model is free, without waiting to fill (shutdown). */
  drain(): void {
    this.draining = true;
    this.schedule();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule() {
    if (this.running) return;
    this.dropExpired();
    const head = this.queue[0];
    if (!head) return this.settle();
    const batch: J[] = [];
    let inputs = 0;
    for (const job of this.queue) {
      if (job.key !== head.key) continue;
      if (batch.length > 0 && inputs + job.inputs > this.o.maxBatch) break;
      batch.push(job);
      inputs += job.inputs;
    }
    const waited = performance.now() - head.arrival;
    // A request with a deadline waits for company at most a quarter of it.
    const patience =
      head.expiresAt === undefined
        ? this.o.maxWaitMs
        : Math.min(this.o.maxWaitMs, (head.expiresAt - head.arrival) / 4);
    if (inputs < this.o.maxBatch && waited < patience && !this.draining) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, patience - waited);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const taken = new Set(batch);
    this.queue = this.queue.filter((j) => !taken.has(j));
    this.queued -= inputs;
    this.running = true;
    const behind: Behind = { inputs: this.queued, oldestArrival: this.queue[0]?.arrival };
    this.o
      .execute(batch, behind)
      .catch(() => {}) // execute answers every job itself, errors included
      .finally(() => {
        this.running = false;
        this.schedule();
      });
  }

  private dropExpired() {
    const now = performance.now();
    const expired = this.queue.filter((j) => j.expiresAt !== undefined && j.expiresAt < now);
    if (expired.length === 0) return;
    this.queue = this.queue.filter((j) => !expired.includes(j));
    for (const j of expired) {
      this.queued -= j.inputs;
      j.expire();
    }
  }

  private settle() {
    if (this.busy) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
