import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { SESSION_STATES, type ListenerStatus } from './status.js';

/**
 * Prometheus metrics read from the service's status at scrape time: nothing on the hot path.
 * A registry of its own (no global default registry).
 */
/**
 * `listener` (LISTENER_NAME) labels every series, so one Prometheus can scrape a fleet and tell
 * the listeners apart.
 */
export function createMetrics(status: () => ListenerStatus, options: { listener?: string } = {}): Registry {
  const registry = new Registry();
  if (options.listener !== undefined) registry.setDefaultLabels({ listener: options.listener });
  // Node's process metrics under their usual names, so off-the-shelf dashboards find them.
  // The event-loop delay is sampled every 100 ms, not prom-client's 10: at 10 ms the sampler's own
  // wake-ups were half of an idle listener's.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  // status() is cheap (counters and a few sums); each collector reads it at scrape time.
  const current = status;
  const mirror = (counter: Counter<string>, value: number, labels?: Record<string, string>) => {
    // Counters mirror totals kept by the service; reset+inc sets them to the current total.
    if (labels === undefined) {
      counter.reset();
      counter.inc(value);
    } else counter.inc(labels, value);
  };

  new Counter({
    name: 'kfl_messages_in_total',
    help: 'FIX messages received, by MsgType.',
    labelNames: ['msg_type'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, n] of Object.entries(current().session.messagesInByType)) mirror(this, n, { msg_type: type });
    },
  });
  const simpleCounters: Array<[string, string, (s: ListenerStatus) => number]> = [
    ['kfl_execution_reports_total', 'ExecutionReports received.', (s) => s.counters.executionReports],
    ['kfl_fills_published_total', 'Fills accepted by the queue.', (s) => s.counters.fillsPublished],
    [
      'kfl_parquet_lossy_values_total',
      'Values the Parquet table could not hold exactly (null there; the JSONL and raw keep them).',
      (s) => s.counters.parquetLossyValues,
    ],
    [
      'kfl_exec_id_conflicts_total',
      'Reports whose ExecID was journaled already with different content (parked as dead letters, logged ERR_EXEC_ID_CONFLICT).',
      (s) => s.counters.execIdConflicts,
    ],
    [
      'kfl_duplicates_dropped_total',
      'Reports dropped as duplicates (PossDup below the expected seq, or an ExecID already journaled).',
      (s) => s.session.counters.duplicatesDropped + s.journal.duplicatesDropped,
    ],
    ['kfl_reconnects_total', 'Session reconnects.', (s) => s.session.counters.reconnects],
    ['kfl_sequence_gaps_total', 'Inbound sequence gaps seen.', (s) => s.session.counters.gaps],
    [
      'kfl_decode_errors_total',
      'Frames dropped by the decoder (checksum, length, garbage).',
      (s) => s.session.counters.decodeErrors,
    ],
    ['kfl_rejects_total', 'Reject and BusinessMessageReject messages received.', (s) => s.session.counters.rejects],
    [
      'kfl_holes_total',
      'Gaps that could not be backfilled (see /status backfill.holes).',
      (s) => s.backfill.holes.length,
    ],
    ['kfl_backfill_recovered_total', 'Reports recovered by drop-copy backfill.', (s) => s.backfill.recovered],
    [
      'kfl_journal_damage_total',
      'Damaged or missing stretches of the spool found at the last start (see /status journal.integrity).',
      (s) => s.journal.integrity.damage.length,
    ],
    [
      'kfl_backfill_duplicates_total',
      'Replayed reports dropped as already journaled.',
      (s) => s.backfill.duplicatesDropped,
    ],
  ];
  for (const [name, help, read] of simpleCounters) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        mirror(this, read(current()));
      },
    });
  }
  new Gauge({
    name: 'kfl_journal_stalled',
    help: '1 while the spool refuses journal writes (a full disk): appends are held in memory and retried.',
    registers: [registry],
    collect() {
      this.set(current().journal.integrity.stalled === null ? 0 : 1);
    },
  });
  new Gauge({
    name: 'kfl_journal_pending_bytes',
    help: 'Journal appends held in memory, not yet durable (grows while stalled).',
    registers: [registry],
    collect() {
      this.set(current().journal.integrity.pendingBytes);
    },
  });
  new Gauge({
    name: 'kfl_session_state',
    help: 'FIX session state (1 for the current state).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const state = current().session.state;
      for (const s of SESSION_STATES) this.set({ state: s }, s === state ? 1 : 0);
    },
  });
  const sinkGauges: Array<[string, string, (s: ListenerStatus, sink: string) => number | undefined]> = [
    [
      'kfl_journal_backlog_records',
      'Journaled records a sink has not handled yet.',
      (s, sink) => s.journal.backlog[sink]?.records,
    ],
    [
      'kfl_journal_backlog_bytes',
      'Journal bytes a sink has not handled yet.',
      (s, sink) => s.journal.backlog[sink]?.bytes,
    ],
    [
      'kfl_sink_lag_seconds',
      'How long the oldest overdue record has waited in a sink.',
      (s, sink) => s.sinks.find((x) => x.name === sink)?.lagSeconds,
    ],
    [
      'kfl_sink_oldest_pending_seconds',
      'Age of the oldest record read by a sink and not yet delivered (the archive: not yet in an object).',
      (s, sink) => s.sinks.find((x) => x.name === sink)?.oldestPendingAgeSeconds,
    ],
    [
      'kfl_sink_last_success_timestamp_seconds',
      'Last successful upload/send (Unix seconds).',
      (s, sink) => {
        const at = s.sinks.find((x) => x.name === sink)?.lastSuccessAt;
        return at === undefined ? undefined : at / 1000;
      },
    ],
    [
      'kfl_sink_dead_letters',
      'Records the sink could never deliver, parked in the dead letters (all in the spool file).',
      (s, sink) => s.sinks.find((x) => x.name === sink)?.deadLetters,
    ],
    [
      'kfl_sink_consecutive_failures',
      'Failed attempts since the last success.',
      (s, sink) => s.sinks.find((x) => x.name === sink)?.consecutiveFailures,
    ],
  ];
  for (const [name, help, read] of sinkGauges) {
    new Gauge({
      name,
      help,
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        for (const sink of current().sinks.map((x) => x.name)) {
          const value = read(current(), sink);
          if (value !== undefined) this.set({ sink }, value);
        }
      },
    });
  }
  new Gauge({
    name: 'kfl_journal_bytes',
    help: 'Journal bytes on disk.',
    registers: [registry],
    collect() {
      this.set(current().journal.bytesOnDisk);
    },
  });
  return registry;
}
