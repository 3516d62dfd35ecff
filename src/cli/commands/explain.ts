/**
 * `custos explain KIND/NAME`: one ExternalSecret's chain, link by link, with ✓/✗ and the fix for
 * the first ✗. Logs in and reads through the same provider code the operator uses, with the
 * credentials the store names (so the CLI user must be allowed to read them). Exit code 1 when a
 * step fails, 2 when the command itself fails.
 */
import { Command } from "@commander-js/extra-typings";
import type { ExternalSecret } from "../../controllers/externalsecret/types.ts";
import { currentNamespace, withExitCodes } from "./kube-cli.ts";

export function registerExplainCommand(program: Command): void {
  program
    .command("explain")
    .description(
      "Walk one ExternalSecret's chain (store, access, credentials, login, reads, properties, template, target Secret) and print each step with ✓/✗ and the fix for the first ✗.",
    )
    .argument("<kind/name>", "externalsecret/NAME (or es/NAME)")
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    .option("-n, --namespace <ns>", "namespace (default: the kubeconfig context's)")
    .option("--controller-class <name>", "the operator's --controller-class", "default")
    .option(
      "--allow-operator-identity-for-namespaced-stores",
      "the operator runs with this flag (namespaced stores may act as the operator)",
      false,
    )
    .addHelpText(
      "after",
      "\nExamples:\n  custos explain es/db-creds -n team-a\n  custos explain externalsecret/app\n",
    )
    .action(async (arg, opts) => {
      await withExitCodes(async () => {
        // loaded here, not at the top: `custos --help` and other commands never pay for them
        const { KubeApi, resourcePath } = await import("../../kube/api.ts");
        const { CustosError } = await import("../../util/errors.ts");
        const { formatSteps, operatorStep, readyLine, uncheckedStep, untilFirstFailure } =
          await import("../explain/steps.ts");
        const { parseTarget } = await import("../explain/target.ts");
        const { walkChain } = await import("../live/chain.ts");
        const { name } = parseTarget(arg);
        const api = KubeApi.fromDefault(opts.kubeconfig);
        const namespace = opts.namespace ?? currentNamespace(api);
        const es = await api.getOrUndefined<ExternalSecret>(
          resourcePath({
            group: "external-secrets.io",
            version: "v1",
            plural: "externalsecrets",
            namespace,
            name,
          }),
        );
        if (!es)
          throw new CustosError(
            "CUSTOS_INVALID_SPEC",
            `ExternalSecret "${name}" not found in namespace "${namespace}"`,
            {
              retryable: false,
            },
          );
        const result = await walkChain(es, {
          api,
          controllerClass: opts.controllerClass,
          allowOperatorIdentityForNamespacedStores: opts.allowOperatorIdentityForNamespacedStores,
          now: Date.now(),
        });
        const ready = es.status?.conditions?.find((c) => c.type === "Ready");
        const steps = untilFirstFailure(result.steps);
        if (!steps.some((s) => s.mark === "fail"))
          steps.push(
            result.complete
              ? operatorStep(ready, namespace, name, opts.controllerClass)
              : uncheckedStep(ready),
          );
        process.stdout.write(formatSteps(readyLine("ExternalSecret", namespace, name, ready), steps));
        return steps.some((s) => s.mark === "fail") ? 1 : 0;
      });
    });
}
