import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { jsonlFormat } from '../../src/pipeline/archive-format.js';
import { LineBuffer } from '../../src/core/line-buffer.js';

describe('jsonlFormat', () => {
  describe('encode', () => {
    it('writes each line and a newline, byte for byte, across pieces and with any characters', async () => {
      // Prepare: many lines crossing 1 MiB pieces, multi-byte text, and one line longer than a piece.
      const lines = [
        ...Array.from({ length: 3000 }, (_, i) =>
          JSON.stringify({ n: i, text: 'é€😀'.repeat(i % 50), pad: 'x'.repeat(400) }),
        ),
        'y'.repeat(1_500_000),
        '{"last":"ü"}',
      ];
      const expected = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
      // Act
      const plain = await jsonlFormat(false).encode(LineBuffer.of(lines));
      const zipped = await jsonlFormat(true).encode(LineBuffer.of(lines));
      // Assess
      expect(plain.equals(expected)).toBe(true);
      expect(gunzipSync(zipped).equals(expected)).toBe(true);
    });

    it('writes nothing for no lines', async () => {
      // Act / Assess
      expect((await jsonlFormat(false).encode(new LineBuffer())).length).toBe(0);
      expect(gunzipSync(await jsonlFormat(true).encode(new LineBuffer())).length).toBe(0);
    });
  });
});
