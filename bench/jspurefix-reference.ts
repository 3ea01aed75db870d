/**
 * The reference decoder: jspurefix's AsciiParser, driven the way its own benchmark drives it
 * (a parser on a session scope, bytes handed to `parseBuffer` as a socket would). Its fastest mode
 * is the MsgView it emits for every message: tokenising, structure discovery against the
 * dictionary and the view are not optional (the parser builds the view before emitting `msg`), and
 * `toObject()` would only add work on top.
 *
 * Dictionary: jspurefix's `qf50sp2` — QuickFIX's FIX50SP2.xml shipped under
 * node_modules/jspurefix/data, which carries the FIXT.1.1 header, so our `8=FIXT.1.1` frames parse
 * as they are.
 *
 * jspurefix is loaded as the bench's clients load it (`jspurefix-kalshi.ts`).
 */
import { createRequire } from 'node:module';
import type { ElasticBuffer, IJsFixConfig, MsgView } from 'jspurefix';
import { jspurefix, type JspurefixModule } from './jspurefix-kalshi.js';

export type { MsgView } from 'jspurefix';

export const JSPUREFIX_DICTIONARY = 'qf50sp2';

type SessionDescription = Parameters<InstanceType<JspurefixModule['SessionContainer']>['makeSystem']>[0];

interface SessionScopeModule {
  makeSessionScope(config: IJsFixConfig): IJsFixConfig;
}

let loaded: Promise<IJsFixConfig> | undefined;
let jsfix: JspurefixModule | undefined;
let scopes: SessionScopeModule | undefined;

function load(): Promise<IJsFixConfig> {
  loaded ??= (async () => {
    jsfix = jspurefix();
    // Not exported by the package: required from jspurefix's own location.
    const requireFromJspurefix = createRequire(createRequire(import.meta.url).resolve('jspurefix'));
    scopes = requireFromJspurefix('./runtime/session-scope') as SessionScopeModule;
    const system = new jsfix.SessionContainer();
    system.registerGlobal('error');
    // Only `application.dictionary`, `type` and `protocol` matter to a parser; the rest is the
    // minimum a session description needs to be accepted. No socket is ever opened.
    const description = {
      application: {
        type: 'acceptor',
        name: 'bench',
        protocol: 'ascii',
        dictionary: JSPUREFIX_DICTIONARY,
        tcp: { host: '127.0.0.1', port: 0 },
      },
      SenderCompId: 'KalshiRT',
      TargetCompID: 'listener',
      BeginString: 'FIXT.1.1',
      HeartBtInt: 30,
    } as unknown as SessionDescription;
    const container = await system.makeSystem(description);
    return container.resolve<IJsFixConfig>(jsfix.DITokens.IJsFixConfig);
  })();
  return loaded;
}

export interface ReferenceParser {
  /** Feeds one socket chunk; `onMessage` runs for each message completed by it. */
  push(chunk: Buffer): void;
}

/** A fresh parser (own receive buffer and state) calling `onMessage` with each message's view. */
export async function createReferenceParser(onMessage: (view: MsgView) => void): Promise<ReferenceParser> {
  const config = await load();
  const scoped = scopes!.makeSessionScope(config);
  const container = scoped.sessionContainer;
  const buffer = container.resolve<ElasticBuffer>(jsfix!.DITokens.ParseBuffer);
  const maxMessageLen = container.resolve<number>(jsfix!.DITokens.maxMessageLen);
  const parser = new jsfix!.AsciiParser(scoped, null, buffer, maxMessageLen);
  parser.on('msg', (_msgType: string, view: MsgView) => onMessage(view));
  parser.on('error', (error: Error) => {
    throw error;
  });
  return { push: (chunk) => parser.parseBuffer(chunk) };
}

/** Every (tag, value) the view holds, in wire order: what the parity test compares with ours. */
export function viewFields(view: MsgView): Array<[number, string]> {
  const tags = view.structure?.tags;
  if (tags === undefined) return [];
  const values = view.getStrings() ?? [];
  const out: Array<[number, string]> = [];
  for (let i = 0; i < tags.nextTagPos; i++) out.push([tags.tagPos[i]!.tag, values[i] ?? '']);
  return out;
}
