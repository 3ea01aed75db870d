import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { vi } from 'vitest';
import {
  ListenerSession,
  type DeliveryInfo,
  type ListenerSessionOptions,
  type SessionEvent,
} from '../../src/fix/session.js';
import type { FixMessage } from '../../src/fix/message.js';
import { KalshiSimulator, type SimulatorAddress, type SimulatorOptions } from '../../src/sim/simulator.js';
import { generateLoopbackCertificate, type LoopbackCertificate } from '../../src/sim/certificate.js';

export const API_KEY = '0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d';

let certificate: Promise<LoopbackCertificate> | undefined;
let keyPair: { privateKey: KeyObject; publicKey: KeyObject } | undefined;

/** One certificate and one RSA key per test file: generating them is the slow part. */
export function testKeys(): { privateKey: KeyObject; publicKey: KeyObject; certificate: Promise<LoopbackCertificate> } {
  keyPair ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
  certificate ??= generateLoopbackCertificate();
  return { ...keyPair, certificate };
}

export async function startSimulator(
  options: Partial<SimulatorOptions> = {},
): Promise<{ sim: KalshiSimulator; address: SimulatorAddress }> {
  const keys = testKeys();
  const sim = new KalshiSimulator({
    accounts: [{ apiKey: API_KEY, publicKey: keys.publicKey }],
    certificate: await keys.certificate,
    minHeartbeatS: 1,
    ports: { KalshiNR: 0, KalshiRT: 0 },
    ...options,
  });
  const address = await sim.start();
  return { sim, address };
}

/** A session wired to collect everything it delivers and reports, for assertions. */
export interface Harness {
  session: ListenerSession;
  messages: Array<{ message: FixMessage; info: DeliveryInfo }>;
  events: SessionEvent[];
  execIds(): string[];
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  waitForEvent<K extends SessionEvent['kind']>(
    kind: K,
    timeoutMs?: number,
    match?: (e: Extract<SessionEvent, { kind: K }>) => boolean,
  ): Promise<Extract<SessionEvent, { kind: K }>>;
}

export function createSession(
  address: SimulatorAddress,
  options: Partial<ListenerSessionOptions> & { targetCompId?: string } = {},
): Harness {
  const target = options.targetCompId ?? 'KalshiNR';
  const port = address.ports[target as 'KalshiNR'];
  const messages: Harness['messages'] = [];
  const events: SessionEvent[] = [];
  const session = new ListenerSession({
    host: address.host,
    port: port!,
    senderCompId: API_KEY,
    targetCompId: target,
    privateKey: testKeys().privateKey,
    heartbeatIntervalS: 1,
    extraCa: address.ca,
    reconnect: { initialMs: 50, maxMs: 200 },
    ...options,
    onApplicationMessage: (message, info) => {
      messages.push({ message, info });
      options.onApplicationMessage?.(message, info);
    },
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  const waitFor: Harness['waitFor'] = async (predicate, timeoutMs = 10_000, what = 'condition') => {
    await vi.waitFor(
      () => {
        if (!predicate())
          throw new Error(
            `timed out waiting for ${what}; events: ${events
              .slice(-15)
              .map((e) => JSON.stringify(e, errorReplacer))
              .join('\n')}`,
          );
      },
      { timeout: timeoutMs, interval: 10 },
    );
  };
  return {
    session,
    messages,
    events,
    execIds: () => messages.filter((m) => m.message.msgType === '8').map((m) => m.message.get(17)!),
    waitFor,
    waitForEvent: async (kind, timeoutMs = 10_000, match = () => true) => {
      let found: SessionEvent | undefined;
      await waitFor(
        () => (found = events.find((e) => e.kind === kind && match(e as never))) !== undefined,
        timeoutMs,
        `event ${kind}`,
      );
      return found as never;
    },
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { code: (value as Error & { code?: string }).code, message: value.message } : value;
}
