# One image for every process; the command picks it: `node dist/subgraphs/<name>/src/main.js`,
# `node dist/gateway/src/main.js`, `node dist/scripts/migrate.js [--service <name>]` (docker-compose.yml, deploy/k8s).
# The build is not run by CI (no Docker engine there); scripts/test/dockerfile.test.ts checks this file's structure.
FROM node:20-slim AS build
WORKDIR /app
# Dependencies in their own layer: only the lockfile and every workspace's package.json, so a change to the sources
# reuses the installed node_modules. A new workspace (subgraph) needs its line here.
COPY package.json package-lock.json ./
COPY lib/package.json lib/
COPY gateway/package.json gateway/
COPY subgraphs/user/package.json subgraphs/user/
COPY subgraphs/product/package.json subgraphs/product/
COPY subgraphs/cart/package.json subgraphs/cart/
COPY subgraphs/order/package.json subgraphs/order/
COPY subgraphs/media/package.json subgraphs/media/
COPY subgraphs/notification/package.json subgraphs/notification/
COPY storefront/package.json storefront/
RUN npm ci --no-audit --no-fund
COPY . .
# The TypeScript build (dist/, lib/dist/) and the storefront the gateway serves (storefront/dist), then development
# dependencies (TypeScript, Vite, jest …) are dropped.
RUN npm run build \
 && npm run build:storefront \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
# Workspace links in node_modules (@shop/kernel -> lib) point into /app, so the tree is copied as a whole.
COPY --from=build --chown=node:node /app /app
# Mount points for the development signing keys (docker-compose shares them between containers) and media files.
RUN mkdir -p /app/.keys /app/.media && chown node:node /app/.keys /app/.media
# The `node` user (uid 1000; deploy/k8s runs it as runAsUser 1000 with a read-only root filesystem).
USER 1000
EXPOSE 4000 4001 4002 4003 4004 4005 4006 9400
CMD ["node", "dist/gateway/src/main.js"]
