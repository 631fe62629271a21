import type { Runtime, RuntimeSession, SessionOptions } from '../runtime.js';

/**
 * Sessions keyed by graph family: a graph is built and a session created once per key, then
 * reused for every step (shapes vary through symbolic dims, lengths through graph inputs).
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<RuntimeSession>>();

  constructor(
    private readonly runtime: Runtime,
    private readonly options: SessionOptions = {},
  ) {}

  get(key: string, build: () => Uint8Array): Promise<RuntimeSession> {
    let s = this.sessions.get(key);
    if (!s) {
      s = this.runtime.createSession(build(), this.options);
      this.sessions.set(key, s);
      // A failed creation must not poison the key.
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  get size(): number {
    return this.sessions.size;
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s).release()));
  }
}
