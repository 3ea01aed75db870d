# syntax=docker/dockerfile:1
# kalshi-fix-listener: build with the dev dependencies, run with the production ones only.
# Both stages use the same Node 22 LTS image, pinned to a full version so a rebuild is the same
# runtime; bump it deliberately. infra/image-contract.ts holds what the CDK stack relies on here
# (user, spool directory, port, command, install flags); tests keep the two equal.

FROM node:22.23.4-bookworm-slim AS build
WORKDIR /app
# Dependencies first: this layer is reused until the lockfile changes. No install script is needed
# to compile (esbuild and jspurefix only serve tests and benchmarks).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Only src/ is in the build context (.dockerignore), so this compiles the service alone. The
# simulator (src/sim/) is the local rig's exchange, not the service's: it stays out of the image,
# as its certificate package does (a dev dependency), and `demo` and `sim` say so there.
RUN npm run build && rm -r dist/src/sim

FROM node:22.23.4-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SPOOL_DIR=/var/spool/kalshi-fix-listener \
    HTTP_PORT=8080
WORKDIR /app
# No production dependency has an install script; --ignore-scripts keeps it that way. --omit=dev
# also leaves out what only the tests, the benchmarks and the local rig use (selfsigned for the
# simulator's certificate among them).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# The journal must survive the container: on Fargate an EFS access point owned by uid/gid 1000 is
# mounted here; elsewhere a volume. The directory belongs to the runtime user either way.
RUN mkdir -p /var/spool/kalshi-fix-listener && chown node:node /var/spool/kalshi-fix-listener
USER node
VOLUME ["/var/spool/kalshi-fix-listener"]
EXPOSE 8080
# Liveness only (/healthz): a task must not be killed because S3 or Kalshi is down (/readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM: Logout, flush the open archive hour and the fill batches, exit 0 (SHUTDOWN_TIMEOUT_S).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/app/cli.js", "run"]
