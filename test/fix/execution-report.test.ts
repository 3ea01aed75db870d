import { describe, expect, it } from 'vitest';
import { decodeExecutionReport, sumDecimals } from '../../src/fix/execution-report.js';
import { encodeMessage } from '../../src/fix/encoder.js';
import { fixTimestampToEpochMs, fixTimestampToIso, formatUtcTimestamp } from '../../src/fix/time.js';
import { RECORD_COLUMNS } from '../../src/core/record.js';
import { decodeAll, fix } from '../helpers/fix.js';

const SAMPLE_ER =
  '8=FIXT.1.1|9=383|35=8|49=KalshiNR|56=0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d|34=7|52=20260822-14:03:07.412|6=19.5000|11=550e8400-e29b-41d4-a716-446655440000|14=4.00|17=1523;88|30=0|31=19.5000|32=4.00|37=ord-7f3a|38=10.00|39=1|44=19.5000|54=1|55=BTC-PERP|60=20260822-14:03:07.401|150=F|151=6.00|136=1|137=0.0700|138=USD|139=4|891=0|704=4.00|705=0.00|880=trd-91c2|1057=Y|1703=1|1704=-78.0700|1705=BALANCE|10=252|';

function decodeOne(bytes: Buffer) {
  const { messages, errors } = decodeAll([bytes]);
  expect(errors).toEqual([]);
  return messages[0]!;
}

describe('decodeExecutionReport', () => {
  it('maps the documented partial fill to the archive record, decimals as exact strings', () => {
    // Act
    const record = decodeExecutionReport(decodeOne(fix(SAMPLE_ER)), {
      receivedAt: Date.parse('2026-08-22T14:03:07.450Z'),
      source: 'live',
    });
    // Assess
    expect(record).toMatchObject({
      schema_version: 1,
      exec_id: '1523;88',
      order_id: 'ord-7f3a',
      cl_ord_id: '550e8400-e29b-41d4-a716-446655440000',
      orig_cl_ord_id: null,
      exec_type: 'F',
      ord_status: '1',
      symbol: 'BTC-PERP',
      side: '1',
      price: '19.5000',
      order_qty: '10.00',
      last_px: '19.5000',
      last_qty: '4.00',
      leaves_qty: '6.00',
      cum_qty: '4.00',
      avg_px: '19.5000',
      transact_time: '2026-08-22T14:03:07.401Z',
      sending_time: '2026-08-22T14:03:07.412Z',
      received_at: '2026-08-22T14:03:07.450Z',
      msg_seq_num: 7,
      poss_dup: false,
      trd_match_id: 'trd-91c2',
      aggressor: true,
      fee_total: '0.0700',
      long_qty: '4.00',
      short_qty: '0.00',
      session_id: 'KalshiNR/0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d',
      source: 'live',
      fees: [{ amount: '0.0700', currency: 'USD', fee_type: '4', basis: '0' }],
      collateral_changes: [{ amount: '-78.0700', amount_type: 'BALANCE' }],
      parties: [],
      raw: SAMPLE_ER,
    });
  });

  it('has exactly the declared columns, in order, on every record', () => {
    const record = decodeExecutionReport(decodeOne(fix(SAMPLE_ER)), { receivedAt: 0, source: 'live' });
    expect(Object.keys(record)).toEqual(RECORD_COLUMNS.map((c) => c.name));
  });

  it('reads a reject with parties, subaccount, clearing date and microsecond time', () => {
    // Prepare
    const frame = encodeMessage(
      '8',
      {
        senderCompId: 'KalshiRT',
        targetCompId: 'k',
        msgSeqNum: 12,
        sendingTime: '20260822-14:03:07.412',
        possDup: true,
        origSendingTime: '20260822-14:03:07.000',
      },
      [
        [37, 'o1'],
        [11, 'c2'],
        [41, 'c1'],
        [17, '9;1'],
        [150, '8'],
        [39, '8'],
        [55, 'ETH-PERP'],
        [54, 2],
        [38, '3.00'],
        [14, '0.00'],
        [151, '0.00'],
        [6, '0.0000'],
        [60, '20260822-14:03:07.401123'],
        [103, 2],
        [58, 'EXCHANGE_PAUSED'],
        [79, 5],
        [715, '20260822'],
        [453, 2],
        [448, 'acct-1'],
        [447, 'D'],
        [452, 24],
        [448, 'op-9'],
        [452, 12],
        [136, 2],
        [137, '0.0100'],
        [138, 'USD'],
        [139, 4],
        [891, 0],
        [137, '0.025'],
        [138, 'USD'],
        [139, 4],
        [891, 0],
      ],
    );
    // Act
    const record = decodeExecutionReport(decodeOne(frame), { receivedAt: 0, source: 'resend' });
    // Assess
    expect(record).toMatchObject({
      exec_type: '8',
      orig_cl_ord_id: 'c1',
      ord_rej_reason: 2,
      text: 'EXCHANGE_PAUSED',
      alloc_account: 5,
      clearing_business_date: '2026-08-22',
      transact_time: '2026-08-22T14:03:07.401123Z',
      poss_dup: true,
      source: 'resend',
      party_id: 'acct-1',
      fee_total: '0.0350',
      parties: [
        { id: 'acct-1', id_source: 'D', party_role: '24' },
        { id: 'op-9', id_source: null, party_role: '12' },
      ],
      aggressor: null,
      last_px: null,
      long_qty: null,
    });
  });

  it('gives a report without ExecID a surrogate id that survives a PossDup resend', () => {
    // Prepare
    const body: Array<[number, string]> = [
      [37, 'o1'],
      [150, '0'],
      [39, '0'],
      [55, 'X'],
    ];
    const live = encodeMessage(
      '8',
      { senderCompId: 'KalshiRT', targetCompId: 'k', msgSeqNum: 3, sendingTime: '20260822-14:03:07.412' },
      body,
    );
    const resent = encodeMessage(
      '8',
      {
        senderCompId: 'KalshiRT',
        targetCompId: 'k',
        msgSeqNum: 3,
        sendingTime: '20260822-15:00:00.000',
        possDup: true,
        origSendingTime: '20260822-14:03:07.412',
      },
      body,
    );
    // Act
    const a = decodeExecutionReport(decodeOne(live), { receivedAt: 0, source: 'live' });
    const b = decodeExecutionReport(decodeOne(resent), { receivedAt: 0, source: 'resend' });
    // Assess
    expect(a.exec_id).toMatch(/^noexecid:[0-9a-f]{32}$/);
    expect(b.exec_id).toBe(a.exec_id);
  });

  it('keeps ExecIDs that differ in one invalid UTF-8 byte apart, and raw as the exact bytes', () => {
    // Prepare: two frames whose ExecIDs differ only in a byte that is not UTF-8 (0xFF / 0xFE).
    const frameWith = (byte: number) => {
      const frame = fix(SAMPLE_ER.replace('17=1523;88|', '17=1523;8Z|'));
      const at = frame.indexOf('17=1523;8Z') + 9;
      frame[at] = byte;
      // The CheckSum is the byte sum of everything before its field.
      const end = frame.lastIndexOf('10=');
      let sum = 0;
      for (let k = 0; k < end; k++) sum += frame[k]!;
      frame.write(String(sum % 256).padStart(3, '0'), end + 3, 'latin1');
      return frame;
    };
    const a = frameWith(0xff);
    const b = frameWith(0xfe);
    // Act
    const first = decodeExecutionReport(decodeOne(a), { receivedAt: 0, source: 'live' });
    const second = decodeExecutionReport(decodeOne(b), { receivedAt: 0, source: 'live' });
    // Assess: distinct ids (no U+FFFD merges them), and raw gives back the wire bytes.
    expect(first.exec_id).toBe(`bytes:${Buffer.from('1523;8\xff', 'latin1').toString('hex')}`);
    expect(second.exec_id).not.toBe(first.exec_id);
    expect(first.raw.startsWith('base64:')).toBe(true);
    expect(Buffer.from(first.raw.slice(7), 'base64').equals(a)).toBe(true);
    expect(decodeExecutionReport(decodeOne(fix(SAMPLE_ER)), { receivedAt: 0, source: 'live' }).exec_id).toBe('1523;88');
  });

  it('keeps an unparsable timestamp out of the ISO column (raw still has it)', () => {
    const frame = encodeMessage(
      '8',
      { senderCompId: 'S', targetCompId: 'T', msgSeqNum: 1, sendingTime: 'not-a-time' },
      [
        [17, '1;1'],
        [60, '2026-08-22'],
      ],
    );
    const record = decodeExecutionReport(decodeOne(frame), { receivedAt: 0, source: 'live' });
    expect(record.transact_time).toBeNull();
    expect(record.sending_time).toBeNull();
    expect(record.raw).toContain('60=2026-08-22');
  });
});

describe('sumDecimals', () => {
  it.each([
    [['0.0100', '0.025'], '0.0350'],
    [['-1.5', '0.25'], '-1.25'],
    [['1', '2'], '3'],
    [['0.1', '0.2'], '0.3'],
  ])('adds %j exactly to %s', (amounts, expected) => {
    expect(sumDecimals(amounts.map((amount) => ({ amount, currency: null, fee_type: null, basis: null })))).toBe(
      expected,
    );
  });

  it('returns null for no fees or a non-decimal amount', () => {
    expect(sumDecimals([])).toBeNull();
    expect(
      sumDecimals([
        { amount: 'x', currency: null, fee_type: null, basis: null },
        { amount: '1', currency: null, fee_type: null, basis: null },
      ]),
    ).toBeNull();
  });
});

describe('fixTimestampToIso', () => {
  it.each([
    ['20260822-14:03:07', '2026-08-22T14:03:07Z'],
    ['20260822-14:03:07.401', '2026-08-22T14:03:07.401Z'],
    ['20260822-14:03:07.401123', '2026-08-22T14:03:07.401123Z'],
    ['20260822-14:03:07.401123456', '2026-08-22T14:03:07.401123456Z'],
  ])('keeps the precision of %s', (fixTime, iso) => expect(fixTimestampToIso(fixTime)).toBe(iso));

  it.each([
    '20261322-14:03:07',
    '20260822-24:00:00',
    '20260822-14:03:07.4',
    '2026-08-22T14:03:07Z',
    '',
    '20260822-14:03:07.40a',
    '20260822 14:03:07',
    '20260822-14:03:07.',
    '20260822-14:60:07',
    '2026082a-14:03:07',
  ])('refuses %s', (value) => expect(fixTimestampToIso(value)).toBeUndefined());

  it('round-trips formatUtcTimestamp through fixTimestampToEpochMs', () => {
    const ms = Date.parse('2026-11-24T01:02:03.004Z');
    expect(formatUtcTimestamp(ms)).toBe('20261124-01:02:03.004');
    expect(fixTimestampToEpochMs(formatUtcTimestamp(ms))).toBe(ms);
    expect(fixTimestampToEpochMs('20261124-01:02:03.004999999')).toBe(ms);
  });
});
