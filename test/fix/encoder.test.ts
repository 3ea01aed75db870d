import { describe, expect, it } from 'vitest';
import { encodeMessage, ListenerGuardEncoder } from '../../src/fix/encoder.js';
import { ADMIN_MSG_TYPES } from '../../src/fix/tags.js';
import { isListenerError } from '../../src/core/errors.js';
import { decodeAll } from '../helpers/fix.js';

const header = { senderCompId: 'key', targetCompId: 'KalshiNR', msgSeqNum: 9, sendingTime: '20260822-14:00:00.000' };

describe('encodeMessage', () => {
  it('writes PossDup and OrigSendingTime after the standard header', () => {
    const text = encodeMessage('4', { ...header, possDup: true, origSendingTime: '20260822-13:00:00.000' }, [
      [123, 'Y'],
      [36, 12],
    ]).toString('latin1');
    expect(text).toContain(
      '\x0134=9\x0152=20260822-14:00:00.000\x0143=Y\x01122=20260822-13:00:00.000\x01123=Y\x0136=12\x0110=',
    );
    expect(decodeAll([Buffer.from(text, 'latin1')]).errors).toEqual([]);
  });

  it('counts UTF-8 bytes in BodyLength', () => {
    const frame = encodeMessage('5', header, [[58, 'déjà vu']]);
    const { messages, errors } = decodeAll([frame]);
    expect(errors).toEqual([]);
    expect(messages[0]!.get(58)).toBe('déjà vu');
  });

  it('refuses a value containing SOH outside a data field', () => {
    expect(() => encodeMessage('5', header, [[58, 'a\x01b']])).toThrow(/contains SOH/);
  });
});

describe('ListenerGuardEncoder', () => {
  it.each([...ADMIN_MSG_TYPES])('encodes admin message 35=%s', (msgType) => {
    expect(new ListenerGuardEncoder().encode(msgType, header, []).length).toBeGreaterThan(0);
  });

  it.each(['D', 'F', 'G', 'q', '8', 'AB', 'U1', 'UOG', 'j', 'R'])(
    'refuses application message 35=%s with ERR_FIX_LISTENER_GUARD',
    (msgType) => {
      // Prepare
      const encoder = new ListenerGuardEncoder();
      // Act
      let thrown: unknown;
      try {
        encoder.encode(msgType, header, [
          [11, 'c1'],
          [55, 'BTC-PERP'],
          [54, 1],
          [38, '1.00'],
        ]);
      } catch (error) {
        thrown = error;
      }
      // Assess
      expect(isListenerError(thrown, 'ERR_FIX_LISTENER_GUARD')).toBe(true);
    },
  );

  it('allows an explicitly permitted read-only request such as a drop-copy U1', () => {
    const encoder = new ListenerGuardEncoder(new Set([...ADMIN_MSG_TYPES, 'U1']));
    expect(encoder.encode('U1', header, [[21001, '1;1']]).toString('latin1')).toContain('35=U1');
    expect(() => encoder.encode('D', header, [])).toThrow(/refuses/);
  });

  it.each(['D', 'F', 'G', 'q', 'AB', 'j'])(
    'refuses 35=%s even when the permitted set names it: the guard has a ceiling no option lifts',
    (msgType) => {
      // Prepare: a caller that asks for an order-entry type.
      const encoder = new ListenerGuardEncoder(new Set([...ADMIN_MSG_TYPES, msgType]));
      // Act / Assess
      expect(() => encoder.encode(msgType, header, [[11, 'c1']])).toThrow(
        expect.objectContaining({ code: 'ERR_FIX_LISTENER_GUARD' }),
      );
      expect(encoder.encode('0', header, []).length).toBeGreaterThan(0);
    },
  );
});
