/** `provider: custos`: a SecretStore or ClusterSecretStore, used as the pod (custos-params.ts). */
import { bindStore } from "../../controllers/externalsecret/stores.ts";
import { remoteRefsOf } from "../../controllers/externalsecret/data.ts";
import { pickAudience } from "../attributes.ts";
import { objectExternalSecret, objectFiles, parseCustosParams } from "../custos-params.ts";
import { podIdentitySpec, storeAudiences } from "../identity.ts";
import { resolvePodStore } from "../stores.ts";
import type { BindingPlan, ObjectPlan } from "../plan.ts";
import type { Dialect } from "./types.ts";

export const custosDialect: Dialect = {
  name: "custos",
  async plan(input, env) {
    const params = parseCustosParams(input.parameters, input.defaultMode);
    const ns = input.pod.namespace;
    const { store, kind } = await resolvePodStore(env.source, params, ns, env.controllerClass);
    const bound = bindStore(store, kind, ns, env.kube);
    const audience = pickAudience(input.tokens, params.audience, storeAudiences(bound.def.name, bound.spec));
    const binding: BindingPlan = {
      provider: bound.def.name,
      spec: podIdentitySpec(bound.def.name, bound.spec, input.pod, audience),
      storeKind: kind,
      storeName: bound.ctx.storeName,
      storeUid: bound.ctx.storeUid,
    };
    const storeRef = { name: params.storeRef.name, kind };
    const objects = params.objects.map((o): ObjectPlan => {
      const es = objectExternalSecret(o, storeRef, ns);
      return {
        id: o.fileName,
        binding,
        reads: remoteRefsOf(es).reads.map((r) => r.ref),
        config: o,
        files: (results) => objectFiles(o, es, results),
      };
    });
    return { plan: { objects }, audiences: [audience] };
  },
};
