import { FixDecoder } from '../../src/fix/decoder.js';
import type { FixMessage } from '../../src/fix/message.js';
import type { ListenerError } from '../../src/core/errors.js';

/** `a|b|c|` text with `|` as SOH → bytes. */
export function fix(text: string): Buffer {
  return Buffer.from(text.replaceAll('|', '\x01'), 'latin1');
}

/** Decodes chunks and collects what came out. */
export function decodeAll(
  chunks: readonly Uint8Array[],
  maxMessageBytes?: number,
): { messages: FixMessage[]; errors: ListenerError[]; decoder: FixDecoder } {
  const messages: FixMessage[] = [];
  const errors: ListenerError[] = [];
  const decoder = new FixDecoder({
    onMessage: (m) => messages.push(m),
    onError: (e) => errors.push(e),
    ...(maxMessageBytes === undefined ? {} : { maxMessageBytes }),
  });
  for (const chunk of chunks) decoder.push(chunk);
  return { messages, errors, decoder };
}
