import { describe, expect, it } from 'vitest';
import { HeartbeatMonitor } from '../../src/fix/heartbeat-monitor.js';

/** As the driver does: the Logon sent, its reply received, then the session is logged on. */
function logOn(monitor: HeartbeatMonitor, at: number): void {
  monitor.sent(at);
  monitor.received(at);
  monitor.start();
}

describe('HeartbeatMonitor', () => {
  describe('tickMs', () => {
    it('is a quarter interval, between 50 ms and 1 s', () => {
      // Act + Assess
      expect(new HeartbeatMonitor(1).tickMs).toBe(250);
      expect(new HeartbeatMonitor(3).tickMs).toBe(750);
      expect(new HeartbeatMonitor(30).tickMs).toBe(1000);
    });
  });

  describe('tick', () => {
    it('sends a Heartbeat at the last tick before HeartBtInt of sending nothing, never after', () => {
      // Prepare: HeartBtInt 30 s, ticks every 1 s; the peer keeps talking.
      const monitor = new HeartbeatMonitor(30);
      logOn(monitor, 0);
      const answers: Array<[number, string]> = [];

      // Act
      for (let t = 1000; t <= 60_000; t += 1000) {
        monitor.received(t);
        const action = monitor.tick(t);
        if (action !== 'none') answers.push([t, action]);
        if (action === 'heartbeat') monitor.sent(t);
      }

      // Assess
      expect(answers).toEqual([
        [30_000, 'heartbeat'],
        [60_000, 'heartbeat'],
      ]);
    });

    it('asks for one TestRequest after 1.2 × HeartBtInt of silence, and gives up at 2 ×', () => {
      // Prepare
      const monitor = new HeartbeatMonitor(10);
      logOn(monitor, 0);

      // Act
      const at = (t: number): string => {
        const action = monitor.tick(t);
        if (action !== 'none') monitor.sent(t);
        return action;
      };
      const early = at(11_000);
      const probe = at(12_000);
      const id = monitor.pendingTestRequest;
      const waiting = at(13_000);
      const dead = at(20_000);

      // Assess
      expect(early).toBe('heartbeat'); // we have said nothing for 11 s
      expect(probe).toBe('test_request');
      expect(id).toBe('TEST-1');
      expect(waiting).toBe('none');
      expect(dead).toBe('timeout');
      expect(monitor.silentFor(20_000)).toBe(20_000);
      expect(monitor.lastReceivedAt).toBe(0);
    });

    it('clears the TestRequest when a Heartbeat echoes its id, not for any other', () => {
      // Prepare
      const monitor = new HeartbeatMonitor(10);
      logOn(monitor, 0);
      monitor.tick(12_000);

      // Act
      monitor.heartbeat('SOMETHING-ELSE');
      const stillPending = monitor.pendingTestRequest;
      monitor.heartbeat('TEST-1');

      // Assess
      expect(stillPending).toBe('TEST-1');
      expect(monitor.pendingTestRequest).toBeUndefined();
    });

    it('counts what was received, so a talking peer is never probed', () => {
      // Prepare
      const monitor = new HeartbeatMonitor(10);
      logOn(monitor, 0);
      const actions = new Set<string>();

      // Act
      for (let t = 1000; t <= 100_000; t += 1000) {
        if (t % 5000 === 0) monitor.received(t);
        const action = monitor.tick(t);
        actions.add(action);
        if (action === 'heartbeat') monitor.sent(t);
      }

      // Assess
      expect([...actions].sort()).toEqual(['heartbeat', 'none']);
    });
  });
});
