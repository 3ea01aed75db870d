import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMessage, type Field } from '../../src/fix/encoder.js';
import { decodeAll, fix } from '../helpers/fix.js';

// kalshi-fix-margin.md §5.5 and §2.5: real-shaped frames with BodyLength and CheckSum computed by hand.
const SAMPLE_ER =
  '8=FIXT.1.1|9=383|35=8|49=KalshiNR|56=0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d|34=7|52=20260822-14:03:07.412|6=19.5000|11=550e8400-e29b-41d4-a716-446655440000|14=4.00|17=1523;88|30=0|31=19.5000|32=4.00|37=ord-7f3a|38=10.00|39=1|44=19.5000|54=1|55=BTC-PERP|60=20260822-14:03:07.401|150=F|151=6.00|136=1|137=0.0700|138=USD|139=4|891=0|704=4.00|705=0.00|880=trd-91c2|1057=Y|1703=1|1704=-78.0700|1705=BALANCE|10=252|';
const SAMPLE_LOGON_REPLY =
  '8=FIXT.1.1|9=112|35=A|49=KalshiNR|56=0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d|34=1|52=20260822-14:00:00.180|98=0|108=30|141=Y|1137=9|10=161|';

const header = { senderCompId: 'KalshiNR', targetCompId: 'key', msgSeqNum: 3, sendingTime: '20260822-14:03:07.412' };

describe('FixDecoder', () => {
  describe('push', () => {
    it('decodes the documented ExecutionReport sample with its groups', () => {
      // Act
      const { messages, errors } = decodeAll([fix(SAMPLE_ER)]);
      // Assess
      expect(errors).toEqual([]);
      expect(messages).toHaveLength(1);
      const m = messages[0]!;
      expect(m.msgType).toBe('8');
      expect(m.seqNum).toBe(7);
      expect(m.get(17)).toBe('1523;88');
      expect(m.get(1704)).toBe('-78.0700');
      expect(m.getInt(136)).toBe(1);
      expect(m.getFlag(1057)).toBe(true);
      expect(m.toString()).toBe(SAMPLE_ER);
    });

    it('decodes many frames in one chunk and a frame split byte by byte', () => {
      // Prepare
      const two = Buffer.concat([fix(SAMPLE_LOGON_REPLY), fix(SAMPLE_ER)]);
      const bytes = [...fix(SAMPLE_ER)].map((b) => Uint8Array.of(b));
      // Act
      const together = decodeAll([two]);
      const split = decodeAll(bytes);
      // Assess
      expect(together.messages.map((m) => m.msgType)).toEqual(['A', '8']);
      expect(split.messages).toHaveLength(1);
      expect(split.messages[0]!.toString()).toBe(SAMPLE_ER);
      expect(split.decoder.bufferedBytes).toBe(0);
    });

    it('decodes frames longer than the join window when they straddle large chunks', () => {
      // Prepare: 20 KB frames (a long UTF-8 Text) cut into 16 KiB chunks, so every frame spans
      // two or three chunks and the straddling part exceeds what one join copies.
      const text = 'é'.repeat(5_000) + 'x'.repeat(10_000);
      const frames = [1, 2, 3, 4].map((n) =>
        encodeMessage('8', { ...header, msgSeqNum: n }, [
          [17, `exec-${n}`],
          [58, text],
        ]),
      );
      const stream = Buffer.concat([fix(SAMPLE_ER), ...frames, fix(SAMPLE_ER)]);
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length; at += 16_384) chunks.push(stream.subarray(at, at + 16_384));
      // Act
      const { messages, errors, decoder } = decodeAll(chunks);
      // Assess
      expect(errors).toEqual([]);
      expect(messages.map((m) => m.get(17))).toEqual(['1523;88', 'exec-1', 'exec-2', 'exec-3', 'exec-4', '1523;88']);
      expect(messages[2]!.get(58)).toBe(text);
      expect(messages[2]!.bytes.equals(frames[1]!)).toBe(true);
      expect(messages[2]!.toString()).toBe(frames[1]!.toString('utf8').replaceAll('\x01', '|'));
      expect(decoder.bufferedBytes).toBe(0);
    });

    it('reads RawData(96) by RawDataLength(95) even when it contains SOH', () => {
      // Prepare
      const raw = 'ab\x01cd=\x01';
      const frame = encodeMessage('A', header, [
        [98, 0],
        [95, raw.length],
        [96, raw],
        [108, 30],
      ]);
      // Act
      const { messages, errors } = decodeAll([frame]);
      // Assess
      expect(errors).toEqual([]);
      expect(messages[0]!.get(96)).toBe(raw);
      expect(messages[0]!.getInt(108)).toBe(30);
      expect(messages[0]!.toString()).toBe(frame.toString('latin1').replaceAll('\x01', '|'));
      expect(messages[0]!.toString()).toContain('|96=ab|cd=||108=30|');
    });

    it('rejects a bad checksum with ERR_FIX_CHECKSUM and keeps decoding the next frame', () => {
      // Prepare
      const bad = fix(SAMPLE_ER.replace('10=252', '10=253'));
      // Act
      const { messages, errors } = decodeAll([Buffer.concat([bad, fix(SAMPLE_LOGON_REPLY)])]);
      // Assess
      expect(errors.map((e) => e.code)).toEqual(['ERR_FIX_CHECKSUM']);
      expect(errors[0]!.details).toMatchObject({ seqNum: 7, msgType: '8' });
      expect(messages.map((m) => m.msgType)).toEqual(['A']);
    });

    it('rejects a wrong BodyLength and resynchronises on the next frame', () => {
      // Prepare
      const bad = fix(SAMPLE_ER.replace('9=383', '9=380'));
      // Act
      const { messages, errors } = decodeAll([Buffer.concat([bad, fix(SAMPLE_LOGON_REPLY)])]);
      // Assess
      expect(errors[0]!.code).toBe('ERR_FIX_BODY_LENGTH');
      expect(messages.map((m) => m.msgType)).toEqual(['A']);
    });

    it('skips garbage between frames, including a split "8=FIX" prefix', () => {
      // Prepare
      const frame = fix(SAMPLE_LOGON_REPLY);
      const stream = Buffer.concat([Buffer.from('noise\r\n'), frame, Buffer.from('xx8=F'), Buffer.from('8=F')]);
      // Act
      const { messages, errors, decoder } = decodeAll([stream.subarray(0, 10), stream.subarray(10)]);
      decoder.push(Buffer.concat([Buffer.from('IXT.1.1\x01'), frame.subarray('8=FIXT.1.1\x01'.length)]));
      // Assess
      expect(messages.map((m) => m.msgType)).toEqual(['A', 'A']);
      expect(errors.every((e) => e.code === 'ERR_FIX_GARBLED')).toBe(true);
      expect(errors.length).toBeGreaterThanOrEqual(2);
    });

    it('refuses a frame over the size limit without buffering it', () => {
      // Act
      const { messages, errors, decoder } = decodeAll([fix('8=FIXT.1.1|9=999999|35=8|')], 4096);
      // Assess
      expect(errors[0]!.code).toBe('ERR_FIX_FRAME_TOO_LARGE');
      expect(messages).toEqual([]);
      expect(decoder.bufferedBytes).toBeLessThan(8);
    });

    it('rejects a frame whose third field is not MsgType', () => {
      // Prepare
      const frame = encodeMessage('0', header, []);
      const swapped = Buffer.from(frame.toString('latin1').replace('35=0\x01', '49=X\x01'), 'latin1');
      // Act
      const { messages, errors } = decodeAll([swapped]);
      // Assess
      expect(messages).toEqual([]);
      expect(errors[0]!.code).not.toBeUndefined();
    });

    it('never shows a logon signature in an error preview', () => {
      // Prepare
      const frame = encodeMessage('A', header, [
        [95, 4],
        [96, 'SEcr'],
        [108, 30],
      ]);
      const corrupted = Buffer.from(frame.toString('latin1').replace(/10=\d{3}/, '10=000'), 'latin1');
      // Act
      const { errors } = decodeAll([corrupted]);
      // Assess
      expect(errors[0]!.code).toBe('ERR_FIX_CHECKSUM');
      expect(JSON.stringify(errors[0]!.details)).not.toContain('SEcr');
    });
  });
});

const valueArb = fc.string({ unit: fc.constantFrom(...'abcXYZ019;.-_ =:/'.split('')), minLength: 1, maxLength: 40 });
const fieldsArb = fc.array(
  fc.tuple(
    fc.integer({ min: 1, max: 30000 }).filter((t) => ![8, 9, 10, 35, 95, 96, 90, 91, 93, 89, 212, 213].includes(t)),
    valueArb,
  ),
  { maxLength: 40 },
);

// Many generated inputs: more than the 5 s default on a busy machine.
describe('FixDecoder properties', { timeout: 30_000 }, () => {
  it('any valid message survives encode → decode for any split of the byte stream', () => {
    fc.assert(
      fc.property(
        fc.array(fieldsArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (bodies, cuts) => {
          // Prepare
          const frames = bodies.map((body, i) => encodeMessage('8', { ...header, msgSeqNum: i + 1 }, body as Field[]));
          const stream = Buffer.concat(frames);
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let last = 0;
          for (const p of points) {
            chunks.push(stream.subarray(last, p));
            last = p;
          }
          chunks.push(stream.subarray(last));
          // Act
          const { messages, errors } = decodeAll(chunks);
          // Assess
          expect(errors).toEqual([]);
          expect(messages.map((m) => m.fields().slice(5))).toEqual(bodies.map((b) => b.map(([t, v]) => [t, v])));
          expect(messages.map((m) => m.seqNum)).toEqual(bodies.map((_, i) => i + 1));
          expect(messages.map((m) => m.toString())).toEqual(
            frames.map((f) => f.toString('utf8').replaceAll('\x01', '|')),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('corrupt bytes are reported or tolerated, never thrown, and later valid frames still decode', () => {
    fc.assert(
      fc.property(fieldsArb, fc.uint8Array({ maxLength: 200 }), fc.nat(), (body, noise, at) => {
        // Prepare
        const frame = encodeMessage('8', header, body);
        const damaged = Buffer.from(frame);
        const position = at % damaged.length;
        damaged[position] = (damaged[position]! + 1 + (at % 200)) & 0xff;
        const good = encodeMessage('0', { ...header, msgSeqNum: 99 }, []);
        // A damaged BodyLength can claim up to 9,999 bytes: the decoder rightly waits for them, so
        // the stream goes on past that (as heartbeats would) before the good frame must reappear.
        const later = Array.from({ length: 200 }, (_, i) => encodeMessage('0', { ...header, msgSeqNum: 100 + i }, []));
        // Act
        const { messages } = decodeAll([Buffer.from(noise), damaged, good, ...later]);
        // Assess: the good frame survives whatever came before it, and so does everything after it.
        const seqNums = messages.map((m) => m.seqNum);
        expect(seqNums).toContain(99);
        expect(seqNums.slice(seqNums.indexOf(99))).toEqual(Array.from({ length: 201 }, (_, i) => 99 + i));
      }),
      { numRuns: 500 },
    );
  });

  it('fuzz: arbitrary byte streams, in arbitrary chunks, never throw and never hold more than one frame', () => {
    const frameish = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .constantFrom(
          ...[
            fix('8=FIXT.1.1|9=5|35=0|10=000|'),
            fix('8=FIXT.1.1|9=99999999|'),
            fix('8=FIX'),
            fix('|10=123|'),
            fix('8=FIXT.1.1|9=|35=A|'),
          ],
        )
        .map((b) => new Uint8Array(b)),
    );
    fc.assert(
      fc.property(fc.array(frameish, { maxLength: 20 }), (chunks) => {
        const { errors, decoder } = decodeAll(chunks, 4096);
        expect(decoder.bufferedBytes).toBeLessThanOrEqual(4096 + 64);
        for (const error of errors) expect(error.code).toMatch(/^ERR_FIX_/);
      }),
      { numRuns: 2000 },
    );
  });
});
