# syntax=docker/dockerfile:1
# clusterset-dns container image: one image for every command (agent, dns, serve, doctor, ...).
# test/e2e/package.test.ts runs the COPY and RUN steps of this file outside Docker and starts the
# result, so keep the steps plain (COPY, RUN, WORKDIR, ENV, USER, ENTRYPOINT).

# Build stage: all dependencies (TypeScript), compile src/ into dist/.
FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: "prepare" would compile before the sources are copied; the build runs below.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build

# Run stage: production dependencies only, the compiled code and the launcher. The base image
# brings Node 24 itself, so the "node" dev dependency (which pins Node for npm scripts) is not needed.
FROM node:24-trixie-slim
WORKDIR /app
ENV NODE_ENV=production
# A young generation of at most 3 x 8 MiB, as the DNS workers already have: Node 24 otherwise
# grows it by ~100 MB after a burst of allocation (the first list of a large cluster), and keeps
# it (measured with bench:scale, see README "Memory budget").
ENV NODE_OPTIONS=--max-semi-space-size=8
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist/ dist/
COPY bin/ bin/
COPY examples/ examples/
# The base image's unprivileged "node" user, numeric so that Kubernetes can verify runAsNonRoot.
USER 1000:1000
ENTRYPOINT ["/app/bin/clusterset-dns.js"]
CMD ["--help"]
