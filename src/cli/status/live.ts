/**
 * The I/O of `custos status`: lists each kind with the user's kubeconfig (a kind whose CRD is not
 * served is skipped), and prints the rows once or, with --watch, whenever they change.
 */
import { KubeApi, KubeApiError, resourcePath } from "../../kube/api.ts";
import {
  KINDS,
  anyFailing,
  formatRows,
  rowOf,
  sortRows,
  type ListedObject,
  type StatusOutput,
  type StatusRow,
} from "./rows.ts";
import { currentNamespace } from "../commands/kube-cli.ts";

export interface StatusOptions {
  kubeconfig?: string | undefined;
  namespace?: string | undefined;
  allNamespaces: boolean;
  output: StatusOutput;
  watch: boolean;
  interval: number;
}

export async function runStatus(opts: StatusOptions): Promise<number> {
  const api = KubeApi.fromDefault(opts.kubeconfig);
  const namespace = opts.allNamespaces ? undefined : (opts.namespace ?? currentNamespace(api));
  if (!opts.watch) {
    const rows = await collect(api, namespace);
    process.stdout.write(formatRows(rows, opts.output, Date.now()));
    return anyFailing(rows) ? 1 : 0;
  }
  let last = "";
  for (;;) {
    const rows = await collect(api, namespace);
    // ages move every second: print again only when the state itself changed
    const state = JSON.stringify(rows);
    if (state !== last) {
      if (last) process.stdout.write("\n");
      process.stdout.write(formatRows(rows, opts.output, Date.now()));
      last = state;
    }
    await new Promise((r) => setTimeout(r, Math.max(0.2, opts.interval) * 1000));
  }
}

async function collect(api: KubeApi, namespace: string | undefined): Promise<StatusRow[]> {
  const now = Date.now();
  const rows: StatusRow[] = [];
  for (const info of KINDS) {
    if (!info.namespaced && namespace !== undefined) continue;
    const path = resourcePath({
      group: info.group,
      version: info.version,
      plural: info.plural,
      namespace: info.namespaced ? namespace : undefined,
    });
    let items: ListedObject[];
    try {
      items = (await api.list<ListedObject>(path)).items;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) continue; // CRD not installed
      if (e instanceof KubeApiError && e.status === 403) {
        // a user who may not list one kind still sees the others; the gap is said, not hidden
        process.stderr.write(`custos: cannot list ${info.plural}: forbidden for this kubeconfig's user\n`);
        continue;
      }
      throw e;
    }
    for (const obj of items) rows.push(rowOf(info, obj, now));
  }
  return sortRows(rows);
}
