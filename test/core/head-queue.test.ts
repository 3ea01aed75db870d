import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeadQueue } from '../../src/core/head-queue.js';

describe('HeadQueue', () => {
  describe('push, peek and shift', () => {
    it('hands items out first in, first out', () => {
      // Prepare
      const queue = new HeadQueue<string>();
      queue.push('a');
      queue.push('b');

      // Act + Assess
      expect(queue.peek()).toBe('a');
      expect(queue.shift()).toBe('a');
      expect(queue.shift()).toBe('b');
      expect(queue.shift()).toBeUndefined();
      expect(queue.length).toBe(0);
    });

    it('stays correct across many compactions', () => {
      // Prepare: more shifts than the compaction threshold, with the queue never empty.
      const queue = new HeadQueue<number>();
      for (let i = 0; i < 10; i++) queue.push(i);

      // Act
      for (let i = 10; i < 50_000; i++) {
        queue.push(i);
        expect(queue.shift()).toBe(i - 10);
      }

      // Assess
      expect(queue.length).toBe(10);
      expect(queue.slice(0)).toEqual([49_990, 49_991, 49_992, 49_993, 49_994, 49_995, 49_996, 49_997, 49_998, 49_999]);
    });
  });

  describe('at and slice', () => {
    it('index from the first item still queued', () => {
      // Prepare
      const queue = new HeadQueue([1, 2, 3, 4, 5]);
      queue.shift();

      // Act + Assess
      expect(queue.at(0)).toBe(2);
      expect(queue.at(3)).toBe(5);
      expect(queue.at(4)).toBeUndefined();
      expect(queue.at(-1)).toBeUndefined();
      expect(queue.slice(1, 3)).toEqual([3, 4]);
      expect(queue.slice(2, 99)).toEqual([4, 5]);
    });
  });

  describe('clear', () => {
    it('empties the queue', () => {
      // Prepare
      const queue = new HeadQueue([1, 2, 3]);

      // Act
      queue.clear();

      // Assess
      expect(queue.length).toBe(0);
      expect(queue.peek()).toBeUndefined();
    });
  });

  it('behaves like an array used as a queue (drop and insertAt included), for any sequence of operations', () => {
    const op = fc.oneof(
      fc.record({ push: fc.integer() }),
      fc.constant({ shift: true as const }),
      fc.constant({ clear: true as const }),
      fc.record({ drop: fc.nat(40) }),
      fc.record({ insertAt: fc.nat(8), value: fc.integer() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        // Prepare: a plain array is the model.
        const queue = new HeadQueue<number>();
        const model: number[] = [];

        // Act + Assess after every step
        for (const o of ops) {
          if ('push' in o) {
            queue.push(o.push);
            model.push(o.push);
          } else if ('shift' in o) expect(queue.shift()).toBe(model.shift());
          else if ('drop' in o) {
            queue.drop(o.drop);
            model.splice(0, o.drop);
          } else if ('insertAt' in o) {
            const at = Math.min(o.insertAt, model.length);
            queue.insertAt(at, o.value);
            model.splice(at, 0, o.value);
          } else {
            queue.clear();
            model.length = 0;
          }
          expect(queue.length).toBe(model.length);
          expect(queue.peek()).toBe(model[0]);
          expect(queue.at(queue.length - 1)).toBe(model.at(-1));
        }
        expect(queue.slice(0)).toEqual(model);
      }),
      { numRuns: 200 },
    );
  });
});
