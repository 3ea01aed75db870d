import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ListenerError } from '../../src/core/errors.js';
import { loopOnFakeJournal } from '../helpers/fake-journal.js';
import type { ConsumerLoop } from '../../src/pipeline/consumer-loop.js';

/** A loop whose body records each wake-up and sleeps with `sleep` until stopped. */
function recordingLoop(sleep: (loop: ConsumerLoop) => Promise<void>, tickMs = 1000) {
  const rounds: number[] = [];
  const { journal, loop } = loopOnFakeJournal(
    async (l) => {
      while (l.running) {
        rounds.push(Date.now());
        await sleep(l);
      }
    },
    { tickMs },
  );
  return { journal, loop, rounds };
}

describe('ConsumerLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('start', () => {
    it('runs the body at once and marks the loop running', async () => {
      // Prepare
      const { loop, rounds } = recordingLoop((l) => l.sleep());

      // Act
      loop.start();
      await vi.advanceTimersByTimeAsync(0);

      // Assess
      expect(loop.running).toBe(true);
      expect(rounds).toEqual([0]);
      await loop.stop();
    });
  });

  describe('sleep', () => {
    it('ends when the journal makes a record durable', async () => {
      // Prepare
      const { journal, loop, rounds } = recordingLoop((l) => l.sleep());
      loop.start();
      await vi.advanceTimersByTimeAsync(10);

      // Act
      journal.durable(1);
      await vi.advanceTimersByTimeAsync(0);

      // Assess: a second round at once, not at the next tick.
      expect(rounds).toEqual([0, 10]);
      await loop.stop();
    });

    it('ends at the tick when nothing else happens', async () => {
      // Prepare
      const { loop, rounds } = recordingLoop((l) => l.sleep(), 250);
      loop.start();

      // Act
      await vi.advanceTimersByTimeAsync(600);

      // Assess
      expect(rounds).toEqual([0, 250, 500]);
      await loop.stop();
    });

    it('ends after the given time when one is given', async () => {
      // Prepare
      const { loop, rounds } = recordingLoop((l) => l.sleep(30), 10_000);
      loop.start();

      // Act
      await vi.advanceTimersByTimeAsync(100);

      // Assess
      expect(rounds).toEqual([0, 30, 60, 90]);
      await loop.stop();
    });
  });

  describe('pause', () => {
    it('is not ended by new records or ticks: a retry waits its back-off', async () => {
      // Prepare
      const { journal, loop, rounds } = recordingLoop((l) => l.pause(5000), 100);
      loop.start();
      await vi.advanceTimersByTimeAsync(1000);

      // Act
      journal.durable(1);
      await vi.advanceTimersByTimeAsync(3000);

      // Assess: still in the first pause after 4 s of ticks and a durable record.
      expect(rounds).toEqual([0]);
      await vi.advanceTimersByTimeAsync(1000);
      expect(rounds).toEqual([0, 5000]);
      await loop.stop();
    });

    it('returns at once once stopped', async () => {
      // Prepare
      const { loop } = recordingLoop((l) => l.sleep());
      loop.start();
      const stopped = loop.stop();

      // Act
      const paused = loop.pause(60_000).then(() => 'returned');

      // Assess
      await expect(paused).resolves.toBe('returned');
      await stopped;
    });
  });

  describe('stop', () => {
    it('ends a back-off pause at once and waits for the body to return', async () => {
      // Prepare
      const { journal, loop, rounds } = recordingLoop((l) => l.pause(60_000));
      loop.start();
      await vi.advanceTimersByTimeAsync(10);

      // Act
      await loop.stop();

      // Assess: stopped without waiting out the minute; timer and subscription gone.
      expect(Date.now()).toBe(10);
      expect(loop.running).toBe(false);
      expect(rounds).toEqual([0]);
      expect(journal.listeners).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('ends a sleep and lets the body finish its round', async () => {
      // Prepare
      const steps: string[] = [];
      const { loop } = loopOnFakeJournal(async (l) => {
        while (l.running) await l.sleep();
        steps.push('flushed');
      });
      loop.start();

      // Act
      await loop.stop();

      // Assess
      expect(steps).toEqual(['flushed']);
    });
  });

  describe('a body that throws', () => {
    it('is caught, coded and handed to onFailure; the loop stops and stop() still resolves', async () => {
      // Prepare: a cursor that cannot be saved, as a sink loop meets it.
      const failures: ListenerError[] = [];
      const { journal, loop } = loopOnFakeJournal(
        () => Promise.reject(Object.assign(new Error('EIO: i/o error, rename cursor'), { code: 'EIO' })),
        { onFailure: (error) => failures.push(error) },
      );

      // Act
      loop.start();
      await vi.advanceTimersByTimeAsync(0);

      // Assess
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ code: 'ERR_LOOP_FAILED', cause: { code: 'EIO' } });
      expect(loop.running).toBe(false);
      expect(loop.status.lastError).toMatchObject({ code: 'ERR_LOOP_FAILED', message: 'the archive loop failed' });
      await loop.stop();
      expect(journal.listeners).toBe(0);
    });

    it('keeps the code of a coded failure', async () => {
      // Prepare
      const failures: ListenerError[] = [];
      const { loop } = loopOnFakeJournal(
        () => Promise.reject(new ListenerError('ERR_JOURNAL_READ', 'segment unreadable')),
        {
          onFailure: (error) => failures.push(error),
        },
      );

      // Act
      loop.start();
      await vi.advanceTimersByTimeAsync(0);

      // Assess
      expect(failures.map((f) => f.code)).toEqual(['ERR_JOURNAL_READ']);
      await loop.stop();
    });

    it('waits out a spool that refused a write and runs the body again, as often as it takes', async () => {
      // Prepare: a body that fails twice for a full disk, then runs until stopped.
      const failures: ListenerError[] = [];
      const retries: Array<[string, number]> = [];
      let runs = 0;
      const { loop } = loopOnFakeJournal(
        async (l) => {
          runs++;
          if (runs <= 2) throw new ListenerError('ERR_JOURNAL_DISK_FULL', 'no space left on the spool');
          while (l.running) await l.sleep();
        },
        {
          retry: { initialMs: 100, maxMs: 100, floorMs: 100 },
          onFailure: (error) => failures.push(error),
          onRetry: (error, delayMs) => retries.push([error.code, delayMs]),
        },
      );

      // Act
      loop.start();
      await vi.advanceTimersByTimeAsync(0);
      const afterFirst = runs;
      await vi.advanceTimersByTimeAsync(250);

      // Assess: retried after each back-off, never reported as fatal, the cause shown meanwhile.
      expect(afterFirst).toBe(1);
      expect(runs).toBe(3);
      expect(retries).toEqual([
        ['ERR_JOURNAL_DISK_FULL', 100],
        ['ERR_JOURNAL_DISK_FULL', 100],
      ]);
      expect(failures).toEqual([]);
      expect(loop.status.lastError?.code).toBe('ERR_JOURNAL_DISK_FULL');
      expect(loop.running).toBe(true);
      await loop.stop();
    });
  });
});
