/**
 * An unsigned decimal integer in bytes[start, end), or -1 when the run is empty, longer than 15
 * digits (beyond exact doubles) or holds anything but digits. Read without building a string: the
 * decoder asks this of BodyLength, MsgSeqNum and CheckSum in every frame.
 */
export function parseDigits(bytes: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}
