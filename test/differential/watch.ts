/**
 * Counting writes at the API server: a watch from a known resourceVersion over one namespace's
 * Secrets and ExternalSecrets, tallying Secret writes and ExternalSecret status changes (and
 * Ready flips: a change of the Ready condition's status or reason). For the takeover figures.
 */
import { fetch } from "undici";
import type { KubeApi } from "../../src/kube/api.ts";

export interface WriteCounts {
  secretWrites: number;
  esWrites: number;
  esStatusChanges: number;
  readyFlips: number;
}

interface Obj {
  metadata: { name: string; resourceVersion: string };
  status?: { conditions?: { type: string; status: string; reason?: string }[] };
}

async function watchStream(
  api: KubeApi,
  path: string,
  resourceVersion: string,
  signal: AbortSignal,
  onEvent: (type: string, obj: Obj) => void,
): Promise<void> {
  const url = api.url(path, { watch: 1, resourceVersion, allowWatchBookmarks: false });
  const { headers, dispatcher } = await api.prepare("GET", url);
  const res = await fetch(url, { headers, signal, ...(dispatcher ? { dispatcher } : {}) });
  if (!res.ok || !res.body) throw new Error(`watch ${path}: ${res.status}`);
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line) as { type: string; object: Obj };
        onEvent(ev.type, ev.object);
      }
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}

/** Starts counting from the namespace's current state; `stop()` returns the counts. */
export async function countWrites(
  api: KubeApi,
  namespace: string,
): Promise<{ stop: () => Promise<WriteCounts> }> {
  const counts: WriteCounts = { secretWrites: 0, esWrites: 0, esStatusChanges: 0, readyFlips: 0 };
  const esPath = `/apis/external-secrets.io/v1/namespaces/${namespace}/externalsecrets`;
  const secPath = `/api/v1/namespaces/${namespace}/secrets`;
  const ess = await api.list<Obj>(esPath);
  const secs = await api.list<Obj>(secPath);
  const last = new Map<string, Obj>(ess.items.map((o) => [o.metadata.name, o]));
  const ctl = new AbortController();
  const ready = (o: Obj | undefined): string => {
    const c = o?.status?.conditions?.find((x) => x.type === "Ready");
    return c ? `${c.status}/${c.reason ?? ""}` : "";
  };
  const streams = [
    watchStream(api, secPath, secs.metadata.resourceVersion ?? "0", ctl.signal, () => {
      counts.secretWrites++;
    }),
    watchStream(api, esPath, ess.metadata.resourceVersion ?? "0", ctl.signal, (type, o) => {
      counts.esWrites++;
      const before = last.get(o.metadata.name);
      if (type === "MODIFIED" && JSON.stringify(before?.status) !== JSON.stringify(o.status))
        counts.esStatusChanges++;
      if (ready(before) !== ready(o)) counts.readyFlips++;
      last.set(o.metadata.name, o);
    }),
  ];
  return {
    stop: async () => {
      ctl.abort();
      // a watch that failed would count nothing: say so instead of reporting zero
      for (const r of await Promise.allSettled(streams))
        if (r.status === "rejected") throw new Error(`watch failed: ${String(r.reason)}`);
      return counts;
    },
  };
}
