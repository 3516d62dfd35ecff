/**
 * `custos diff -f FILE`: what applying ExternalSecret manifests would change in their Secrets,
 * reading the stores through the provider code as the operator would. Values are hidden unless
 * --show-values. Exit code 1 when something would change (as `kubectl diff`), 0 when nothing
 * would, 2 on error.
 */
import { Command } from "@commander-js/extra-typings";
import type { ExternalSecret } from "../../controllers/externalsecret/types.ts";
import type { Workload } from "../../controllers/rollout/match.ts";
import { currentNamespace, withExitCodes } from "./kube-cli.ts";

export function registerDiffCommand(program: Command): void {
  program
    .command("diff")
    .description(
      "Show what applying ExternalSecret manifests would change in their Secrets: keys added, removed and changed (values hidden unless --show-values), labels, annotations, owner, and which workloads a rollout would restart. Exit code 1 when there are changes.",
    )
    .requiredOption("-f, --filename <file>", "manifest file with ExternalSecret(s) (- for stdin)")
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    .option(
      "-n, --namespace <ns>",
      "namespace of manifests that name none (default: the kubeconfig context's)",
    )
    .option("--controller-class <name>", "the operator's --controller-class", "default")
    .option(
      "--allow-operator-identity-for-namespaced-stores",
      "the operator runs with this flag (namespaced stores may act as the operator)",
      false,
    )
    .option("--show-values", "print the secret values that change (they are hidden by default)", false)
    .addHelpText(
      "after",
      "\nExamples:\n  custos diff -f externalsecret.yaml\n  custos diff -f es.yaml -n team-a --show-values\n",
    )
    .action(async (opts) => {
      await withExitCodes(async () => {
        // loaded here, not at the top: `custos --help` and other commands never pay for them
        const { readFileSync } = await import("node:fs");
        const { parseAllDocuments } = await import("yaml");
        const { KubeApi, KubeApiError, resourcePath } = await import("../../kube/api.ts");
        const { CustosError } = await import("../../util/errors.ts");
        const { walkChain } = await import("../live/chain.ts");
        const { formatSteps, untilFirstFailure } = await import("../explain/steps.ts");
        const { diffSecret, formatDiff, hasChanges, valuesOf } = await import("../diff/secret-diff.ts");
        const { targetNameOf } = await import("../../controllers/externalsecret/plan.ts");

        const text = readFileSync(opts.filename === "-" ? 0 : opts.filename, "utf8");
        const docs = parseAllDocuments(text);
        const manifests: ExternalSecret[] = [];
        for (const d of Array.isArray(docs) ? docs : [docs]) {
          if (d.errors.length)
            throw new CustosError("CUSTOS_INVALID_SPEC", `${opts.filename}: ${d.errors[0]!.message}`, {
              retryable: false,
            });
          const o = d.toJS() as ExternalSecret | null;
          if (o?.kind === "ExternalSecret" && (o.apiVersion ?? "").startsWith("external-secrets.io/"))
            manifests.push(o);
        }
        if (!manifests.length)
          throw new CustosError("CUSTOS_INVALID_SPEC", `${opts.filename} holds no ExternalSecret`, {
            retryable: false,
          });

        const api = KubeApi.fromDefault(opts.kubeconfig);
        let changed = false;
        for (const m of manifests) {
          const namespace = m.metadata.namespace ?? opts.namespace ?? currentNamespace(api);
          const name = m.metadata.name ?? "";
          const live = await api.getOrUndefined<ExternalSecret>(
            resourcePath({
              group: "external-secrets.io",
              version: "v1",
              plural: "externalsecrets",
              namespace,
              name,
            }),
          );
          // the operator writes owner references with the live object's uid
          const es: ExternalSecret = {
            ...m,
            metadata: { ...m.metadata, namespace, ...(live?.metadata.uid ? { uid: live.metadata.uid } : {}) },
          };
          const result = await walkChain(es, {
            api,
            controllerClass: opts.controllerClass,
            allowOperatorIdentityForNamespacedStores: opts.allowOperatorIdentityForNamespacedStores,
            now: Date.now(),
          });
          if (!result.plan) {
            process.stderr.write(
              formatSteps(`ExternalSecret ${namespace}/${name}:`, untilFirstFailure(result.steps)),
            );
            throw new CustosError(
              "CUSTOS_INVALID_SPEC",
              `cannot compute the Secret of ExternalSecret ${namespace}/${name} (see the failed step above; custos explain says more once it is applied)`,
              { retryable: false },
            );
          }
          const workloads: Workload[] = [];
          for (const [kind, plural] of [
            ["Deployment", "deployments"],
            ["StatefulSet", "statefulsets"],
            ["DaemonSet", "daemonsets"],
          ] as const) {
            try {
              const list = await api.list<Workload>(
                resourcePath({ group: "apps", version: "v1", plural, namespace }),
              );
              workloads.push(...list.items.map((w) => ({ ...w, kind })));
            } catch (e) {
              if (!(e instanceof KubeApiError && (e.status === 403 || e.status === 404))) throw e;
              process.stderr.write(
                `custos: cannot list ${plural} in "${namespace}": rollouts not predicted\n`,
              );
            }
          }
          const target = { namespace, name: targetNameOf(es) };
          const d = diffSecret(target, result.plan.action, result.existing, result.plan.secret, workloads);
          const values = opts.showValues ? valuesOf(result.existing, result.plan.secret) : undefined;
          process.stdout.write(formatDiff(d, values));
          changed ||= hasChanges(d);
        }
        return changed ? 1 : 0;
      });
    });
}
