import { SESSION_EVENTS_KEPT, type SessionEventView } from '../core/status.js';
import type { SessionEvent } from '../fix/session.js';

/**
 * The last session events an operator needs to tell what happened (logons, logouts, disconnects,
 * with their reasons), in a fixed ring: the session's other events (heartbeats, state changes,
 * resends) are not kept, so nothing is done per report. The same event again and again (a peer
 * refusing every attempt through an outage) is one entry with a count, so a long outage does not
 * push the last logon out of the list.
 */
export class SessionHistory {
  readonly #size: number;
  readonly #ring: SessionEventView[] = [];
  /** Where the next entry goes once the ring is full (the oldest entry's slot). */
  #next = 0;

  constructor(size = SESSION_EVENTS_KEPT) {
    this.#size = size;
  }

  /** Keeps `event` when it is one the page lists; ignores the rest. */
  record(event: SessionEvent, at: number): void {
    const view = describe(event);
    if (view === undefined) return;
    const newest = this.#newest();
    if (newest !== undefined && newest.kind === view.kind && newest.text === view.text && newest.code === view.code) {
      newest.count++;
      newest.at = at;
      return;
    }
    const entry: SessionEventView = { ...view, at, firstAt: at, count: 1 };
    if (this.#ring.length < this.#size) this.#ring.push(entry);
    else {
      this.#ring[this.#next] = entry;
      this.#next = (this.#next + 1) % this.#size;
    }
  }

  /** Newest first; copies, so a reader cannot change the ring. */
  list(): SessionEventView[] {
    const inOrder = [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
    return inOrder.reverse().map((entry) => ({ ...entry }));
  }

  #newest(): SessionEventView | undefined {
    if (this.#ring.length === 0) return undefined;
    return this.#ring[(this.#next + this.#ring.length - 1) % this.#ring.length];
  }
}

type Described = Pick<SessionEventView, 'kind' | 'code' | 'text'>;

/** The event in words, or undefined for the kinds the page does not list. */
function describe(event: SessionEvent): Described | undefined {
  switch (event.kind) {
    case 'logon':
      return {
        kind: 'logon',
        code: null,
        text: event.reset
          ? 'logged on, sequence numbers reset (ResetSeqNumFlag=Y)'
          : `logged on, resuming at MsgSeqNum ${event.nextInbound}`,
      };
    case 'logout':
      return {
        kind: 'logout',
        code: null,
        text:
          event.initiator === 'exchange'
            ? `the exchange logged out: ${event.text ?? '(no Text)'}`
            : `the listener logged out: ${event.text ?? 'stopping'}`,
      };
    case 'disconnected':
      return event.reason === undefined
        ? { kind: 'disconnected', code: null, text: 'connection closed' }
        : { kind: 'disconnected', code: event.reason.code, text: event.reason.message };
    default:
      return undefined;
  }
}
