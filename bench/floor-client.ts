/**
 * The floor (issue 29): the least a durable FIX drop-copy client can do. A Node TLS client that
 * logs on (the Logon built by src's `logonFields` + `encodeMessage`, Kalshi's signature included),
 * then only splits the feed on the CheckSum field (`SOH 10=xxx SOH`) to count whole messages, and
 * appends every socket read, as read, to a file opened O_DSYNC (DurableAppender: one write in flight,
 * the reads that arrive meanwhile go out together in the next). No parsing, no session layer
 * beyond a Heartbeat every HeartBtInt (which keeps the exchange from sending TestRequests) and a
 * Logout at stop. A message counts once the read that completes it is on disk.
 *
 * The listener does all of this and more (parse, record, dedupe, sinks), so its CPU per report
 * over the floor's, measured in the same rounds, is a ratio that holds on any host.
 */
import type { KeyObject } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import { encodeMessage } from '../src/fix/encoder.js';
import { logonFields } from '../src/fix/logon.js';
import { formatUtcTimestamp } from '../src/fix/time.js';
import { DurableAppender } from './durable-append.js';

const SOH = 0x01;
/** The CheckSum field's start: SOH, then tag 10 (tag 110 would be SOH 1 1 0 =, which this never matches). */
const CHECKSUM = Buffer.from('\x0110=', 'latin1');
const LOGON_REPLY = Buffer.from('\x0135=A\x01', 'latin1');
const TARGET = 'KalshiRT';

export interface ReferenceClientOptions {
  host: string;
  port: number;
  /** The exchange's certificate (PEM) to trust. */
  ca: string;
  apiKey: string;
  privateKey: KeyObject;
  heartbeatS: number;
  /** The file every read is appended to (created). */
  file: string;
}

export interface ReferenceClient {
  /** Messages (the floor) or ExecutionReports (jspurefix) durable in the file so far. */
  durable(): number;
  /** Logout, the socket closed, the file's last write durable and the file closed. */
  stop(): Promise<void>;
}

/** Splits a byte stream on CheckSum fields that may straddle reads; counts whole messages. */
export class CheckSumSplitter {
  /** Bytes of the last read that may begin a CheckSum field (or one begun and not yet ended). */
  #tail: Buffer = Buffer.alloc(0);

  /** How many messages end in `chunk`. */
  push(chunk: Buffer): number {
    let count = 0;
    let from = 0;
    let bytes = chunk;
    const tail = this.#tail;
    if (tail.length > 0) {
      if (chunk.length < 16) {
        // A sliver of a read: join it whole (cheap at this size) and scan the join.
        bytes = Buffer.concat([tail, chunk]);
      } else {
        // Only a field that starts in the tail is looked for across the seam; the rest is the chunk's.
        const seam = Buffer.concat([tail, chunk.subarray(0, 8)]);
        const at = seam.indexOf(CHECKSUM);
        if (at !== -1 && at < tail.length) {
          const end = seam.indexOf(SOH, at + CHECKSUM.length);
          if (end !== -1) {
            count++;
            from = end + 1 - tail.length;
          }
        }
      }
    }
    for (;;) {
      const at = bytes.indexOf(CHECKSUM, from);
      if (at === -1) break;
      const end = bytes.indexOf(SOH, at + CHECKSUM.length);
      if (end === -1) {
        this.#tail = bytes.subarray(at);
        return count;
      }
      count++;
      from = end + 1;
    }
    // Up to three bytes (SOH, 1, 0) can be the start of a CheckSum field the next read completes.
    this.#tail = bytes.subarray(Math.max(from, bytes.length - (CHECKSUM.length - 1)));
    return count;
  }
}

export async function startFloorClient(options: ReferenceClientOptions): Promise<ReferenceClient> {
  const appender = await DurableAppender.open(options.file);
  const splitter = new CheckSumSplitter();
  let seq = 1;
  let loggedOn = false;
  let firstMessage = Buffer.alloc(0);
  const header = () => ({
    senderCompId: options.apiKey,
    targetCompId: TARGET,
    msgSeqNum: seq++,
    sendingTime: formatUtcTimestamp(Date.now()),
  });

  const socket: TLSSocket = connect({ host: options.host, port: options.port, ca: [options.ca] });
  let heartbeat: NodeJS.Timeout | undefined;

  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      socket.off('error', fail);
      socket.off('close', closedEarly);
      socket.destroy();
      appender.close().catch(() => undefined);
      reject(error);
    };
    const closedEarly = () => fail(new Error('the exchange closed the connection before the Logon reply'));
    socket.on('error', fail);
    socket.on('close', closedEarly);
    socket.once('secureConnect', () => {
      const sendingTime = formatUtcTimestamp(Date.now());
      const fields = logonFields({
        senderCompId: options.apiKey,
        targetCompId: TARGET,
        privateKey: options.privateKey,
        msgSeqNum: seq,
        sendingTime,
        heartbeatIntervalS: options.heartbeatS,
        reset: true,
        listener: true,
        messageRetentionHours: 72,
        extraFields: [],
      });
      socket.write(encodeMessage('A', { ...header(), sendingTime }, fields));
    });
    socket.on('data', (chunk: Buffer) => {
      const messages = splitter.push(chunk);
      appender.append(chunk, messages);
      if (loggedOn) return;
      // Until the Logon reply is whole, keep its bytes to check what it is.
      firstMessage = Buffer.concat([firstMessage, chunk]);
      if (messages === 0) return;
      const at = firstMessage.indexOf(LOGON_REPLY);
      if (at === -1 || at > 40) {
        fail(new Error(`Logon refused: ${firstMessage.toString('latin1').replaceAll('\x01', '|')}`));
        return;
      }
      loggedOn = true;
      firstMessage = Buffer.alloc(0);
      socket.off('error', fail);
      socket.off('close', closedEarly);
      socket.on('error', () => undefined); // a reset at stop; the close that follows is awaited
      heartbeat = setInterval(() => socket.write(encodeMessage('0', header(), [])), options.heartbeatS * 1000);
      resolve();
    });
  });
  const closed = new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });

  return {
    durable: () => appender.durable,
    async stop() {
      clearInterval(heartbeat);
      if (!socket.destroyed) {
        socket.write(encodeMessage('5', header(), []));
        // The exchange answers with its Logout and ends the connection.
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000))]);
        socket.destroy();
      }
      await appender.close();
    },
  };
}
