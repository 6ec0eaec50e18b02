# syntax=docker/dockerfile:1
# Contest image: the scaler plus its entry script. run.sh starts the scaler on :9001, waits for
# the simulator's statistics port :9000, and stops the scaler when the simulator is gone.
ARG NODE_IMAGE=node:20-slim

# ---- build: full dependency set, compile TypeScript into dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first so the dependency layer is cached across source edits.
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# datasets/ is optional: an empty folder lets the runtime stage copy it unconditionally.
# chmod: the build context may come from a checkout that lost run.sh's executable bit.
RUN npm run build && mkdir -p datasets && chmod 0755 run.sh

# ---- runtime: production dependencies and build output only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# Loaded at run time by src/wire/proto.ts (dist/src/wire/proto.js looks in ../../../proto).
COPY --from=build /app/proto ./proto
COPY --from=build /app/datasets ./datasets
COPY --from=build /app/run.sh ./run.sh
EXPOSE 9001
# Exec form: run.sh is PID 1, receives `docker stop`'s SIGTERM and forwards it to the scaler.
ENTRYPOINT ["./run.sh"]
