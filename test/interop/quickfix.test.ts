import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { decodeExecutionReport } from '../../src/fix/execution-report.js';
import { MemorySequenceStore } from '../../src/fix/sequence-store.js';
import { API_KEY, createSession, type Harness } from '../helpers/sim.js';
import { startQuickFixAcceptor, type QuickFixAcceptor } from './quickfix.js';

// QuickFIX C++ (Debian's libquickfix, built by the harness) plays the exchange: an engine this
// project did not write, speaking FIXT.1.1 over its own TLS acceptor.

const ER = (seq: string, extra = '') =>
  `37=ord-${seq}|11=cl-${seq}|17=${seq};1|150=F|39=1|55=BTC-PERP|54=1|38=10.00|14=4.00|151=6.00|6=19.5000|31=19.5000|32=4.00|60=20260822-14:03:07.401|136=1|137=0.0700|138=USD|139=4|891=0${extra}`;

let acceptor: QuickFixAcceptor | undefined;
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.session.stop();
  harness = undefined;
  await acceptor?.stop();
  acceptor = undefined;
});

function connect(a: QuickFixAcceptor, options: Parameters<typeof createSession>[1]): Harness {
  const h = createSession({ host: '127.0.0.1', ports: { KalshiNR: a.port, KalshiRT: a.port }, ca: a.caPem }, options);
  h.session.start();
  return h;
}

describe('ListenerSession against QuickFIX C++', () => {
  it('KalshiRT mode: listener logon, reports, heartbeats, TestRequest, a gap closed by PossDup replay and GapFill, logout both ways', async () => {
    // Prepare
    acceptor = await startQuickFixAcceptor({
      senderCompId: 'KalshiRT',
      targetCompId: API_KEY,
      resetOnLogon: false,
      storeDir: mkdtempSync(join(tmpdir(), 'qf-')),
    });
    harness = connect(acceptor, {
      targetCompId: 'KalshiRT',
      store: new MemorySequenceStore(),
      messageRetentionHours: 72,
      heartbeatIntervalS: 1,
    });
    const h = harness;

    // Logon with the Kalshi listener tags, accepted by QuickFIX's own checks plus the acceptor's.
    const logonLine = await acceptor.waitFor(/^admin .*\|35=A\|/);
    await h.waitForEvent('logon');
    expect(logonLine).toMatch(/\|20126=Y\|/);
    expect(logonLine).toMatch(/\|21011=Y\|/);
    expect(logonLine).toMatch(/\|95=344\|96=/);
    expect(logonLine).toMatch(/\|1137=9\|/);
    expect(logonLine).toMatch(/\|20200=72\|/);
    expect(logonLine).not.toMatch(/\|8013=/);
    expect(logonLine).not.toMatch(/\|141=Y\|/); // RT resumes instead of resetting

    // An ExecutionReport QuickFIX sends.
    acceptor.command(`exec ${ER('1')}`);
    await h.waitFor(() => h.execIds().length === 1, 5000, 'first report');
    const record = decodeExecutionReport(h.messages[0]!.message, h.messages[0]!.info);
    expect(record).toMatchObject({
      exec_id: '1;1',
      exec_type: 'F',
      symbol: 'BTC-PERP',
      price: null,
      last_px: '19.5000',
      fee_total: '0.0700',
      session_id: `KalshiRT/${API_KEY}`,
    });

    // Heartbeats both ways at HeartBtInt = 1 s.
    await acceptor.waitFor(/^admin .*\|35=0\|/, 4000);
    await h.waitFor(() => (h.session.status().messagesInByType['0'] ?? 0) >= 1, 4000, 'a heartbeat from QuickFIX');

    // QuickFIX's TestRequest is answered with its id.
    acceptor.command('testreq PING-7');
    await acceptor.waitFor(/^admin .*\|35=0\|.*112=PING-7/, 4000);

    // A real gap: QuickFIX stores ER 2 without sending it, then sends ER 3.
    acceptor.command(`execsilent ${ER('2')}`);
    acceptor.command(`exec ${ER('3')}`);
    await h.waitFor(() => h.execIds().length === 3, 8000, 'the replayed report');
    expect(h.execIds()).toEqual(['1;1', '2;1', '3;1']);
    const replayed = h.messages[1]!;
    expect(replayed.info.source).toBe('resend');
    expect(replayed.message.get(43)).toBe('Y');
    expect(replayed.message.has(122)).toBe(true);
    expect(acceptor.lines.some((l) => /^recv .*\|35=2\|/.test(l))).toBe(true);
    await h.waitForEvent('gap_filled');

    // A gap of admin-only numbers: QuickFIX answers with SequenceReset-GapFill.
    acceptor.command('jump 2');
    acceptor.command(`exec ${ER('4')}`);
    await h.waitFor(() => h.execIds().length === 4, 8000, 'report after the GapFill');
    expect(h.events.some((e) => e.kind === 'sequence_reset' && e.gapFill)).toBe(true);
    expect(h.execIds()).toEqual(['1;1', '2;1', '3;1', '4;1']);

    // The exchange logs us out; the session reports the Text and comes back without losing continuity.
    acceptor.command('logout maintenance');
    const logout = await h.waitForEvent('logout', 8000, (e) => e.initiator === 'exchange');
    expect(logout.text).toBe('maintenance');
    await h.waitFor(() => h.events.filter((e) => e.kind === 'logon').length === 2, 15_000, 'the second logon');
    acceptor.command(`exec ${ER('5')}`);
    await h.waitFor(() => h.execIds().length === 5, 8000, 'report after reconnect');

    // Our Logout on stop is seen by QuickFIX.
    await h.session.stop();
    await acceptor.waitFor(/^admin .*\|35=5\|/, 5000);
    expect(h.session.state).toBe('stopped');
  });

  it('KalshiNR mode: logs on with ResetSeqNumFlag=Y and sequence numbers from 1', async () => {
    acceptor = await startQuickFixAcceptor({ senderCompId: 'KalshiNR', targetCompId: API_KEY, resetOnLogon: true });
    harness = connect(acceptor, { targetCompId: 'KalshiNR', heartbeatIntervalS: 5 });
    const logonLine = await acceptor.waitFor(/^admin .*\|35=A\|/);
    const logon = await harness.waitForEvent('logon');
    expect(logonLine).toMatch(/\|34=1\|/);
    expect(logonLine).toMatch(/\|141=Y\|/);
    expect(logon.reset).toBe(true);
    acceptor.command(`exec ${ER('9')}`);
    await harness.waitFor(() => harness!.execIds().length === 1, 5000, 'a report');
    expect(harness.messages[0]!.message.seqNum).toBe(2);
  });

  it('surfaces QuickFIX rejecting a Logon whose SendingTime is a minute off', async () => {
    acceptor = await startQuickFixAcceptor({ senderCompId: 'KalshiNR', targetCompId: API_KEY, resetOnLogon: true });
    harness = connect(acceptor, {
      targetCompId: 'KalshiNR',
      clock: { ...systemClock, now: () => Date.now() - 60_000 },
      autoReconnect: false,
    });
    const error = await harness.waitForEvent('error', 8000, (e) => e.error.code === 'ERR_FIX_LOGON_REJECTED');
    expect(error.error.message).toMatch(/SendingTime accuracy problem/);
  });
});
