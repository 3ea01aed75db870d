/**
 * What the stack assumes about the image built from the root Dockerfile. The Dockerfile cannot
 * import this file, so test/infra/dockerfile.test.ts and the image smoke test parse the Dockerfile
 * and hold it to these values: the EFS access point, the health check and the task's environment
 * all depend on them.
 */

/** The journal and session state; the EFS volume is mounted here (DESIGN.md §6 SPOOL_DIR). */
export const SPOOL_DIR = '/var/spool/kalshi-fix-listener';

/** Control plane port (DESIGN.md §5); HTTP_PORT's default. */
export const HTTP_PORT = 8080;

/** The official node image's `node` user: EFS files must belong to it or the journal cannot open. */
export const RUNTIME_USER = { name: 'node', uid: 1000, gid: 1000 } as const;

/** The package `bin` run with its `run` subcommand, from the image's working directory. */
export const RUN_COMMAND = ['node', 'dist/src/app/cli.js', 'run'] as const;

/** Production-only install of the runtime stage; the smoke test runs exactly this. */
export const RUNTIME_INSTALL = ['npm', 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'] as const;

/**
 * Liveness probe for Docker's HEALTHCHECK and the ECS container health check. The slim image has
 * no curl; Node's fetch does the same job without adding a package.
 */
export const HEALTH_CHECK_SCRIPT =
  "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))";
