import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ILooseObject } from 'jspurefix';
import { decodeExecutionReport } from '../../src/fix/execution-report.js';
import { MemorySequenceStore } from '../../src/fix/sequence-store.js';
import type { SessionEvent } from '../../src/fix/session.js';
import { createSession, testKeys, type Harness } from '../helpers/sim.js';
import { startJspurefixAcceptor, type ExchangePeer, type JspurefixAcceptor } from './jspurefix.js';

// jspurefix (npm) plays the exchange: an engine this project did not write, speaking FIXT.1.1 /
// FIX.5.0SP2 over its own TLS acceptor, in this process. One acceptor serves the whole file (it
// takes seconds and ~300 MB to start); every test logs on with its own API key, so each gets its
// own jspurefix session and sequence store.

const TARGET = 'KalshiRT';

let exchange: JspurefixAcceptor | undefined;
let caPem = '';
const harnesses: Harness[] = [];

beforeAll(async () => {
  const keys = testKeys();
  const certificate = await keys.certificate;
  caPem = certificate.cert;
  exchange = await startJspurefixAcceptor({
    senderCompId: TARGET,
    heartBtIntS: 1,
    certificate,
    publicKey: keys.publicKey,
  });
}, 120_000);

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.session.stop()));
});

afterAll(async () => {
  await exchange?.stop();
}, 30_000);

function acceptor(): JspurefixAcceptor {
  if (exchange === undefined) throw new Error('the jspurefix acceptor did not start');
  return exchange;
}

/** A KalshiRT listener session under a fresh API key, started against the jspurefix acceptor. */
function connect(options: Parameters<typeof createSession>[1] = {}): { h: Harness; apiKey: string } {
  const apiKey = randomUUID();
  const h = createSession(
    { host: '127.0.0.1', ports: { [TARGET]: acceptor().port }, ca: caPem },
    {
      senderCompId: apiKey,
      targetCompId: TARGET,
      store: new MemorySequenceStore(),
      messageRetentionHours: 72,
      heartbeatIntervalS: 1,
      ...options,
    },
  );
  harnesses.push(h);
  h.session.start();
  return { h, apiKey };
}

function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no ${what} yet; jspurefix log:\n${acceptor().log()}`);
  return value;
}

/** Waits until both sides consider the session logged on (the nth Logon of this API key). */
async function loggedOn(h: Harness, apiKey: string, nth = 1): Promise<ExchangePeer> {
  return vi.waitFor(
    () => {
      const peer = present(acceptor().logons(apiKey) >= nth ? acceptor().peer(apiKey) : undefined, `logon ${nth}`);
      expect(h.events.filter((e) => e.kind === 'logon')).toHaveLength(nth);
      expect(h.session.state).toBe('active');
      return peer;
    },
    { timeout: 10_000, interval: 20 },
  );
}

/** The first message of this client's traffic (in `direction`) matching `pattern`, once there is one. */
function line(apiKey: string, direction: 'recv' | 'sent', pattern: RegExp, timeout = 5_000): Promise<string> {
  return vi.waitFor(
    () =>
      present(
        acceptor()
          .linesFor(apiKey, direction)
          .find((l) => pattern.test(l)),
        `${direction} line ${String(pattern)}`,
      ),
    { timeout, interval: 20 },
  );
}

function event<K extends SessionEvent['kind']>(
  h: Harness,
  kind: K,
  match: (e: Extract<SessionEvent, { kind: K }>) => boolean = () => true,
  timeout = 5_000,
): Promise<Extract<SessionEvent, { kind: K }>> {
  return vi.waitFor(
    () =>
      present(
        h.events.find((e): e is Extract<SessionEvent, { kind: K }> => e.kind === kind && match(e as never)),
        `event ${kind}`,
      ),
    { timeout, interval: 20 },
  );
}

/** An ExecutionReport as a jspurefix application builds it: FIX.5.0SP2 components and groups by name. */
function executionReport(n: number): ILooseObject {
  return {
    OrderID: `ord-${n}`,
    ClOrdID: `cl-${n}`,
    ExecID: `${n};1`,
    ExecType: 'F',
    OrdStatus: '1',
    Instrument: { Symbol: 'BTC-PERP' },
    Side: '1',
    OrderQtyData: { OrderQty: 10 },
    CumQty: 4,
    LeavesQty: 6,
    AvgPx: 19.5,
    LastPx: 19.5,
    LastQty: 4,
    TransactTime: new Date(Date.UTC(2026, 7, 22, 14, 3, 7, 401)),
    MiscFeesGrp: { NoMiscFees: [{ MiscFeeAmt: 0.07, MiscFeeCurr: 'USD', MiscFeeType: '4', MiscFeeBasis: 0 }] },
  };
}

describe('ListenerSession against jspurefix', () => {
  describe('Logon', () => {
    it('is accepted: Kalshi listener flags on the wire, RSA-PSS signature verified by the acceptor, KalshiRT resume', async () => {
      // Prepare
      const { h, apiKey } = connect();

      // Act
      await loggedOn(h, apiKey);

      // Assess
      const logon = await line(apiKey, 'recv', /\|35=A\|/);
      expect(logon).toMatch(/^8=FIXT\.1\.1\|/);
      expect(logon).toMatch(/\|56=KalshiRT\|/);
      expect(logon).toMatch(/\|34=1\|/);
      expect(logon).toMatch(/\|20126=Y\|/);
      expect(logon).toMatch(/\|21011=Y\|/);
      expect(logon).toMatch(/\|95=344\|96=/);
      expect(logon).toMatch(/\|1137=9\|/);
      expect(logon).toMatch(/\|20200=72\|/);
      expect(logon).not.toMatch(/\|8013=/);
      expect(logon).not.toMatch(/\|141=Y\|/); // RT resumes instead of resetting
      const reply = await line(apiKey, 'sent', /\|35=A\|/);
      expect(reply).toMatch(/\|108=1\|/);
      expect(h.events.find((e) => e.kind === 'logon')).toMatchObject({ reset: false, nextOutbound: 2 });
      expect(acceptor().logons(apiKey)).toBe(1);
      expect(h.events.filter((e) => e.kind === 'error')).toEqual([]);
    });

    it('is refused when signed with a key the acceptor does not hold, and the session reports the refusal', async () => {
      // Prepare
      const { privateKey: wrongKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

      // Act
      const { h, apiKey } = connect({ privateKey: wrongKey, autoReconnect: false });

      // Assess
      const error = await event(h, 'error', (e) => e.error.code === 'ERR_FIX_LOGON_REJECTED');
      expect(error.error.message).toMatch(/logon rejected by application/);
      await line(apiKey, 'sent', /\|35=5\|/);
      expect(acceptor().logons(apiKey)).toBe(0);
      expect(h.messages).toEqual([]);
    });
  });

  describe('ExecutionReports', () => {
    it('delivers every report jspurefix sends to onApplicationMessage, in MsgSeqNum order', async () => {
      // Prepare
      const { h, apiKey } = connect();
      const peer = await loggedOn(h, apiKey);

      // Act
      for (let n = 1; n <= 5; n++) peer.sendApplication('8', executionReport(n));

      // Assess
      await vi.waitFor(() => expect(h.execIds()).toHaveLength(5), { timeout: 5_000, interval: 20 });
      expect(h.execIds()).toEqual(['1;1', '2;1', '3;1', '4;1', '5;1']);
      expect(h.messages.every((m) => m.message.msgType === '8' && m.info.source === 'live')).toBe(true);
      const seqs = h.messages.map((m) => m.message.seqNum);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const sent = acceptor()
        .linesFor(apiKey, 'sent')
        .filter((l) => /\|35=8\|/.test(l));
      expect(sent).toHaveLength(5);
      expect(sent[0]).toMatch(/^8=FIXT\.1\.1\|9=0\d{6}\|35=8\|/); // jspurefix zero-pads BodyLength
      const first = h.messages[0]!;
      expect(decodeExecutionReport(first.message, first.info)).toMatchObject({
        exec_id: '1;1',
        order_id: 'ord-1',
        cl_ord_id: 'cl-1',
        exec_type: 'F',
        ord_status: '1',
        symbol: 'BTC-PERP',
        side: '1',
        session_id: `${TARGET}/${apiKey}`,
        order_qty: '10',
        cum_qty: '4',
        leaves_qty: '6',
        last_qty: '4',
        last_px: '19.5',
        avg_px: '19.5',
        fee_total: '0.07',
        transact_time: '2026-08-22T14:03:07.401Z',
      });
      expect(h.session.status().counters.applicationMessages).toBe(5);
    });
  });

  describe('Heartbeats and TestRequest', () => {
    it('exchanges heartbeats both ways at HeartBtInt = 1 s', async () => {
      // Prepare
      const { h, apiKey } = connect();
      await loggedOn(h, apiKey);

      // Act: stay idle.

      // Assess
      await line(apiKey, 'recv', /\|35=0\|/, 4_000);
      await vi.waitFor(() => expect(h.session.status().messagesInByType['0'] ?? 0).toBeGreaterThanOrEqual(1), {
        timeout: 4_000,
        interval: 20,
      });
      expect(h.session.state).toBe('active');
    });

    it('answers a jspurefix TestRequest with a Heartbeat carrying its TestReqID', async () => {
      // Prepare
      const { h, apiKey } = connect();
      const peer = await loggedOn(h, apiKey);

      // Act
      peer.testRequest('PING-7');

      // Assess
      await line(apiKey, 'recv', /\|35=0\|.*\|112=PING-7\|/);
      expect(await event(h, 'test_request')).toMatchObject({ id: 'PING-7' });
    });
  });

  describe('Sequence gaps', () => {
    it('sends a ResendRequest for a gap, takes the GapFill jspurefix answers with, and delivers the report that revealed the gap and what follows, in order', async () => {
      // Prepare
      const { h, apiKey } = connect();
      const peer = await loggedOn(h, apiKey);
      peer.sendApplication('8', executionReport(1));
      await vi.waitFor(() => expect(h.execIds()).toEqual(['1;1']), { timeout: 5_000, interval: 20 });

      // Act: two numbers never sent; the next report reveals the gap. jspurefix answers the
      // ResendRequest (EndSeqNo 0) with one GapFill through its latest number, covering that
      // report too: the session must deliver the report it holds, not drop it with the range.
      peer.skipSequenceNumbers(2);
      peer.sendApplication('8', executionReport(2));
      const gap = await event(h, 'gap');
      await event(h, 'gap_filled');
      peer.sendApplication('8', executionReport(3));

      // Assess
      expect(gap.action).toBe('resend_request');
      expect(gap.to - gap.from).toBe(1);
      await line(apiKey, 'recv', new RegExp(`\\|35=2\\|.*\\|7=${gap.from}\\|16=0\\|`));
      const gapFill = await line(apiKey, 'sent', /\|35=4\|/);
      expect(gapFill).toMatch(new RegExp(`\\|34=${gap.from}\\|`));
      expect(gapFill).toMatch(/\|43=Y\|/);
      expect(gapFill).toMatch(/\|123=Y\|/);
      expect(h.events.some((e) => e.kind === 'sequence_reset' && e.gapFill)).toBe(true);
      await vi.waitFor(() => expect(h.execIds()).toEqual(['1;1', '2;1', '3;1']), { timeout: 5_000, interval: 20 });
      expect(h.session.state).toBe('active');
      expect(h.session.status().recovering).toBeUndefined();
    });
  });

  describe('Logout', () => {
    it('jspurefix logs the session out with a Text; the session reports it and resumes its KalshiRT numbers on the next Logon', async () => {
      // Prepare
      const { h, apiKey } = connect();
      const first = await loggedOn(h, apiKey);
      first.sendApplication('8', executionReport(1));
      await vi.waitFor(() => expect(h.execIds()).toEqual(['1;1']), { timeout: 5_000, interval: 20 });

      // Act
      first.logout('maintenance');
      const logout = await event(h, 'logout', (e) => e.initiator === 'exchange');
      const second = await loggedOn(h, apiKey, 2);
      second.sendApplication('8', executionReport(2));

      // Assess
      expect(logout.text).toBe('maintenance');
      await line(apiKey, 'recv', /\|35=5\|/); // our confirmation
      const logons = acceptor()
        .linesFor(apiKey, 'recv')
        .filter((l) => /\|35=A\|/.test(l));
      expect(logons).toHaveLength(2);
      expect(logons[1]).not.toMatch(/\|141=Y\|/);
      expect(logons[1]).not.toMatch(/\|34=1\|/);
      await vi.waitFor(() => expect(h.execIds()).toEqual(['1;1', '2;1']), { timeout: 5_000, interval: 20 });
      expect(h.events.filter((e) => e.kind === 'logon').map((e) => (e as { reset: boolean }).reset)).toEqual([
        false,
        false,
      ]);
      expect(h.events.some((e) => e.kind === 'gap' || e.kind === 'sequence_reset')).toBe(false);
    });

    it('stop() sends Logout, jspurefix confirms it, and the session ends stopped', async () => {
      // Prepare
      const { h, apiKey } = connect();
      const peer = await loggedOn(h, apiKey);

      // Act
      await h.session.stop();

      // Assess
      await line(apiKey, 'recv', /\|35=5\|/);
      await line(apiKey, 'sent', /\|35=5\|/);
      expect(h.session.state).toBe('stopped');
      expect(h.events).toContainEqual({ kind: 'logout', initiator: 'listener', text: undefined });
      expect(h.events.filter((e) => e.kind === 'error')).toEqual([]);
      await vi.waitFor(() => expect(peer.ended()).toBe(true), { timeout: 5_000, interval: 20 });
    });
  });
});
