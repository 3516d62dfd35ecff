/**
 * Reloader-compatible decisions, pure: the hash of a Secret's data, which workloads a Secret
 * change restarts, and the pod-template change that restarts them.
 *
 * Annotations (the workload's set when it has any of the relevant ones, else the pod template's, as
 * Reloader chooses: one set, not key by key):
 *   reloader.stakater.com/auto: "true"              any referenced Secret or ConfigMap
 *   secret.reloader.stakater.com/auto: "true"       any referenced Secret (configmap.… for ConfigMaps)
 *   secret.reloader.stakater.com/reload: "a,b.*"    named Secrets (anchored regexes), referenced or not
 *   configmap.reloader.stakater.com/reload          named ConfigMaps, the same way
 *   reloader.stakater.com/search: "true"            sources annotated reloader.stakater.com/match: "true"
 *   secrets.exclude.reloader.stakater.com/reload    Secrets excluded (configmaps.exclude.… for ConfigMaps)
 * On the Secret or ConfigMap: reloader.stakater.com/ignore: "true" never restarts anything.
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
  configmapAuto: "configmap.reloader.stakater.com/auto",
  configmapReload: "configmap.reloader.stakater.com/reload",
  configmapExclude: "configmaps.exclude.reloader.stakater.com/reload",
  lastReloadedFrom: "reloader.stakater.com/last-reloaded-from",
  /** On an Argo Rollout: `restart` sets spec.restartAt instead of changing the pod template. */
  rolloutStrategy: "reloader.stakater.com/rollout-strategy",
} as const;

/** What a workload follows: a Secret or a ConfigMap. */
export type SourceKind = "Secret" | "ConfigMap";

export interface Container {
  name: string;
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name?: string }; configMapKeyRef?: { name?: string } };
  }[];
  envFrom?: { secretRef?: { name?: string }; configMapRef?: { name?: string } }[];
  volumeMounts?: { name: string }[];
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: {
    name: string;
    secret?: { secretName?: string };
    configMap?: { name?: string };
    projected?: { sources?: { secret?: { name?: string }; configMap?: { name?: string } }[] };
  }[];
}

/**
 * A workload as the decisions see it. A CronJob is seen through its job template: `spec.template`
 * is `spec.jobTemplate.spec.template` and `jobTemplate` is kept to create Jobs from. A `Rollout`
 * is an Argo Rollout (argoproj.io/v1alpha1).
 */
export interface Workload {
  kind: "Deployment" | "StatefulSet" | "DaemonSet" | "CronJob" | "Rollout";
  metadata: { name?: string; namespace?: string; uid?: string; annotations?: Record<string, string> };
  spec?: {
    template?: { metadata?: { annotations?: Record<string, string> }; spec?: PodSpec };
    jobTemplate?: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec?: Record<string, unknown>;
    };
  };
}

/** A changed Secret or ConfigMap (`kind` absent: a Secret). */
export interface SecretRef {
  kind?: SourceKind | undefined;
  name: string;
  namespace: string;
  annotations?: Record<string, string> | undefined;
}

const kindOf = (ref: SecretRef): SourceKind => ref.kind ?? "Secret";

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
 * Reloader's hash of a ConfigMap: SHA1 hex of the sorted `key=value` entries of `data` and
 * `key=<base64>` entries of `binaryData` (the API's own encoding), joined with ";". Sorted as Go
 * sorts strings: by their UTF-8 bytes.
 */
export function configMapHash(
  data: Record<string, string> | undefined,
  binaryData: Record<string, string> | undefined,
): string {
  const values = [
    ...Object.entries(data ?? {}).map(([k, v]) => Buffer.from(`${k}=${v}`, "utf8")),
    ...Object.entries(binaryData ?? {}).map(([k, v]) => Buffer.from(`${k}=${v}`, "utf8")),
  ];
  values.sort((a, b) => Buffer.compare(a, b));
  const h = createHash("sha1");
  values.forEach((v, i) => {
    if (i > 0) h.update(";");
    h.update(v);
  });
  return h.digest("hex");
}

/**
 * Reloader's env var name: STAKATER_<NAME>_SECRET (or _CONFIGMAP), NAME upper-cased; each run of characters other
 * than A-Z and 0-9 (underscores included) becomes one "_", and none is written before the first
 * valid character ("my--db.creds" -> MY_DB_CREDS).
 */
export function envVarName(secretName: string, kind: SourceKind = "Secret"): string {
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
  return `STAKATER_${out}_${kind === "ConfigMap" ? "CONFIGMAP" : "SECRET"}`;
}

const annotationsFor = (kind: SourceKind) =>
  kind === "ConfigMap"
    ? { auto: ANN.configmapAuto, reload: ANN.configmapReload, exclude: ANN.configmapExclude }
    : { auto: ANN.secretAuto, reload: ANN.secretReload, exclude: ANN.secretExclude };

/**
 * The one annotation set Reloader reads for a kind of source: the workload's when it carries any
 * relevant key (the kind's reload list, search, auto, the kind's auto), else the pod template's
 * when it does, else the workload's. Keys are never mixed from both.
 */
function annotationsOf(w: Workload, kind: SourceKind): Record<string, string> {
  const k = annotationsFor(kind);
  const relevant = (a: Record<string, string> | undefined): a is Record<string, string> =>
    !!a && [k.reload, ANN.search, ANN.auto, k.auto].some((key) => key in a);
  const workload = w.metadata.annotations;
  const pod = w.spec?.template?.metadata?.annotations;
  if (relevant(workload)) return workload;
  if (relevant(pod)) return pod;
  return workload ?? {};
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

type Volume = NonNullable<PodSpec["volumes"]>[number];

const volumeUses = (v: Volume, name: string, kind: SourceKind): boolean =>
  kind === "ConfigMap"
    ? v.configMap?.name === name || !!v.projected?.sources?.some((s) => s.configMap?.name === name)
    : v.secret?.secretName === name || !!v.projected?.sources?.some((s) => s.secret?.name === name);

const envUses = (c: Container, name: string, kind: SourceKind): boolean =>
  kind === "ConfigMap"
    ? !!c.env?.some((e) => e.valueFrom?.configMapKeyRef?.name === name) ||
      !!c.envFrom?.some((e) => e.configMapRef?.name === name)
    : !!c.env?.some((e) => e.valueFrom?.secretKeyRef?.name === name) ||
      !!c.envFrom?.some((e) => e.secretRef?.name === name);

/** Whether the pod spec references the Secret or ConfigMap (env, envFrom, volumes, projected volumes). */
export function references(spec: PodSpec | undefined, name: string, kind: SourceKind = "Secret"): boolean {
  if (!spec) return false;
  const containers = [...spec.containers, ...(spec.initContainers ?? [])];
  if (containers.some((c) => envUses(c, name, kind))) return true;
  return (spec.volumes ?? []).some((v) => volumeUses(v, name, kind));
}

/** Reloader's cluster-wide switches that change decisions. */
export interface MatchOptions {
  /** `--auto-reload-all`: every workload follows the sources it uses unless it says `auto: "false"`. */
  autoReloadAll?: boolean | undefined;
}

export function shouldRestart(w: Workload, source: SecretRef, opts: MatchOptions = {}): boolean {
  if (w.metadata.namespace !== source.namespace) return false;
  if (source.annotations?.[ANN.ignore] === "true") return false;
  const kind = kindOf(source);
  const k = annotationsFor(kind);
  const a = annotationsOf(w, kind);
  // as Reloader: exclusions are exact names; named entries are anchored regular expressions and
  // need no reference; auto and search/match restart only workloads that use the source
  if (list(a[k.exclude]).includes(source.name)) return false;
  if (matchesAny(list(a[k.reload]), source.name)) return true;
  const auto =
    a[ANN.auto] === "true" ||
    a[k.auto] === "true" ||
    (a[ANN.search] === "true" && source.annotations?.[ANN.match] === "true") ||
    (!!opts.autoReloadAll && a[ANN.auto] !== "false" && a[k.auto] !== "false");
  return auto && references(w.spec?.template?.spec, source.name, kind);
}

/** The containers that use the source: mount a volume of it, or take env from it. */
function containersUsing(spec: PodSpec, name: string, kind: SourceKind): Container[] {
  const mountNames = new Set(
    (spec.volumes ?? []).filter((v) => volumeUses(v, name, kind)).map((v) => v.name),
  );
  return spec.containers.filter(
    (c) => (c.volumeMounts ?? []).some((m) => mountNames.has(m.name)) || envUses(c, name, kind),
  );
}

/** The container Reloader puts its env var on: the one using the source, else the first. */
export function containerFor(
  spec: PodSpec,
  name: string,
  kind: SourceKind = "Secret",
): Container | undefined {
  return containersUsing(spec, name, kind)[0] ?? spec.containers[0];
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
  if (w.kind === "Rollout") return argoRolloutPatch(w, changes, strategy, now);
  return templatePatch(w, changes, strategy, now);
}

/**
 * An Argo Rollout takes a JSON merge patch (no strategic merge for custom resources), which
 * replaces lists whole: the env-vars change is sent as the complete container list. With
 * `reloader.stakater.com/rollout-strategy: restart` the Rollout is restarted through
 * `spec.restartAt` and its template is left alone, as Reloader does.
 */
function argoRolloutPatch(
  w: Workload,
  changes: Change[],
  strategy: Strategy,
  now: Date,
): Record<string, unknown> | undefined {
  if (w.metadata.annotations?.[ANN.rolloutStrategy] === "restart")
    return changes.length ? { spec: { restartAt: now.toISOString().replace(/\.\d{3}Z$/, "Z") } } : undefined;
  const patch = templatePatch(w, changes, strategy, now);
  const containers = w.spec?.template?.spec?.containers;
  const byName = (patch as { spec?: { template?: { spec?: { containers?: Container[] } } } } | undefined)
    ?.spec?.template?.spec?.containers;
  if (!patch || !byName || !containers) return patch;
  const merged = containers.map((c) => {
    const add = byName.find((p) => p.name === c.name)?.env ?? [];
    if (!add.length) return c;
    const names = new Set(add.map((e) => e.name));
    return { ...c, env: [...(c.env ?? []).filter((e) => !names.has(e.name)), ...add] };
  });
  return { spec: { template: { spec: { containers: merged } } } };
}

/** The Job Reloader creates from a CronJob when a source changes (`kubectl create job --from`). */
export function jobFromCronJob(cj: Workload, changes: Change[]): Record<string, unknown> | undefined {
  const t = cj.spec?.jobTemplate;
  if (!t?.spec || !changes.length || !cj.metadata.uid) return undefined;
  // named by the changes, not generated: a retry after a lost answer finds it (409), and never
  // starts a second Job for the same rotation
  const id = createHash("sha256")
    .update(
      changes
        .map((c) => `${c.secret.kind ?? "Secret"}/${c.secret.name}=${c.hash}`)
        .sort()
        .join(";"),
    )
    .digest("hex")
    .slice(0, 10);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: `${(cj.metadata.name ?? "").slice(0, 52)}-${id}`,
      namespace: cj.metadata.namespace,
      annotations: { ...(t.metadata?.annotations ?? {}), "cronjob.kubernetes.io/instantiate": "manual" },
      ...(t.metadata?.labels ? { labels: t.metadata.labels } : {}),
      ownerReferences: [
        {
          apiVersion: "batch/v1",
          kind: "CronJob",
          name: cj.metadata.name,
          uid: cj.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: t.spec,
  };
}

function templatePatch(
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
    const kind = kindOf(last.secret);
    const value = JSON.stringify({
      type: kind === "ConfigMap" ? "CONFIGMAP" : "SECRET",
      name: last.secret.name,
      namespace: last.secret.namespace,
      hash: last.hash,
      containerRefs: containersUsing(spec, last.secret.name, kind).map((c) => c.name),
      observedAt: Math.floor(now.getTime() / 1000),
    });
    return { spec: { template: { metadata: { annotations: { [ANN.lastReloadedFrom]: value } } } } };
  }
  const byContainer = new Map<string, { name: string; value: string }[]>();
  for (const ch of changes) {
    const kind = kindOf(ch.secret);
    const c = containerFor(spec, ch.secret.name, kind);
    if (!c) continue;
    const name = envVarName(ch.secret.name, kind);
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
