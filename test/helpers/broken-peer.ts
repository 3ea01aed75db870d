import type { AddressInfo } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { encodeMessage } from '../../src/fix/encoder.js';
import { formatUtcTimestamp } from '../../src/fix/time.js';
import { API_KEY, testKeys } from './sim.js';

/**
 * A counterparty that answers each Logon properly and then misbehaves as `after` says: the
 * probes of issue 14, on a real TLS socket.
 */
export interface BrokenPeer {
  port: number;
  ca: string;
  logons: number;
  /** Everything the listener sent, as text. */
  received: string;
  behave: 'logout' | 'trickle' | 'quiet' | 'expects39' | 'refusesResume' | 'gapFillsOverLive';
  /** The Logons received, as text. */
  logonTexts: string[];
  server: Server;
  /** The connections open now. */
  sockets: Set<TLSSocket>;
}

export async function startBrokenPeer(behave: BrokenPeer['behave']): Promise<BrokenPeer> {
  const certificate = await testKeys().certificate;
  const peer: BrokenPeer = {
    port: 0,
    ca: certificate.cert,
    logons: 0,
    received: '',
    behave,
    sockets: new Set<TLSSocket>(),
    logonTexts: [],
    server: undefined as unknown as Server, // set below, before anyone reads it
  };
  const timers = new Set<NodeJS.Timeout>();
  peer.server = createServer({ key: certificate.key, cert: certificate.cert }, (socket: TLSSocket) => {
    let seq = 1;
    peer.sockets.add(socket);
    socket.on('close', () => peer.sockets.delete(socket));
    const send = (msgType: string, body: Array<[number, string | number]>) =>
      socket.write(
        encodeMessage(
          msgType,
          {
            senderCompId: 'KalshiNR',
            targetCompId: API_KEY,
            msgSeqNum: seq++,
            sendingTime: formatUtcTimestamp(Date.now()),
          },
          body,
        ),
      );
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      peer.received += text;
      if (peer.behave === 'gapFillsOverLive' && text.includes('\x0135=2\x01')) {
        // Asked to resend 2..: a GapFill through 6, covering the live report at 5 it already sent.
        socket.write(
          encodeMessage(
            '4',
            {
              senderCompId: 'KalshiRT',
              targetCompId: API_KEY,
              msgSeqNum: 2,
              sendingTime: formatUtcTimestamp(Date.now()),
              possDup: true,
            },
            [
              [123, 'Y'],
              [36, 6],
            ],
          ),
        );
        return;
      }
      if (!text.includes('\x0135=A\x01')) return;
      peer.logons++;
      peer.logonTexts.push(text);
      const theirSeq = Number(
        text
          .split('\x01')
          .find((field) => field.startsWith('34='))
          ?.slice(3),
      );
      const reset = text.includes('\x01141=Y\x01');
      const refuse =
        (peer.behave === 'expects39' && theirSeq < 39 && !reset) || (peer.behave === 'refusesResume' && !reset);
      if (refuse) {
        const expecting = peer.behave === 'expects39' ? 39 : theirSeq + 11;
        send('5', [[58, `MsgSeqNum too low, expecting ${expecting} but received ${theirSeq}`]]);
        socket.end();
        return;
      }
      send('A', [
        [98, 0],
        [108, 3],
      ]);
      if (peer.behave === 'logout') {
        send('5', [[58, 'go away']]);
        socket.end();
      } else if (peer.behave === 'gapFillsOverLive') {
        // A live report at 5 right after the Logon (1): 2..4 are missing.
        seq = 5;
        send('8', [
          [17, '1;5'],
          [150, 'F'],
        ]);
      } else if (peer.behave === 'trickle') {
        // A frame that declares 900,000 bytes of body, then one byte every 100 ms.
        socket.write('8=FIXT.1.1\x019=900000\x0135=8\x01');
        const timer = setInterval(() => socket.writable && socket.write('1'), 100);
        timers.add(timer);
        socket.on('close', () => clearInterval(timer));
      }
    });
  });
  await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
  peer.port = (peer.server.address() as AddressInfo).port;
  peer.ca = certificate.cert;
  const close = peer.server.close.bind(peer.server);
  peer.server.close = (callback) => {
    for (const timer of timers) clearInterval(timer);
    return close(callback);
  };
  return peer;
}
