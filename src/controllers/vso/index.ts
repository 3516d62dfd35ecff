/**
 * The VSO front door's factory (`--controllers vso`): serves `secrets.hashicorp.com/v1beta1`
 * objects when their CRDs are installed; without them it starts nothing and says so once.
 */
import type { Controller, ControllerFactory } from "../../manager/registry.ts";
import { isNotFound } from "../../kube/api.ts";
import { VSO_GROUP, VSO_VERSION } from "../../api/vso.ts";
import { VsoController } from "./controller.ts";
import { operatorNamespace } from "./namespace.ts";

export const vsoController: ControllerFactory = async ({
  api,
  log,
  metrics,
  events,
  options,
  sessions,
  reads,
  kube,
}): Promise<Controller> => {
  const installed = await api
    .get<{ resources?: { name: string }[] }>(`/apis/${VSO_GROUP}/${VSO_VERSION}`)
    .then((r) => (r.resources ?? []).some((x) => x.name === "vaultstaticsecrets"))
    .catch((e: unknown) => {
      if (isNotFound(e)) return false;
      throw e;
    });
  if (!installed) {
    log.info(`the ${VSO_GROUP} CRDs are not installed: VSO objects are not served`);
    return { name: "vso", start: () => Promise.resolve(), stop: () => Promise.resolve() };
  }
  return new VsoController({
    api,
    log,
    metrics,
    events,
    sessions,
    reads,
    kube,
    namespace: options.namespace,
    operatorNamespace: operatorNamespace(options.operatorNamespace),
    concurrent: options.concurrent,
  });
};
