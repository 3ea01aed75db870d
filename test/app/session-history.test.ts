import { describe, expect, it } from 'vitest';
import { SessionHistory } from '../../src/app/session-history.js';
import { ListenerError } from '../../src/core/errors.js';
import type { SessionEvent } from '../../src/fix/session.js';

const refused: SessionEvent = {
  kind: 'disconnected',
  reason: new ListenerError('ERR_FIX_TRANSPORT', 'connection to fix.test:8228 failed: connect ECONNREFUSED'),
};

describe('SessionHistory', () => {
  it('keeps logons, logouts and disconnects with their reasons, newest first, and nothing else', () => {
    // Prepare
    const history = new SessionHistory();
    // Act
    history.record({ kind: 'state', from: 'disconnected', to: 'connecting' }, 1);
    history.record({ kind: 'connected', host: 'fix.test', port: 8228 }, 2);
    history.record({ kind: 'logon', heartbeatIntervalS: 30, reset: false, nextInbound: 42, nextOutbound: 7 }, 3);
    history.record({ kind: 'duplicate', seqNum: 41 }, 4);
    history.record({ kind: 'logout', initiator: 'exchange', text: 'maintenance' }, 5);
    history.record(
      { kind: 'disconnected', reason: new ListenerError('ERR_FIX_LOGOUT', 'KalshiRT logged the session out') },
      6,
    );
    history.record({ kind: 'reconnect_scheduled', delayMs: 500, attempt: 1 }, 7);
    history.record({ kind: 'logon', heartbeatIntervalS: 30, reset: true, nextInbound: 1, nextOutbound: 1 }, 8);
    history.record({ kind: 'logout', initiator: 'listener', text: 'operator requested reconnect' }, 9);
    history.record({ kind: 'disconnected', reason: undefined }, 10);
    history.record({ kind: 'logout', initiator: 'listener', text: undefined }, 11);
    // Assess
    expect(history.list().map((e) => [e.at, e.kind, e.code, e.text])).toEqual([
      [11, 'logout', null, 'the listener logged out: stopping'],
      [10, 'disconnected', null, 'connection closed'],
      [9, 'logout', null, 'the listener logged out: operator requested reconnect'],
      [8, 'logon', null, 'logged on, sequence numbers reset (ResetSeqNumFlag=Y)'],
      [6, 'disconnected', 'ERR_FIX_LOGOUT', 'KalshiRT logged the session out'],
      [5, 'logout', null, 'the exchange logged out: maintenance'],
      [3, 'logon', null, 'logged on, resuming at MsgSeqNum 42'],
    ]);
  });

  it('keeps the last 20 only, overwriting the oldest', () => {
    // Prepare
    const history = new SessionHistory();
    // Act: 25 logons, each different.
    for (let i = 1; i <= 25; i++)
      history.record({ kind: 'logon', heartbeatIntervalS: 30, reset: false, nextInbound: i, nextOutbound: 1 }, i);
    // Assess
    const list = history.list();
    expect(list).toHaveLength(20);
    expect(list.map((e) => e.at)).toEqual(Array.from({ length: 20 }, (_, i) => 25 - i));
  });

  it('counts the same event in a row once, so an outage does not push the last logon out', () => {
    // Prepare: logged on, then 50 refused attempts.
    const history = new SessionHistory(3);
    history.record({ kind: 'logon', heartbeatIntervalS: 30, reset: false, nextInbound: 9, nextOutbound: 1 }, 100);
    // Act
    for (let i = 0; i < 50; i++) history.record(refused, 200 + i);
    // Assess
    expect(history.list()).toEqual([
      {
        kind: 'disconnected',
        at: 249,
        firstAt: 200,
        count: 50,
        code: 'ERR_FIX_TRANSPORT',
        text: 'connection to fix.test:8228 failed: connect ECONNREFUSED',
      },
      { kind: 'logon', at: 100, firstAt: 100, count: 1, code: null, text: 'logged on, resuming at MsgSeqNum 9' },
    ]);
  });

  it('starts a new entry when the reason changes, and counts in a full ring too', () => {
    // Prepare: a full ring of two.
    const history = new SessionHistory(2);
    history.record({ kind: 'logout', initiator: 'exchange', text: 'a' }, 1);
    history.record(refused, 2);
    // Act
    history.record(refused, 3);
    history.record({ kind: 'disconnected', reason: new ListenerError('ERR_FIX_CONNECT_TIMEOUT', 'timed out') }, 4);
    history.record({ kind: 'disconnected', reason: new ListenerError('ERR_FIX_CONNECT_TIMEOUT', 'timed out') }, 5);
    // Assess
    expect(history.list().map((e) => [e.code, e.firstAt, e.at, e.count])).toEqual([
      ['ERR_FIX_CONNECT_TIMEOUT', 4, 5, 2],
      ['ERR_FIX_TRANSPORT', 2, 3, 2],
    ]);
  });

  it('hands out copies: a reader cannot change what it keeps', () => {
    // Prepare
    const history = new SessionHistory();
    history.record(refused, 1);
    // Act
    history.list()[0]!.count = 99;
    // Assess
    expect(history.list()[0]!.count).toBe(1);
  });
});
