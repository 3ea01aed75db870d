import type { ListenerStatus } from './status.js';

export interface ReadinessLimits {
  /** Fills older than this on their way to the queue make the service not ready (default 60 s). */
  maxFillLagSeconds: number;
  /** An archive hour overdue by more than this makes the service not ready (default 15 min). */
  maxArchiveLagSeconds: number;
}

export const DEFAULT_READINESS: ReadinessLimits = { maxFillLagSeconds: 60, maxArchiveLagSeconds: 900 };

/** Ready = logged on, journal writing, and every sink keeping up. Reasons say what is not. */
export function readiness(
  status: ListenerStatus,
  limits: ReadinessLimits = DEFAULT_READINESS,
): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (status.fatal !== undefined) reasons.push(`fatal: ${status.fatal}`);
  if (status.session.state !== 'active')
    reasons.push(
      `session is ${status.session.state}${status.session.lastError ? ` (${status.session.lastError.code}: ${status.session.lastError.message})` : ''}`,
    );
  const integrity = status.journal.integrity;
  if (integrity.stalled !== null)
    reasons.push(
      `journal not writing since ${new Date(integrity.stalled.since).toISOString()} (${integrity.stalled.code}: ${integrity.stalled.message})`,
    );
  for (const damage of integrity.damage)
    if (damage.state === 'recovering' && damage.lsns !== null)
      reasons.push(
        `journal LSNs ${damage.lsns[0]}..${damage.lsns[1]} lost to damage, being replayed from the drop copy`,
      );
  if (status.session.recovering !== undefined)
    reasons.push(`recovering sequence gap ${status.session.recovering.from}..${status.session.recovering.to}`);
  for (const sink of status.sinks) {
    const limit = sink.name === 'fills' ? limits.maxFillLagSeconds : limits.maxArchiveLagSeconds;
    if (sink.lagSeconds > limit)
      reasons.push(
        `${sink.name} is ${Math.round(sink.lagSeconds)} s behind (limit ${limit} s)${sink.lastError ? `: ${sink.lastError.message}` : ''}`,
      );
  }
  return { ready: reasons.length === 0, reasons };
}
