import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { canTransition, ListenerSession, type SessionState } from '../../src/fix/session.js';
import { FileSequenceStore } from '../../src/fix/sequence-store.js';
import type { KalshiSimulator, SimulatorAddress } from '../../src/sim/simulator.js';
import { API_KEY, createSession, startSimulator, testKeys, type Harness } from '../helpers/sim.js';

let sim: KalshiSimulator | undefined;
const harnesses: Harness[] = [];

async function setUp(options: Parameters<typeof startSimulator>[0] = {}): Promise<SimulatorAddress> {
  const started = await startSimulator(options);
  sim = started.sim;
  return started.address;
}

function open(address: SimulatorAddress, options: Parameters<typeof createSession>[1] = {}): Harness {
  const harness = createSession(address, options);
  harnesses.push(harness);
  harness.session.start();
  return harness;
}

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.session.stop()));
  await sim?.stop();
  sim = undefined;
});

/** Every report the simulator generated, as ExecIDs in order. */
function generatedIds(): string[] {
  return sim!.generated(API_KEY).map((r) => r.execId);
}

describe('canTransition', () => {
  const allowed: Array<[SessionState, SessionState]> = [
    ['disconnected', 'connecting'],
    ['connecting', 'logon_sent'],
    ['connecting', 'disconnected'],
    ['logon_sent', 'active'],
    ['logon_sent', 'disconnected'],
    ['active', 'logout_sent'],
    ['active', 'disconnected'],
    ['logout_sent', 'disconnected'],
    ['active', 'stopped'],
  ];
  it.each(allowed)('allows %s → %s', (from, to) => expect(canTransition(from, to)).toBe(true));

  const refused: Array<[SessionState, SessionState]> = [
    ['disconnected', 'active'],
    ['connecting', 'active'],
    ['logon_sent', 'logout_sent'],
    ['logout_sent', 'active'],
    ['stopped', 'connecting'],
    ['disconnected', 'logon_sent'],
  ];
  it.each(refused)('refuses %s → %s', (from, to) => expect(canTransition(from, to)).toBe(false));
});

// A simulator, real TLS and real heartbeats: more than the 5 s default on a busy machine.
describe('ListenerSession', { timeout: 30_000 }, () => {
  describe('constructor', () => {
    it('refuses CancelOrdersOnDisconnect(8013) among the extra Logon fields', () => {
      expect(
        () =>
          new ListenerSession({
            host: 'h',
            port: 1,
            senderCompId: API_KEY,
            targetCompId: 'KalshiNR',
            privateKey: testKeys().privateKey,
            extraLogonFields: [[8013, 'Y']],
          }),
      ).toThrow(/8013/);
    });
  });

  describe('start', () => {
    it('logs on to KalshiNR over TLS as a listener and delivers reports in sequence', async () => {
      // Prepare
      const address = await setUp();
      const h = open(address);
      // Act
      await h.waitForEvent('logon');
      sim!.emitReports(API_KEY, 25);
      await h.waitFor(() => h.execIds().length === 25, 5000, '25 reports');
      // Assess
      expect(h.session.state).toBe('active');
      expect(h.execIds()).toEqual(generatedIds());
      expect(h.messages.every((m) => m.info.source === 'live')).toBe(true);
      const seqs = h.messages.map((m) => m.message.seqNum);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const logonEvent = await h.waitForEvent('logon');
      expect(logonEvent.reset).toBe(true);
      const status = h.session.status();
      expect(status).toMatchObject({
        state: 'active',
        targetCompId: 'KalshiNR',
        senderCompId: API_KEY,
        heartbeatIntervalS: 1,
      });
      expect(status.counters.applicationMessages).toBe(25);
      expect(sim!.sessions()[0]!.isListening).toBe(true);
    });

    it('surfaces a rejected Logon (bad signature) with the exchange Text and retries with back-off', async () => {
      // Prepare
      const address = await setUp();
      const { privateKey: wrongKey } = (await import('node:crypto')).generateKeyPairSync('rsa', {
        modulusLength: 2048,
      });
      // Act
      const h = open(address, { privateKey: wrongKey });
      const error = await h.waitForEvent('error', 5000, (e) => e.error.code === 'ERR_FIX_LOGON_REJECTED');
      const retry = await h.waitForEvent('reconnect_scheduled');
      // Assess
      expect(error.error.message).toMatch(/Signature error/);
      expect(h.session.status().lastError?.code).toBe('ERR_FIX_LOGON_REJECTED');
      expect(retry.delayMs).toBeLessThanOrEqual(50);
      await h.waitFor(
        () => h.events.filter((e) => e.kind === 'reconnect_scheduled').length >= 3,
        5000,
        'three retries',
      );
      expect(h.session.status().reconnectAttempts).toBeGreaterThanOrEqual(3);
    });

    it('gets "Invalid TargetCompID" when NR logs on to the RT port', async () => {
      const address = await setUp();
      const h = open({ ...address, ports: { KalshiNR: address.ports.KalshiRT! } });
      const error = await h.waitForEvent('error', 5000, (e) => e.error.code === 'ERR_FIX_LOGON_REJECTED');
      expect(error.error.details).toMatchObject({ text: 'Invalid TargetCompID' });
    });

    it('gets a SendingTime accuracy rejection when its clock is 60 s off', async () => {
      const address = await setUp();
      const h = open(address, { clock: { ...systemClock, now: () => Date.now() + 60_000 } });
      const error = await h.waitForEvent('error', 5000, (e) => e.error.code === 'ERR_FIX_LOGON_REJECTED');
      expect(error.error.message).toMatch(/SendingTime accuracy/);
    });

    it('waits at least 2 × HeartBtInt after "already exists" before retrying', async () => {
      // Prepare
      const address = await setUp();
      const first = open(address);
      await first.waitForEvent('logon');
      // Act
      const second = open(address, { heartbeatIntervalS: 2 });
      const error = await second.waitForEvent('error', 5000, (e) => e.error.code === 'ERR_FIX_LOGON_REJECTED');
      const retry = await second.waitForEvent('reconnect_scheduled');
      // Assess
      expect(error.error.message).toMatch(/already exists/);
      expect(retry.delayMs).toBeGreaterThanOrEqual(4000);
      expect(first.session.state).toBe('active');
    });

    it('times out a Logon that gets no answer', async () => {
      // Prepare: a TLS server that accepts and never answers.
      const { createServer } = await import('node:tls');
      const cert = await testKeys().certificate;
      const silent = createServer({ key: cert.key, cert: cert.cert }, () => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      // Act
      const h = open(
        { host: '127.0.0.1', ports: { KalshiNR: port }, ca: cert.cert },
        { logonTimeoutMs: 300, autoReconnect: false },
      );
      const error = await h.waitForEvent('error', 5000);
      // Assess
      expect(error.error.code).toBe('ERR_FIX_LOGON_TIMEOUT');
      await h.waitFor(() => h.session.state === 'disconnected');
      await h.session.stop();
      silent.close();
    });

    it('fails the TLS handshake against a certificate it does not trust', async () => {
      const address = await setUp();
      const h = open({ ...address, ca: '' }, { extraCa: undefined, autoReconnect: false });
      const error = await h.waitForEvent('error', 5000);
      expect(error.error.code).toBe('ERR_FIX_TRANSPORT');
      expect(h.session.state).toBe('disconnected');
    });
  });

  describe('heartbeats', () => {
    it('sends Heartbeats when idle and answers a TestRequest with its id', async () => {
      // Prepare
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      // Act: idle until two Heartbeats have gone out after the Logon (HeartBtInt 1 s), then probe.
      await h.waitFor(() => h.session.status().counters.messagesOut >= 3, 5000, 'Logon + two Heartbeats');
      const sentBeforeProbe = h.session.status().counters.messagesOut;
      sim!.testRequest('PROBE-1');
      const probe = await h.waitForEvent('test_request', 5000, (e) => e.id === 'PROBE-1');
      // Assess
      expect(probe.id).toBe('PROBE-1');
      expect(h.session.status().counters.messagesOut).toBeGreaterThan(sentBeforeProbe); // the answer
      expect(h.session.status().counters.messagesOut).toBeGreaterThanOrEqual(4); // Logon + ≥2 heartbeats + answer
      expect(h.session.state).toBe('active');
    });

    it('sends a TestRequest after silence and drops the connection after 2 × HeartBtInt, then reconnects', async () => {
      // Prepare
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      // Act
      sim!.stopHeartbeats(true);
      const error = await h.waitForEvent('error', 5000, (e) => e.error.code === 'ERR_FIX_HEARTBEAT_TIMEOUT');
      sim!.stopHeartbeats(false);
      // Assess
      expect(error.error.message).toMatch(/nothing received/);
      await h.waitFor(() => h.events.filter((e) => e.kind === 'logon').length === 2, 5000, 'second logon');
      expect(h.session.status().counters.reconnects).toBeGreaterThanOrEqual(1);
    });
  });

  describe('sequence numbers on KalshiNR', () => {
    it('records a gap and reconnects with ResetSeqNumFlag=Y', async () => {
      // Prepare
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      sim!.emitReports(API_KEY, 3);
      await h.waitFor(() => h.execIds().length === 3);
      // Act
      sim!.skipSequence(1);
      sim!.emitReports(API_KEY, 2);
      const gap = await h.waitForEvent('gap');
      // Assess
      expect(gap).toMatchObject({ from: 5, to: 5, action: 'reconnect' });
      // The error names the same range (it once printed 7..5: taken after the message moved on).
      const error = await h.waitForEvent('error', 5000, (e) => e.error.code === 'ERR_FIX_SEQ_GAP');
      expect(error.error.message).toMatch(/^sequence gap 5\.\.5 on KalshiNR/);
      expect(error.error.details).toEqual({ from: 5, to: 5 });
      await h.waitFor(() => h.events.filter((e) => e.kind === 'logon').length === 2, 5000, 'second logon');
      const ids = generatedIds();
      expect(h.execIds()).toEqual([...ids.slice(0, 3), ids[4]]); // the skipped report is the hole a backfill closes
      expect(h.session.status().counters.gaps).toBe(1);
    });

    it('treats a corrupt checksum as a dropped frame: a decode error, then the gap it leaves', async () => {
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      sim!.corruptNextChecksum(1);
      sim!.emitReports(API_KEY, 2);
      const decodeError = await h.waitForEvent('decode_error');
      expect(decodeError.error.code).toBe('ERR_FIX_CHECKSUM');
      await h.waitForEvent('gap');
      expect(h.session.status().counters.decodeErrors).toBe(1);
    });

    it('drops a PossDup duplicate of a report it already has', async () => {
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      sim!.emitReports(API_KEY, 2);
      await h.waitFor(() => h.execIds().length === 2);
      sim!.sendPossDupDuplicate();
      sim!.emitReports(API_KEY, 1);
      await h.waitFor(() => h.execIds().length === 3);
      expect(h.execIds()).toEqual(generatedIds());
      expect(h.session.status().counters.duplicatesDropped).toBe(1);
      expect(h.events.find((e) => e.kind === 'duplicate')).toBeDefined();
    });

    it('disconnects on a sequence number lower than expected without PossDup', async () => {
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      sim!.emitReports(API_KEY, 3);
      await h.waitFor(() => h.execIds().length === 3);
      sim!.rewindSequence(2);
      sim!.emitReports(API_KEY, 1);
      const error = await h.waitForEvent('error', 5000, (e) => e.error.code === 'ERR_FIX_SEQ_TOO_LOW');
      expect(error.error.details).toMatchObject({ expected: 5, received: 3 });
    });

    it('keeps going, and warns, when the exchange clock is skewed', async () => {
      const address = await setUp();
      sim!.skewSendingTime(45_000);
      const h = open(address);
      const skew = await h.waitForEvent('clock_skew');
      sim!.emitReports(API_KEY, 2);
      await h.waitFor(() => h.execIds().length === 2);
      expect(skew.skewMs).toBeGreaterThan(40_000);
      expect(h.session.status().clockSkewMs).toBeGreaterThan(40_000);
    });
  });

  describe('sequence numbers on KalshiRT', () => {
    it('closes a gap with ResendRequest, holds later reports and releases them in order', async () => {
      // Prepare
      const address = await setUp();
      const h = open(address, { targetCompId: 'KalshiRT', resetOnLogon: true });
      await h.waitForEvent('logon');
      sim!.emitReports(API_KEY, 3);
      // Act
      sim!.skipSequence(2);
      sim!.emitReports(API_KEY, 5);
      await h.waitFor(() => h.execIds().length === 8, 5000, 'all eight reports');
      // Assess
      expect(h.execIds()).toEqual(generatedIds());
      const gap = await h.waitForEvent('gap');
      expect(gap).toMatchObject({ action: 'resend_request', from: 5, to: 6 });
      await h.waitForEvent('gap_filled');
      expect(h.messages.filter((m) => m.info.source === 'resend').map((m) => m.message.get(17))).toEqual(
        generatedIds().slice(3, 5),
      );
      const seqs = h.messages.map((m) => m.message.seqNum);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(h.session.state).toBe('active');
    });

    it('recovers a frame dropped for a bad checksum through the resend', async () => {
      const address = await setUp();
      const h = open(address, { targetCompId: 'KalshiRT', resetOnLogon: true });
      await h.waitForEvent('logon');
      sim!.corruptNextChecksum(1);
      sim!.emitReports(API_KEY, 4);
      await h.waitFor(() => h.execIds().length === 4, 5000, 'four reports');
      expect(h.execIds()).toEqual(generatedIds());
      expect(h.session.status().counters.decodeErrors).toBe(1);
    });

    it('resumes after a restart without ResetSeqNumFlag and recovers what was sent while it was down', async () => {
      // Prepare
      const address = await setUp();
      const store = new FileSequenceStore(join(mkdtempSync(join(tmpdir(), 'seq-')), 'rt.json'));
      const first = open(address, {
        targetCompId: 'KalshiRT',
        store,
        manualAck: true,
        onApplicationMessage: (m) => first.session.acknowledge(m.seqNum),
      });
      await first.waitForEvent('logon');
      sim!.emitReports(API_KEY, 5);
      await first.waitFor(() => first.execIds().length === 5);
      await first.session.stop();
      // Act: reports keep coming while nobody listens; a new process resumes from the store.
      sim!.emitReports(API_KEY, 6);
      const second = open(address, { targetCompId: 'KalshiRT', store, messageRetentionHours: 72 });
      await second.waitFor(() => second.execIds().length === 6, 5000, 'six missed reports');
      // Assess
      const logon = await second.waitForEvent('logon');
      expect(logon.reset).toBe(false);
      expect([...first.execIds(), ...second.execIds()]).toEqual(generatedIds());
      expect(second.messages.every((m) => m.info.source === 'resend')).toBe(true);
      expect(store.load()!.nextInbound).toBeGreaterThan(7);
    });

    it('falls back to ResetSeqNumFlag=Y when the exchange answers a resume below our position', async () => {
      // Prepare
      const address = await setUp();
      const store = new FileSequenceStore(join(mkdtempSync(join(tmpdir(), 'seq-')), 'rt.json'));
      await store.save({ nextInbound: 50, nextOutbound: 1 });
      // Act
      const h = open(address, { targetCompId: 'KalshiRT', store });
      const error = await h.waitForEvent('error', 5000, (e) => e.error.code === 'ERR_FIX_SEQ_TOO_LOW');
      const logon = await h.waitForEvent('logon', 5000, (e) => e.reset);
      // Assess
      expect(error.error.message).toMatch(/ResetSeqNumFlag=Y/);
      expect(logon.nextInbound).toBe(1);
    });
  });

  describe('faults', () => {
    it('reconnects after the exchange drops the connection without Logout', async () => {
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      sim!.dropConnections();
      const disconnected = await h.waitForEvent('disconnected');
      await h.waitFor(() => h.events.filter((e) => e.kind === 'logon').length === 2, 5000, 'second logon');
      expect(disconnected.reason?.code).toBe('ERR_FIX_PEER_CLOSED'); // the peer closed, and says so
      sim!.emitReports(API_KEY, 2);
      await h.waitFor(() => h.execIds().length === 2);
    });

    it('reports a session Reject and a BusinessMessageReject with their reasons and stays up', async () => {
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      sim!.sendToAll('3', [
        [45, 7],
        [371, 20126],
        [372, 'A'],
        [373, 5],
        [58, 'Value is incorrect (out of range) for this tag'],
      ]);
      sim!.sendToAll('j', [
        [45, 9],
        [372, 'D'],
        [380, 6],
        [58, 'Listener session may not send 35=D'],
      ]);
      await h.waitFor(() => h.events.filter((e) => e.kind === 'reject').length === 2, 5000, 'two rejects');
      const rejects = h.events.filter((e) => e.kind === 'reject');
      expect(rejects[0]).toMatchObject({
        msgType: '3',
        refSeqNum: 7,
        refTagId: 20126,
        refMsgType: 'A',
        reason: 5,
        text: 'Value is incorrect (out of range) for this tag',
      });
      expect(rejects[1]).toMatchObject({
        msgType: 'j',
        refSeqNum: 9,
        refMsgType: 'D',
        reason: 6,
        text: 'Listener session may not send 35=D',
      });
      expect(h.session.status().counters.rejects).toBe(2);
      expect(h.session.state).toBe('active');
    });
  });

  describe('logout', () => {
    it('surfaces an exchange Logout Text and reconnects', async () => {
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      sim!.logoutAll('Exchange maintenance');
      const logout = await h.waitForEvent('logout', 5000, (e) => e.initiator === 'exchange');
      expect(logout.text).toBe('Exchange maintenance');
      await h.waitFor(() => h.events.filter((e) => e.kind === 'logon').length === 2, 5000, 'second logon');
    });

    it('stop() sends Logout, waits for the reply and stays down', async () => {
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      await h.session.stop();
      expect(h.session.state).toBe('stopped');
      expect(h.events.map((e) => e.kind)).toContain('logout');
      expect(h.events.filter((e) => e.kind === 'state').map((e) => (e as { to: string }).to)).toEqual([
        'connecting',
        'logon_sent',
        'active',
        'logout_sent',
        'stopped',
      ]);
      // A reconnect would come within 200 ms (the harness's longest back-off). Another session of
      // the same key logs on and gets the exchange's first Heartbeat (HeartBtInt 1 s): by then the
      // stopped one has had its chance to come back, and the exchange would have let it.
      const next = open(address);
      await next.waitForEvent('logon');
      await next.waitFor(() => (next.session.status().messagesInByType['0'] ?? 0) >= 1, 5000, 'a Heartbeat');
      expect(h.events.filter((e) => e.kind === 'connected')).toHaveLength(1);
      expect(h.events.filter((e) => e.kind === 'logon')).toHaveLength(1);
      expect(h.session.state).toBe('stopped');
      expect(sim!.sessions().filter((s) => s.isLoggedOn)).toHaveLength(1); // the other session's
    });
  });

  describe('reconnect', () => {
    it('logs out and back on once, even when asked twice', async () => {
      // Prepare
      const address = await setUp();
      const h = open(address);
      await h.waitForEvent('logon');
      // Act
      const first = h.session.reconnect();
      const second = h.session.reconnect();
      // Assess
      expect([first, second]).toEqual([true, false]);
      await h.waitFor(() => h.events.filter((e) => e.kind === 'logon').length === 2, 5000, 'second logon');
      // A second reconnect would follow at once (no back-off): the new connection carries a report
      // and the exchange's next Heartbeat (HeartBtInt 1 s) first, so it had its chance.
      const heartbeatsAtLogon = h.session.status().messagesInByType['0'] ?? 0;
      sim!.emitReports(API_KEY, 1);
      await h.waitFor(() => h.execIds().length === 1);
      await h.waitFor(
        () => (h.session.status().messagesInByType['0'] ?? 0) > heartbeatsAtLogon,
        5000,
        'a Heartbeat on the new connection',
      );
      expect(h.events.filter((e) => e.kind === 'logon')).toHaveLength(2);
      expect(h.session.status().counters.reconnects).toBe(1);
      expect(h.session.state).toBe('active');
    });
  });
});
