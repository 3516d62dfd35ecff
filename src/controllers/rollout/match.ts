/**
 * Reloader-compatible decisions, pure: the hash of a Secret's data, which workloads a Secret
 * change restarts, and the pod-template change that restarts them.
 *
 * Annotations (read from the workload, else from its pod template):
 *   reloader.stakater.com/auto: "true"              any referenced Secret or ConfigMap
 *   secret.reloader.stakater.com/auto: "true"       any referenced Secret
 *   secret.reloader.stakater.com/reload: "a,b.*"    named Secrets (anchored regexes), referenced or not
 *   reloader.stakater.com/search: "true"            Secrets annotated reloader.stakater.com/match: "true"
 *   secrets.exclude.reloader.stakater.com/reload    Secrets excluded from auto
 * On the Secret: reloader.stakater.com/ignore: "true" never restarts anything.
 */
import { createHash } from "node:crypto";
import { RegexBudget } from "../../util/regex.ts";

export const ANN = {
  auto: "reloader.stakater.com/auto",
  secretAuto: "secret.reloader.stakater.com/auto",
  secretReload: "secret.reloader.stakater.com/reload",
  search: "reloader.stakater.com/search",
  match: "reloader.stakater.com/match",
  ignore: "reloader.stakater.com/ignore",
  secretExclude: "secrets.exclude.reloader.stakater.com/reload",
  lastReloadedFrom: "reloader.stakater.com/last-reloaded-from",
} as const;

export interface Container {
  name: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name?: string } } }[];
  envFrom?: { secretRef?: { name?: string } }[];
  volumeMounts?: { name: string }[];
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: {
    name: string;
    secret?: { secretName?: string };
    projected?: { sources?: { secret?: { name?: string } }[] };
  }[];
}

export interface Workload {
  kind: "Deployment" | "StatefulSet" | "DaemonSet";
  metadata: { name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { template?: { metadata?: { annotations?: Record<string, string> }; spec?: PodSpec } };
}

export interface SecretRef {
  name: string;
  namespace: string;
  annotations?: Record<string, string> | undefined;
}

/** Reloader's hash: SHA1 hex of the sorted `key=value` entries joined with ";". */
export function reloaderHash(data: Record<string, string> | undefined): string {
  const values = Object.entries(data ?? {}).map(
    ([k, v]) => `${k}=${Buffer.from(v, "base64").toString("latin1")}`,
  );
  values.sort();
  return createHash("sha1")
    .update(Buffer.from(values.join(";"), "latin1"))
    .digest("hex");
}

/**
 * Reloader's env var name: STAKATER_<NAME>_SECRET, NAME upper-cased; each run of characters other
 * than A-Z and 0-9 (underscores included) becomes one "_", and none is written before the first
 * valid character ("my--db.creds" -> MY_DB_CREDS).
 */
export function envVarName(secretName: string): string {
  let out = "";
  let lastValid = false;
  for (const ch of secretName.toUpperCase()) {
    if (/[A-Z0-9]/.test(ch)) {
      out += ch;
      lastValid = true;
    } else {
      if (lastValid) out += "_";
      lastValid = false;
    }
  }
  return `STAKATER_${out}_SECRET`;
}

function annotation(w: Workload, key: string): string | undefined {
  return w.metadata.annotations?.[key] ?? w.spec?.template?.metadata?.annotations?.[key];
}

function list(v: string | undefined): string[] {
  return (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Reloader compiles `"^" + value + "$"` with Go's regexp; here the value is grouped so that
 * "a|b" means exactly "a" or "b" (Reloader: names starting with "a" or ending with "b"). RE2, so
 * linear whatever the annotation says; an invalid or over-limit pattern (Reloader panics) matches
 * its literal name only.
 */
function matchesAny(patterns: string[], name: string): boolean {
  // an annotation may list thousands of patterns: past the budget the rest compare literally
  const budget = new RegexBudget(ANNOTATION_REGEX_MS);
  return patterns.some((p) => {
    try {
      const re = budget.compile(`^(?:${p})$`);
      return budget.search(re, name).test(name);
    } catch {
      return p === name;
    }
  });
}

/** Estimated regex time one workload's reload annotation may take per Secret change. */
const ANNOTATION_REGEX_MS = 50;

/** Whether the pod spec references the Secret (env, envFrom, volumes, projected volumes). */
export function references(spec: PodSpec | undefined, secretName: string): boolean {
  if (!spec) return false;
  const containers = [...spec.containers, ...(spec.initContainers ?? [])];
  if (containers.some((c) => c.env?.some((e) => e.valueFrom?.secretKeyRef?.name === secretName))) return true;
  if (containers.some((c) => c.envFrom?.some((e) => e.secretRef?.name === secretName))) return true;
  return (spec.volumes ?? []).some(
    (v) =>
      v.secret?.secretName === secretName || v.projected?.sources?.some((s) => s.secret?.name === secretName),
  );
}

export function shouldRestart(w: Workload, secret: SecretRef): boolean {
  if (w.metadata.namespace !== secret.namespace) return false;
  if (secret.annotations?.[ANN.ignore] === "true") return false;
  // as Reloader: exclusions are exact names; named entries are anchored regular expressions and
  // need no reference; auto and search/match restart only workloads that use the Secret
  if (list(annotation(w, ANN.secretExclude)).includes(secret.name)) return false;
  if (matchesAny(list(annotation(w, ANN.secretReload)), secret.name)) return true;
  const auto =
    annotation(w, ANN.auto) === "true" ||
    annotation(w, ANN.secretAuto) === "true" ||
    (annotation(w, ANN.search) === "true" && secret.annotations?.[ANN.match] === "true");
  return auto && references(w.spec?.template?.spec, secret.name);
}

/** The container Reloader puts its env var on: the one using the Secret, else the first. */
export function containerFor(spec: PodSpec, secretName: string): Container | undefined {
  const mountNames = new Set(
    (spec.volumes ?? [])
      .filter(
        (v) =>
          v.secret?.secretName === secretName ||
          v.projected?.sources?.some((s) => s.secret?.name === secretName),
      )
      .map((v) => v.name),
  );
  const uses = (c: Container): boolean =>
    (c.volumeMounts ?? []).some((m) => mountNames.has(m.name)) ||
    (c.env ?? []).some((e) => e.valueFrom?.secretKeyRef?.name === secretName) ||
    (c.envFrom ?? []).some((e) => e.secretRef?.name === secretName);
  return spec.containers.find(uses) ?? spec.containers[0];
}

export type Strategy = "env-vars" | "annotations";

export interface Change {
  secret: SecretRef;
  hash: string;
}

/**
 * The patch (a strategic merge patch for apps/v1 workloads) that records the changes on the pod
 * template, or undefined when the template already carries them (restarts are idempotent).
 */
export function restartPatch(
  w: Workload,
  changes: Change[],
  strategy: Strategy,
  now: Date,
): Record<string, unknown> | undefined {
  const spec = w.spec?.template?.spec;
  if (!spec || changes.length === 0) return undefined;
  if (strategy === "annotations") {
    const last = changes[changes.length - 1]!;
    const current = w.spec?.template?.metadata?.annotations?.[ANN.lastReloadedFrom];
    try {
      if (current && (JSON.parse(current) as { hash?: string; name?: string }).hash === last.hash)
        return undefined;
    } catch {
      /* not ours: overwrite */
    }
    const value = JSON.stringify({
      type: "SECRET",
      name: last.secret.name,
      namespace: last.secret.namespace,
      hash: last.hash,
      containerRefs: spec.containers
        .filter((c) => references({ ...spec, containers: [c], initContainers: [] }, last.secret.name))
        .map((c) => c.name),
      observedAt: Math.floor(now.getTime() / 1000),
    });
    return { spec: { template: { metadata: { annotations: { [ANN.lastReloadedFrom]: value } } } } };
  }
  const byContainer = new Map<string, { name: string; value: string }[]>();
  for (const ch of changes) {
    const c = containerFor(spec, ch.secret.name);
    if (!c) continue;
    const name = envVarName(ch.secret.name);
    if (c.env?.some((e) => e.name === name && e.value === ch.hash)) continue;
    const list = byContainer.get(c.name) ?? [];
    list.push({ name, value: ch.hash });
    byContainer.set(c.name, list);
  }
  if (byContainer.size === 0) return undefined;
  return {
    spec: {
      template: {
        spec: { containers: [...byContainer].map(([name, env]) => ({ name, env })) },
      },
    },
  };
}
