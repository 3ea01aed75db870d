/**
 * A bench process forked with an IPC channel and driven one command at a time: the peers
 * (peers.ts) and each FIX client (client-process.ts). A reply of type `error`, a channel already
 * closed, or the child's exit while a command waits rejects that command, so a dead child never
 * leaves the bench waiting.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export class ChildChannel<Command, Reply extends { type: string }> {
  readonly #child: ChildProcess;
  readonly #label: string;
  #waiting: ((reply: Reply | { type: 'error'; message: string }) => void) | undefined;
  /** Resolves when the child has exited, however it ended. */
  readonly exited: Promise<void>;

  /** Forks `script` (a URL beside the caller's module), naming it `label` in errors. */
  constructor(script: URL, label: string) {
    this.#label = label;
    this.#child = fork(fileURLToPath(script), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child.on('message', (reply: Reply) => this.#answer(reply));
    this.exited = new Promise((resolve) =>
      this.#child.once('exit', (code, signal) => {
        this.#answer({ type: 'error', message: `process exited (${signal ?? code})` });
        resolve();
      }),
    );
  }

  /** A command is waiting for its reply. */
  get busy(): boolean {
    return this.#waiting !== undefined;
  }

  /** The child has exited. */
  get gone(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /** The child's reply to `command`; rejects on an error reply or when the child is gone. */
  send(command: Command): Promise<Reply> {
    if (this.#waiting !== undefined) throw new Error(`one ${this.#label} command at a time`);
    if (!this.#child.connected) return Promise.reject(new Error(`${this.#label} process is gone`));
    return new Promise((resolve, reject) => {
      this.#waiting = (reply) =>
        reply.type === 'error'
          ? reject(new Error(`${this.#label}: ${(reply as { message?: string }).message}`))
          : resolve(reply as Reply);
      this.#child.send(command as object);
    });
  }

  /** Waits up to `graceMs` for the child to exit, then ends it with `signal`. */
  async end(graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, graceMs))]);
    if (!this.gone) this.#child.kill(signal);
  }

  /** Ends the child now. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.gone) this.#child.kill(signal);
  }

  #answer(reply: Reply | { type: 'error'; message: string }): void {
    const waiter = this.#waiting;
    this.#waiting = undefined;
    waiter?.(reply);
  }
}
