/**
 * A readers-writer lock that prefers writers: shared holders run together, an exclusive holder runs alone.
 * Once a writer waits, new readers queue behind it, so a stream of ordinary requests cannot starve a transaction.
 */
export class ReadWriteLock {
  private readers = 0;
  private writing = false;
  private readonly queue: { exclusive: boolean; grant: () => void }[] = [];

  /** Resolves with the release function once shared access is granted. */
  shared(): Promise<() => void> {
    return this.acquire(false);
  }

  /** Resolves with the release function once no one else holds the lock. */
  exclusive(): Promise<() => void> {
    return this.acquire(true);
  }

  private acquire(exclusive: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.queue.push({ exclusive, grant: () => resolve(this.releaser(exclusive)) });
      this.dispatch();
    });
  }

  private releaser(exclusive: boolean): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (exclusive) this.writing = false;
      else this.readers -= 1;
      this.dispatch();
    };
  }

  /** Grants waiters in order: a run of readers together, a writer only when nothing is held. */
  private dispatch(): void {
    while (!this.writing && this.queue.length > 0) {
      const next = this.queue[0] as { exclusive: boolean; grant: () => void };
      if (next.exclusive && this.readers > 0) return;
      this.queue.shift();
      if (next.exclusive) this.writing = true;
      else this.readers += 1;
      next.grant();
    }
  }
}
