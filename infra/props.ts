/** What a deployment chooses; everything else in the stack follows from these. */
export interface ListenerStackSettings {
  fix: {
    /** Kalshi margin gateway (kalshi-fix-margin.md §1.1). */
    host: string;
    targetCompId: 'KalshiNR' | 'KalshiRT';
    /** TLS port; must match the TargetCompID (8228 NR, 8230 RT). */
    port: number;
    heartbeatS: number;
    /**
     * KalshiDC backfill after gaps: the FIX secret then also holds `dcApiKey` and `dcPrivateKey`
     * (a key of its own is safest) and the task gets FIX_DC_API_KEY / FIX_DC_PRIVATE_KEY.
     */
    dropCopy: boolean;
    /** DC port, opened in the task's egress only when dropCopy is on. */
    dropCopyPort: number;
  };
  /**
   * An existing Secrets Manager secret (complete ARN) holding JSON `{"apiKey": "...", "privateKey":
   * "-----BEGIN PRIVATE KEY-----\n..."}`. Unset: the stack creates an empty one to fill before the
   * service can log on.
   */
  fixSecretArn: string | undefined;
  /** Key prefix inside the archive bucket, ending in `/` (DESIGN.md §3 `{prefix}`). */
  archivePrefix: string;
  /** Archive objects move to S3 Standard-IA after this many days. */
  infrequentAccessAfterDays: number;
  /** First day of partition projection (`projection.dt.range` start). */
  archiveStartDate: string;
  /** Fargate task size (ARM64). */
  cpu: number;
  memoryMiB: number;
  /**
   * 1 in service, 0 to park it (e.g. before the FIX secret holds a key). Never more: Kalshi allows
   * one connection per API key.
   */
  desiredCount: 0 | 1;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  logRetentionDays: number;
  /** SIGTERM flush bound; ECS waits a little longer before SIGKILL. */
  shutdownTimeoutS: number;
  /** Import this VPC (no look-up: ids and zones are given) instead of creating one. */
  existingVpc: { vpcId: string; availabilityZones: string[]; privateSubnetIds: string[] } | undefined;
  /** Alarm notifications by e-mail (the SNS topic exists either way). */
  alarmEmail: string | undefined;
  /**
   * A CIDR (VPN, bastion subnet) allowed to reach the control plane (/status, /readyz, /metrics,
   * POST /reconnect) on the task's private address. Unset: nothing can.
   */
  controlPlaneCidr: string | undefined;
}

export const DEFAULT_SETTINGS: ListenerStackSettings = {
  fix: {
    host: 'margin-mm.fix.elections.kalshi.com',
    targetCompId: 'KalshiNR',
    port: 8228,
    heartbeatS: 30,
    dropCopy: false,
    dropCopyPort: 8229,
  },
  fixSecretArn: undefined,
  archivePrefix: 'kalshi-fix-listener/',
  infrequentAccessAfterDays: 30,
  archiveStartDate: '2026-01-01',
  cpu: 512,
  memoryMiB: 1024,
  desiredCount: 1,
  logLevel: 'info',
  logRetentionDays: 90,
  shutdownTimeoutS: 20,
  existingVpc: undefined,
  alarmEmail: undefined,
  controlPlaneCidr: undefined,
};

/** The port Kalshi pairs with each TargetCompID; a mismatch is rejected at logon. */
export const FIX_PORTS: Record<ListenerStackSettings['fix']['targetCompId'], number> = {
  KalshiNR: 8228,
  KalshiRT: 8230,
};
