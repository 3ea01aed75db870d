/**
 * The engine reference (issue 29): jspurefix 5.11.4, an off-the-shelf FIX engine in TypeScript,
 * as an initiator against the simulator. jspurefix runs the session (Logon, Heartbeat,
 * TestRequest, sequence checks, Logout) and parses every message (its AsciiParser and MsgView);
 * for each ExecutionReport the application reads the whole message into an object (`toObject()`,
 * what an application of jspurefix works with) and appends it as a JSON line, durably: the same
 * DurableAppender as the floor (O_DSYNC, one write in flight, what arrives meanwhile goes out
 * together in the next). No sinks. A report counts once its line is on disk.
 *
 * Kalshi's Logon: jspurefix builds and encodes it; this session only adds the Kalshi fields and
 * the signature. The signature covers SendingTime and MsgSeqNum, which jspurefix's transmitter
 * stamps when it encodes, so the Logon's SendingTime is fixed first (the transmitter's `time`,
 * which it uses in place of the clock while set) and signed with src's `signLogon`.
 *
 * Dictionary: jspurefix's FIX50SP2.xml with the three Kalshi Logon fields it lacks declared on
 * Logon, so its encoder does not drop them (jspurefix-kalshi.ts). Loaded once per process (a few
 * seconds and ~300 MB: start one per process, and not inside a window).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FixEntity, IJsFixConfig, IJsFixLogger, ILooseObject, ISessionDescription, MsgView } from 'jspurefix';
import { signLogon } from '../src/fix/logon-signature.js';
import { formatUtcTimestamp } from '../src/fix/time.js';
import { DurableAppender } from './durable-append.js';
import type { ReferenceClient, ReferenceClientOptions } from './floor-client.js';
import { jspurefix, kalshiDictionary } from './jspurefix-kalshi.js';

const TARGET = 'KalshiRT';
const EXECUTION_REPORT = '8';

export async function startJspurefixClient(options: ReferenceClientOptions): Promise<ReferenceClient> {
  const jsfix = jspurefix();
  const work = await mkdtemp(join(tmpdir(), 'kfl-bench-jspurefix-'));
  const appender = await DurableAppender.open(options.file);
  const problems: string[] = [];
  const note = (line: string) => {
    problems.push(line);
    if (problems.length > 20) problems.shift();
  };

  // jspurefix's own log, silent but for warnings and errors kept for a failure's message.
  class QuietLogFactory extends jsfix.JsFixLoggerFactory {
    override logger(type: string): IJsFixLogger {
      return {
        info: () => undefined,
        debug: () => undefined,
        warning: (message) => note(`${type}: ${message}`),
        error: (error) => note(`${type}: ${error.message}`),
      };
    }
    override plain(): IJsFixLogger {
      return this.logger('plain');
    }
  }

  let ready: (() => void) | undefined;
  let refused: ((error: Error) => void) | undefined;
  const loggedOn = new Promise<void>((resolve, reject) => {
    ready = resolve;
    refused = reject;
  });
  let stoppedWith: Error | undefined;

  class ReferenceSession extends jsfix.AsciiSession {
    constructor(config: IJsFixConfig) {
      super(config);
    }

    override sendLogon(): void {
      const transmitter = this.transport?.transmitter as unknown as
        { msgSeqNum: number; time: Date | undefined } | undefined;
      const logon = this.config.factory?.logon();
      if (transmitter === undefined || logon === undefined) throw new Error('jspurefix: no transport for the Logon');
      const time = new Date();
      const signature = signLogon(options.privateKey, {
        sendingTime: formatUtcTimestamp(time.getTime()),
        msgSeqNum: transmitter.msgSeqNum,
        senderCompId: options.apiKey,
        targetCompId: TARGET,
      });
      const body: ILooseObject = {
        ...logon,
        DefaultApplVerID: '9',
        RawDataLength: signature.length,
        RawData: signature,
        ListenerSession: true,
        SkipPendingExecReports: true,
        MessageRetentionPeriod: 72,
      };
      transmitter.time = time;
      this.send(jsfix.MsgType.Logon, body, () => (transmitter.time = undefined));
    }

    protected override onApplicationMsg(msgType: string, view: MsgView): void {
      if (msgType !== EXECUTION_REPORT) return;
      const line = Buffer.from(JSON.stringify(view.toObject()) + '\n', 'utf8');
      appender.append(line, 1);
    }

    protected override onLogon(): boolean {
      return true;
    }

    protected override onReady(): void {
      ready?.();
    }

    protected override onStopped(error?: Error): void {
      stoppedWith = error ?? new Error('session stopped');
      refused?.(new Error(`jspurefix session stopped before logon: ${stoppedWith.message}; ${problems.join('; ')}`));
    }

    protected override onDecoded(): void {
      // Nothing: the message text is not needed.
    }

    protected override onEncoded(): void {
      // Nothing.
    }
  }

  const description = {
    application: {
      type: 'initiator',
      name: 'jspurefix-reference',
      protocol: 'ascii',
      dictionary: await kalshiDictionary(work),
      tcp: {
        host: options.host,
        port: options.port,
        tls: { nodeTlsConnectionOptions: { ca: [options.ca] } },
      },
    },
    BeginString: 'FIXT.1.1',
    SenderCompId: options.apiKey,
    TargetCompID: TARGET,
    HeartBtInt: options.heartbeatS,
    ResetSeqNumFlag: true,
  } as unknown as ISessionDescription;

  const system = new jsfix.SessionContainer();
  system.registerGlobal(new QuietLogFactory());
  const container = await system.makeSystem(description);
  await rm(work, { recursive: true, force: true });
  let session: ReferenceSession | undefined;
  container.register(jsfix.DITokens.FixSession, {
    useFactory: (c) => (session = new ReferenceSession(c.resolve<IJsFixConfig>(jsfix.DITokens.IJsFixConfig))),
  });
  const entity = container.resolve<FixEntity>(jsfix.DITokens.FixEntity);
  // Resolves once the session has ended (after the Logout at stop).
  const running = entity.start().then(
    () => undefined,
    (error: unknown) => {
      note(`initiator: ${String(error)}`);
      refused?.(new Error(`jspurefix initiator failed: ${String(error)}`));
    },
  );
  await loggedOn;

  return {
    durable: () => appender.durable,
    async stop() {
      session?.done();
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 5000))]);
      await appender.close();
    },
  };
}
