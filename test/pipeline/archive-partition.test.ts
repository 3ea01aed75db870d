import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hourKeyOf, LinePartitioner } from '../../src/pipeline/archive-partition.js';
import { makeRecord } from '../helpers/records.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const now = () => Date.parse('2026-11-23T22:30:00Z');

/** A record line as the journal holds it. */
const lineOf = (times: { transact_time?: string | null; sending_time?: string | null; received_at?: string }) =>
  Buffer.from(JSON.stringify(makeRecord(1, times)));

describe('LinePartitioner', () => {
  describe('hourOf', () => {
    it('files a line under the hour of its TransactTime, as Date reads it, at any precision', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: Date.parse('1900-01-01T00:00:00Z'), max: Date.parse('2200-12-31T23:59:59Z') }),
          fc.constantFrom('', '.123', '.123456', '.123456789'),
          (ms, fraction) => {
            const iso = `${new Date(ms).toISOString().slice(0, 19)}${fraction}Z`;
            const partitioner = new LinePartitioner();
            const hour = partitioner.hourOf(lineOf({ transact_time: iso, received_at: iso }), now);
            expect(hour).toBe(Math.floor(ms / HOUR) * HOUR);
            expect(hourKeyOf(hour)).toBe(`dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`);
            expect(partitioner.outlier).toBeUndefined();
            expect(partitioner.receivedMs).toBe(Math.floor(ms / 1000) * 1000);
          },
        ),
      );
    });

    it('files a TransactTime further than the bound from the receipt under the receive hour', () => {
      // Prepare
      const received = '2026-11-23T22:05:07.420Z';
      const partitioner = new LinePartitioner(DAY);
      const at = (offsetMs: number) => new Date(Date.parse('2026-11-23T22:05:07Z') + offsetMs).toISOString();
      const receiveHour = Date.parse('2026-11-23T22:00:00Z');

      // Act, Assess: inside the bound (either way) its own hour; past it, the receive hour.
      for (const [transact, hour, outlier] of [
        [at(DAY), Date.parse('2026-11-24T22:00:00Z'), undefined],
        [at(-DAY), Date.parse('2026-11-22T22:00:00Z'), undefined],
        [at(DAY + 1000), receiveHour, 'transact_time'],
        [at(-DAY - 1000), receiveHour, 'transact_time'],
        ['2099-01-01T00:00:00.000Z', receiveHour, 'transact_time'],
        ['2019-06-30T12:00:00.000Z', receiveHour, 'transact_time'],
      ] as const) {
        expect(partitioner.hourOf(lineOf({ transact_time: transact, received_at: received }), now)).toBe(hour);
        expect(partitioner.outlier).toBe(outlier);
      }
    });

    it('takes SendingTime when there is no TransactTime, and the receipt when neither is there', () => {
      // Prepare
      const partitioner = new LinePartitioner();
      const received = '2026-11-23T22:05:07.420Z';

      // Act, Assess
      const sending = lineOf({ transact_time: null, sending_time: '2026-11-23T21:59:59.999Z', received_at: received });
      expect(hourKeyOf(partitioner.hourOf(sending, now))).toBe('dt=2026-11-23/hour=21');
      expect(partitioner.outlier).toBeUndefined();
      const farSending = lineOf({ transact_time: null, sending_time: '2099-01-01T00:00:00Z', received_at: received });
      expect(hourKeyOf(partitioner.hourOf(farSending, now))).toBe('dt=2026-11-23/hour=22');
      expect(partitioner.outlier).toBe('sending_time');
      expect(partitioner.outlierValue(farSending)).toBe('2099-01-01T00:00:00Z');
      const none = lineOf({ transact_time: null, sending_time: null, received_at: received });
      expect(hourKeyOf(partitioner.hourOf(none, now))).toBe('dt=2026-11-23/hour=22');
      expect(partitioner.outlier).toBeUndefined();
    });

    it('treats a TransactTime that is no time (a 30 February, no digits) as an outlier', () => {
      // Prepare
      const partitioner = new LinePartitioner();

      // Act, Assess
      for (const transact of ['2026-02-30T10:00:00Z', '2026-11-23T24:00:00Z', 'yesterday', '2026-11-2']) {
        const line = lineOf({ transact_time: transact, received_at: '2026-11-23T22:05:07.420Z' });
        expect(hourKeyOf(partitioner.hourOf(line, now))).toBe('dt=2026-11-23/hour=22');
        expect(partitioner.outlier).toBe('transact_time');
      }
    });

    it("takes the clock's hour when even the receive time cannot be read", () => {
      // Prepare
      const partitioner = new LinePartitioner();

      // Act
      const hour = partitioner.hourOf(lineOf({ transact_time: null, sending_time: null, received_at: 'x' }), now);

      // Assess
      expect(hourKeyOf(hour)).toBe('dt=2026-11-23/hour=22');
      expect(partitioner.receivedMs).toBe(now());
    });
  });
});
