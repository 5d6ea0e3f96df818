# One image for every process; docker-compose.yml picks the command per service
# (`node dist/subgraphs/<name>/src/main.js`, `node dist/gateway/src/main.js`, `node dist/scripts/migrate.js`).
FROM node:20-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
# Workspace links in node_modules (@shop/kernel -> lib) point into /app, so the tree is copied as a whole.
COPY --from=build --chown=node:node /app /app
# Mount points for the development signing keys (shared between containers) and media files.
RUN mkdir -p /app/.keys /app/.media && chown node:node /app/.keys /app/.media
USER node
EXPOSE 4000 4001 4002 4003 4004 4005 4006
CMD ["node", "dist/gateway/src/main.js"]
