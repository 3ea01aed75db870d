/** A journal that announces durable LSNs when the test says so (what a ConsumerLoop listens to). */
export function fakeJournal() {
  const listeners = new Set<(lsn: number) => void>();
  return {
    onDurable(listener: (lsn: number) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    durable(lsn: number) {
      for (const listener of listeners) listener(lsn);
    },
    get listeners() {
      return listeners.size;
    },
  };
}
