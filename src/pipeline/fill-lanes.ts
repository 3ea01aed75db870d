import { HeadQueue } from '../core/head-queue.js';

/** What the lanes need to know of a fill waiting to be sent. */
export interface LaneEntry {
  readonly lsn: number;
  /** The FIFO message group (`listener:symbol`): its fills go out in LSN order, one batch at a time. */
  readonly group: string;
  /** Bytes it adds to a batch. */
  readonly bytes: number;
  /** Not sent before this time (a retry's back-off); 0 for a fill never tried. */
  notBefore: number;
}

/** One message group's waiting fills, in LSN order, with room to put a retried fill back near the head. */
class Lane<T extends LaneEntry> {
  readonly group: string;
  readonly #items = new HeadQueue<T>();
  /** Head entries in the batch being gathered; taken only when that batch is committed. */
  taking = 0;
  /** The heap's order: head LSN in `ready`, head due time in `delayed`. */
  key = 0;
  /** Position in `heap`, the one heap holding it (none while locked or passed over for a batch). */
  heapIndex = -1;
  heap: LaneHeap<T> | undefined;
  /** A batch holding its fills is in flight: nothing more of it may go until that batch settles. */
  locked = false;

  constructor(group: string) {
    this.group = group;
  }

  get length(): number {
    return this.#items.length;
  }

  at(index: number): T | undefined {
    return this.#items.at(index);
  }

  push(entry: T): void {
    this.#items.push(entry);
  }

  drop(count: number): void {
    this.#items.drop(count);
  }

  /**
   * Puts a retried entry back in LSN order. It is older than every fill read since its batch left,
   * so only the entries put back before it (the same batch's) are walked over.
   */
  insert(entry: T): void {
    let at = 0;
    while (at < this.length && this.at(at)!.lsn < entry.lsn) at++;
    this.#items.insertAt(at, entry);
  }
}

/** A binary min-heap of lanes by `key`, each lane knowing its position so it can leave from anywhere. */
class LaneHeap<T extends LaneEntry> {
  readonly #lanes: Array<Lane<T>> = [];

  peek(): Lane<T> | undefined {
    return this.#lanes[0];
  }

  push(lane: Lane<T>): void {
    lane.heap = this;
    lane.heapIndex = this.#lanes.length;
    this.#lanes.push(lane);
    this.#up(lane.heapIndex);
  }

  remove(lane: Lane<T>): void {
    const index = lane.heapIndex;
    const last = this.#lanes.pop()!;
    lane.heapIndex = -1;
    lane.heap = undefined;
    if (last === lane) return;
    this.#lanes[index] = last;
    last.heapIndex = index;
    this.#down(index);
    this.#up(last.heapIndex);
  }

  /** Restores the order after the lane's key changed. */
  update(lane: Lane<T>): void {
    this.#down(lane.heapIndex);
    this.#up(lane.heapIndex);
  }

  #up(index: number): void {
    const lanes = this.#lanes;
    const lane = lanes[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = lanes[parent]!;
      if (above.key <= lane.key) break;
      lanes[index] = above;
      above.heapIndex = index;
      index = parent;
    }
    lanes[index] = lane;
    lane.heapIndex = index;
  }

  #down(index: number): void {
    const lanes = this.#lanes;
    const lane = lanes[index]!;
    const n = lanes.length;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= n) break;
      if (child + 1 < n && lanes[child + 1]!.key < lanes[child]!.key) child++;
      const below = lanes[child]!;
      if (below.key >= lane.key) break;
      lanes[index] = below;
      below.heapIndex = index;
      index = child;
    }
    lanes[index] = lane;
    lane.heapIndex = index;
  }
}

/**
 * The fills waiting to be sent, one lane per message group, so that gathering a batch costs the
 * batch, not the backlog. A lane is in one of four states: `ready` (unlocked, head due: in a heap
 * by head LSN, so batches take the oldest fills first across groups, as one LSN-ordered list did),
 * `delayed` (unlocked, head waiting out a back-off: in a heap by due time), locked (a batch of
 * it in flight: in no heap), or gone (empty and unlocked: forgotten, so symbols that stop trading
 * hold no memory).
 */
export class FillLanes<T extends LaneEntry> {
  readonly #alone: (entry: T) => boolean;
  readonly #lanes = new Map<string, Lane<T>>();
  readonly #ready = new LaneHeap<T>();
  readonly #delayed = new LaneHeap<T>();
  /** Lanes with entries in the batch being gathered, and lanes passed over for it (reused: no garbage per batch). */
  readonly #taking: Array<Lane<T>> = [];
  readonly #passed: Array<Lane<T>> = [];
  #gathered: T[] | undefined;
  #size = 0;

  /** `alone`: an entry that must travel in a batch of its own (its group waits behind it). */
  constructor(options: { alone: (entry: T) => boolean }) {
    this.#alone = options.alone;
  }

  /** Entries waiting (not in a batch in flight). */
  get size(): number {
    return this.#size;
  }

  /** Message groups with fills waiting or in flight. */
  get groups(): number {
    return this.#lanes.size;
  }

  #laneOf(group: string): Lane<T> {
    let lane = this.#lanes.get(group);
    if (lane === undefined) {
      lane = new Lane<T>(group);
      this.#lanes.set(group, lane);
    }
    return lane;
  }

  /** A fill newly read: after every fill of its group already here. */
  add(entry: T, now: number): void {
    const lane = this.#laneOf(entry.group);
    lane.push(entry);
    this.#size++;
    if (lane.length === 1 && !lane.locked) this.#place(lane, now);
  }

  /** A fill from a batch that did not land (its `notBefore` set): back in LSN order, ahead of newer fills. */
  putBack(entry: T, now: number): void {
    const lane = this.#laneOf(entry.group);
    lane.insert(entry);
    this.#size++;
    if (lane.locked) return;
    // Only while its batch is in flight in practice; otherwise its head may have changed.
    if (lane.heap !== undefined) lane.heap.remove(lane);
    this.#place(lane, now);
  }

  /**
   * The next batch: the oldest fills of unlocked groups whose back-off has passed, in LSN order,
   * up to `maxEntries` and `maxBytes` (the first always goes), several of one group allowed. A
   * group whose next fill is not due, or must travel alone, contributes nothing after it. The
   * batch is only tentative: `commit()` takes it (its groups lock), `cancel()` leaves all as it was.
   * Undefined when nothing can go.
   */
  gather(now: number, maxEntries: number, maxBytes: number): T[] | undefined {
    if (this.#gathered !== undefined) throw new Error('FillLanes: commit or cancel the gathered batch first');
    this.#promote(now);
    let batch: T[] | undefined;
    let bytes = 0;
    while (batch === undefined || batch.length < maxEntries) {
      const lane = this.#ready.peek();
      if (lane === undefined) break;
      const entry = lane.at(lane.taking)!;
      const alone = this.#alone(entry);
      if (lane.taking === 0) {
        // A clock that stepped back since the lane was placed: the head is not due after all.
        if (entry.notBefore > now) {
          this.#ready.remove(lane);
          this.#delay(lane);
          continue;
        }
        if (alone && batch !== undefined) {
          this.#ready.remove(lane);
          this.#passed.push(lane);
          continue;
        }
      }
      if (batch !== undefined && bytes + entry.bytes > maxBytes) break;
      (batch ??= []).push(entry);
      bytes += entry.bytes;
      if (lane.taking++ === 0) this.#taking.push(lane);
      const next = lane.at(lane.taking);
      if (!alone && next !== undefined && next.notBefore <= now && !this.#alone(next)) {
        lane.key = next.lsn;
        this.#ready.update(lane);
      } else {
        this.#ready.remove(lane);
        if (alone) break;
      }
    }
    if (batch === undefined) {
      this.#restorePassed();
      return undefined;
    }
    this.#gathered = batch;
    return batch;
  }

  /** Takes the gathered batch: its groups lock until `release`. */
  commit(): void {
    for (const lane of this.#taking) {
      if (lane.heap !== undefined) lane.heap.remove(lane);
      lane.drop(lane.taking);
      this.#size -= lane.taking;
      lane.taking = 0;
      lane.locked = true;
    }
    this.#taking.length = 0;
    this.#restorePassed();
    this.#gathered = undefined;
  }

  /** Leaves the gathered batch waiting, every group as it was. */
  cancel(): void {
    for (const lane of this.#taking) {
      lane.taking = 0;
      lane.key = lane.at(0)!.lsn;
      if (lane.heap === this.#ready) this.#ready.update(lane);
      else this.#ready.push(lane);
    }
    this.#taking.length = 0;
    this.#restorePassed();
    this.#gathered = undefined;
  }

  /** A committed batch settled (its failures already put back): its groups may go again. */
  release(batch: readonly T[], now: number): void {
    for (const entry of batch) {
      const lane = this.#lanes.get(entry.group);
      if (lane === undefined || !lane.locked) continue;
      lane.locked = false;
      this.#place(lane, now);
    }
  }

  /**
   * When something could next go, leaving the in-flight limit aside: a ready group's head (due
   * already), else the earliest back-off to end. Undefined when every waiting fill is behind a
   * batch in flight (its settling wakes the sender) or nothing waits.
   */
  nextDueAt(): number | undefined {
    const ready = this.#ready.peek();
    if (ready !== undefined) return ready.at(0)!.notBefore;
    return this.#delayed.peek()?.key;
  }

  /**
   * The waiting fill with the lowest LSN, whatever its group's state. Walks the groups (not the
   * fills): for the status page, not the send path.
   */
  oldest(): T | undefined {
    let oldest: T | undefined;
    for (const lane of this.#lanes.values()) {
      const head = lane.at(0);
      if (head !== undefined && (oldest === undefined || head.lsn < oldest.lsn)) oldest = head;
    }
    return oldest;
  }

  #place(lane: Lane<T>, now: number): void {
    const head = lane.at(0);
    if (head === undefined) this.#lanes.delete(lane.group);
    else if (head.notBefore > now) this.#delay(lane);
    else {
      lane.key = head.lsn;
      this.#ready.push(lane);
    }
  }

  #delay(lane: Lane<T>): void {
    lane.key = lane.at(0)!.notBefore;
    this.#delayed.push(lane);
  }

  /** Groups whose back-off has passed become ready. */
  #promote(now: number): void {
    for (let lane = this.#delayed.peek(); lane !== undefined && lane.key <= now; lane = this.#delayed.peek()) {
      this.#delayed.remove(lane);
      lane.key = lane.at(0)!.lsn;
      this.#ready.push(lane);
    }
  }

  #restorePassed(): void {
    for (const lane of this.#passed) this.#ready.push(lane);
    this.#passed.length = 0;
  }
}
