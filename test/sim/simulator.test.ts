import { connect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FixDecoder } from '../../src/fix/decoder.js';
import { encodeMessage, type Field } from '../../src/fix/encoder.js';
import { signLogon } from '../../src/fix/logon-signature.js';
import type { FixMessage } from '../../src/fix/message.js';
import { formatUtcTimestamp } from '../../src/fix/time.js';
import type { KalshiSimulator, SimulatorAddress } from '../../src/sim/simulator.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';

/** A bare FIX client: lets a test send exactly the Logon it wants, including wrong ones. */
class RawClient {
  readonly received: FixMessage[] = [];
  readonly socket: TLSSocket;
  closed = false;
  seq = 1;

  constructor(address: SimulatorAddress, port: number) {
    const decoder = new FixDecoder({ onMessage: (m) => this.received.push(m), onError: () => undefined });
    this.socket = connect({ host: address.host, port, ca: address.ca, servername: 'localhost' });
    this.socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }

  send(
    msgType: string,
    fields: readonly Field[],
    target = 'KalshiNR',
    sendingTime = formatUtcTimestamp(Date.now()),
  ): void {
    this.socket.write(
      encodeMessage(
        msgType,
        { senderCompId: API_KEY, targetCompId: target, msgSeqNum: this.seq++, sendingTime },
        fields,
      ),
    );
  }

  logon(
    options: {
      target?: string;
      fields?: Field[];
      omit?: number[];
      sendingTime?: string;
      signWith?: 'good' | 'garbage';
    } = {},
  ): void {
    const target = options.target ?? 'KalshiNR';
    const sendingTime = options.sendingTime ?? formatUtcTimestamp(Date.now());
    const signature =
      options.signWith === 'garbage'
        ? 'AAAA'
        : signLogon(testKeys().privateKey, {
            sendingTime,
            msgSeqNum: this.seq,
            senderCompId: API_KEY,
            targetCompId: target,
          });
    const base: Field[] = [
      [98, 0],
      [108, 1],
      [141, 'Y'],
      [1137, 9],
      [95, signature.length],
      [96, signature],
      [20126, 'Y'],
      [21011, 'Y'],
    ];
    const fields = base.filter(([tag]) => !(options.omit ?? []).includes(tag)).concat(options.fields ?? []);
    this.send('A', fields, target, sendingTime);
  }

  /** The first received message matching `match` (a MsgType, or a predicate). */
  async next(match: string | ((m: FixMessage) => boolean), timeoutMs = 3000): Promise<FixMessage> {
    const matches = typeof match === 'string' ? (m: FixMessage) => m.msgType === match : match;
    return vi.waitFor(
      () => {
        const found = this.received.find(matches);
        if (found === undefined)
          throw new Error(
            `no ${typeof match === 'string' ? `35=${match}` : 'matching message'}; got ${this.received.map((m) => m.msgType).join(',')}`,
          );
        return found;
      },
      { timeout: timeoutMs, interval: 10 },
    );
  }

  async waitClosed(timeoutMs = 3000): Promise<void> {
    await vi.waitFor(
      () => {
        if (!this.closed) throw new Error('connection still open');
      },
      { timeout: timeoutMs, interval: 10 },
    );
  }

  /**
   * Sends a TestRequest and waits for the Heartbeat that answers it: everything the exchange wrote
   * before has arrived by then. Returns that Heartbeat's index in `received`.
   */
  async sync(target: string, id = `SYNC-${this.seq}`): Promise<number> {
    this.send('1', [[112, id]], target);
    const answer = await this.next((m) => m.msgType === '0' && m.get(112) === id);
    return this.received.indexOf(answer);
  }
}

let sim: KalshiSimulator | undefined;
const clients: RawClient[] = [];

async function setUp(): Promise<{ address: SimulatorAddress; client: (role?: 'KalshiNR' | 'KalshiRT') => RawClient }> {
  const started = await startSimulator();
  sim = started.sim;
  return {
    address: started.address,
    client: (role = 'KalshiNR') => {
      const c = new RawClient(started.address, started.address.ports[role]!);
      clients.push(c);
      return c;
    },
  };
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  await sim?.stop();
  sim = undefined;
});

describe('KalshiSimulator', () => {
  describe('logon checks', () => {
    it('accepts a correct listener Logon with a Logon reply numbered 1 and 49 = the target', async () => {
      const { client } = await setUp();
      const c = client();
      c.logon();
      const reply = await c.next('A');
      expect(reply.seqNum).toBe(1);
      expect(reply.get(49)).toBe('KalshiNR');
      expect(reply.get(56)).toBe(API_KEY);
      expect(reply.get(141)).toBe('Y');
      expect(reply.get(1137)).toBe('9');
    });

    const violations: Array<[string, Parameters<RawClient['logon']>[0], RegExp]> = [
      ['a signature that does not verify', { signWith: 'garbage' }, /Signature error/],
      ['a SendingTime 31 s off', { sendingTime: formatUtcTimestamp(Date.now() - 31_000) }, /SendingTime accuracy/],
      ['no ResetSeqNumFlag on KalshiNR', { omit: [141] }, /ResetSeqNumFlag must be Y/],
      ['ListenerSession without SkipPendingExecReports', { omit: [21011] }, /SkipPendingExecReports/],
      ['CancelOrdersOnDisconnect on a listener', { fields: [[8013, 'Y']] }, /CancelOrdersOnDisconnect/],
      ['a DefaultApplVerID other than 9', { omit: [1137], fields: [[1137, 7]] }, /DefaultApplVerID/],
      ['SenderSubID on the Logon', { fields: [[50, 'trader-1']] }, /SenderSubID/],
    ];
    it.each(violations)('answers %s with a Logout and its Text, then disconnects', async (_name, logon, text) => {
      const { client } = await setUp();
      const c = client();
      c.logon(logon);
      const logout = await c.next('5');
      expect(logout.get(58)).toMatch(text);
      await c.waitClosed();
      expect(c.received.some((m) => m.msgType === 'A')).toBe(false);
    });

    it('refuses a HeartBtInt below the minimum', async () => {
      const { client } = await setUp();
      const c = client();
      c.logon({ omit: [108], fields: [[108, 0]] });
      expect((await c.next('5')).get(58)).toMatch(/HeartBtInt/);
    });

    it('refuses a TargetCompID that does not belong to the port', async () => {
      const { client } = await setUp();
      const c = client('KalshiRT');
      c.logon({ target: 'KalshiNR' });
      expect((await c.next('5')).get(58)).toBe('Invalid TargetCompID');
    });

    it('refuses a second session of the same key and target with "already exists"', async () => {
      const { client } = await setUp();
      const first = client();
      first.logon();
      await first.next('A');
      const second = client();
      second.logon();
      expect((await second.next('5')).get(58)).toMatch(/already exists/);
      expect(first.closed).toBe(false);
    });

    it('disconnects a connection whose first message is not a Logon', async () => {
      const { client } = await setUp();
      const c = client();
      c.send('0', []);
      await c.waitClosed();
      expect(c.received).toEqual([]);
    });
  });

  describe('listener rules', () => {
    it.each(['D', 'F', 'G', 'q'])('answers 35=%s from a listener with 35=j and keeps the session', async (msgType) => {
      // Prepare
      const { client } = await setUp();
      const c = client();
      c.logon();
      await c.next('A');
      // Act
      c.send(msgType, [
        [11, 'c1'],
        [55, 'BTC-PERP'],
        [54, 1],
        [38, '1.00'],
        [40, 2],
        [44, '1.0000'],
      ]);
      const reject = await c.next('j');
      // Assess
      expect(reject.get(372)).toBe(msgType);
      expect(reject.get(380)).toBe('6');
      sim!.emitReports(API_KEY, 1);
      expect((await c.next('8')).get(17)).toBe(sim!.generated(API_KEY)[0]!.execId);
    });
  });

  describe('KalshiRT resends', () => {
    it('replays stored reports with PossDup and OrigSendingTime, and GapFills admin messages', async () => {
      // Prepare
      const { client } = await setUp();
      const c = client('KalshiRT');
      c.logon({ target: 'KalshiRT' });
      await c.next('A');
      sim!.emitReports(API_KEY, 2);
      sim!.testRequest('T1');
      sim!.emitReports(API_KEY, 1);
      await c.next((m) => m.msgType === '8' && m.seqNum === 5); // the last of them, live
      c.received.length = 0;
      // Act
      c.send(
        '2',
        [
          [7, 1],
          [16, 0],
        ],
        'KalshiRT',
      );
      // The exchange answers a TestRequest after the resend it already wrote: all of it has arrived.
      const answered = await c.sync('KalshiRT');
      // Assess: seq 1 Logon → GapFill, 2-3 reports, 4 TestRequest → GapFill, 5 report.
      const shapes = c.received
        .slice(0, answered)
        .map(
          (m) => `${m.seqNum}:${m.msgType}${m.get(123) === 'Y' ? `→${m.get(36)}` : ''}${m.get(43) === 'Y' ? '*' : ''}`,
        );
      expect(shapes).toEqual(['1:4→2*', '2:8*', '3:8*', '4:4→5*', '5:8*']);
      expect(c.received.filter((m) => m.msgType === '8').every((m) => m.has(122))).toBe(true);
    });
  });
});
