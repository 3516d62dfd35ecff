# Custos operator image: multi-stage, non-root, current LTS Node.
#   docker build -t ghcr.io/custos/custos:0.1.0 .
# The build stage compiles TypeScript and drops dev dependencies; the runtime stage holds only
# dist/, bin/ and production node_modules, and runs as an unprivileged user with a read-only root.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the pinned `node` devDependency would download a second Node; the image has one
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# the Secrets Store CSI driver's provider API, loaded at run time by `custos csi-provider`
COPY vendor ./vendor
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/vendor ./vendor
# 65532: the conventional "nonroot" uid; matches runAsUser in deploy/ and the Helm chart
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "/app/bin/custos.js"]
CMD ["operator"]
