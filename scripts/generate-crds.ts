/**
 * Writes the CRDs in deploy/crds/ from the schemas in src/api/ (`npm run crds`).
 * `--check` fails when the files are out of date (CI runs it).
 */
import { readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { crd, type JsonSchema } from "../src/api/crd.ts";
import {
  ClusterExternalSecretSpec,
  ClusterExternalSecretStatus,
  ExternalSecretSpec,
  ExternalSecretStatus,
  storeSpec,
  StoreStatus,
} from "../src/api/externalsecrets.ts";
import {
  ClusterPushSecretSpec,
  ClusterPushSecretStatus,
  PushSecretSpec,
  PushSecretStatus,
} from "../src/api/pushsecrets.ts";
import { SEALED_SECRET_CRD } from "../src/api/sealedsecrets.ts";
import { KES_CRD } from "../src/controllers/kes/api.ts";
import { VSO_CRDS } from "../src/api/vso.ts";
import { generatorCrds } from "../src/generators/crds.ts";

const dir = join(import.meta.dirname, "..", "deploy", "crds");
// The Helm chart carries the same files (Helm installs crds/ before the templates).
const chartDir = join(import.meta.dirname, "..", "deploy", "helm", "custos", "crds");
const MAX = 262_144; // client-side apply stores the object in an annotation of this size
const ES_VERSIONS = ["v1", "v1beta1"];

const readyCol = () => [
  { name: "Status", type: "string", jsonPath: `.status.conditions[?(@.type=="Ready")].reason` },
  { name: "Ready", type: "string", jsonPath: `.status.conditions[?(@.type=="Ready")].status` },
];

const files: Record<string, JsonSchema> = {
  "external-secrets.io_externalsecrets.yaml": crd({
    group: "external-secrets.io",
    kind: "ExternalSecret",
    plural: "externalsecrets",
    shortNames: ["es"],
    categories: ["external-secrets"],
    scope: "Namespaced",
    versions: ES_VERSIONS,
    spec: ExternalSecretSpec,
    status: ExternalSecretStatus,
    printerColumns: [
      { name: "StoreType", type: "string", jsonPath: ".spec.secretStoreRef.kind" },
      { name: "Store", type: "string", jsonPath: ".spec.secretStoreRef.name" },
      { name: "Refresh Interval", type: "string", jsonPath: ".spec.refreshInterval" },
      ...readyCol(),
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
  }),
  "external-secrets.io_clusterexternalsecrets.yaml": crd({
    group: "external-secrets.io",
    kind: "ClusterExternalSecret",
    plural: "clusterexternalsecrets",
    shortNames: ["ces"],
    categories: ["external-secrets"],
    scope: "Cluster",
    versions: ES_VERSIONS,
    spec: ClusterExternalSecretSpec,
    status: ClusterExternalSecretStatus,
    printerColumns: [
      { name: "Store", type: "string", jsonPath: ".spec.externalSecretSpec.secretStoreRef.name" },
      { name: "Refresh Interval", type: "string", jsonPath: ".spec.refreshTime" },
      { name: "Ready", type: "string", jsonPath: `.status.conditions[?(@.type=="Ready")].status` },
    ],
  }),
  "external-secrets.io_secretstores.yaml": crd({
    group: "external-secrets.io",
    kind: "SecretStore",
    plural: "secretstores",
    shortNames: ["ss"],
    categories: ["external-secrets"],
    scope: "Namespaced",
    versions: ES_VERSIONS,
    spec: storeSpec(false),
    status: StoreStatus,
    printerColumns: [
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ...readyCol(),
      { name: "Capabilities", type: "string", jsonPath: ".status.capabilities" },
    ],
  }),
  "external-secrets.io_clustersecretstores.yaml": crd({
    group: "external-secrets.io",
    kind: "ClusterSecretStore",
    plural: "clustersecretstores",
    shortNames: ["css"],
    categories: ["external-secrets"],
    scope: "Cluster",
    versions: ES_VERSIONS,
    spec: storeSpec(true),
    status: StoreStatus,
    printerColumns: [
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ...readyCol(),
      { name: "Capabilities", type: "string", jsonPath: ".status.capabilities" },
    ],
  }),
  "external-secrets.io_pushsecrets.yaml": crd({
    group: "external-secrets.io",
    kind: "PushSecret",
    plural: "pushsecrets",
    shortNames: ["ps"],
    categories: ["external-secrets"],
    scope: "Namespaced",
    versions: ["v1alpha1"],
    spec: PushSecretSpec,
    status: PushSecretStatus,
    printerColumns: [
      { name: "AGE", type: "date", jsonPath: ".metadata.creationTimestamp" },
      { name: "Status", type: "string", jsonPath: `.status.conditions[?(@.type=="Ready")].reason` },
      { name: "Last Sync", type: "date", jsonPath: ".status.refreshTime" },
    ],
  }),
  "external-secrets.io_clusterpushsecrets.yaml": crd({
    group: "external-secrets.io",
    kind: "ClusterPushSecret",
    plural: "clusterpushsecrets",
    categories: ["external-secrets"],
    scope: "Cluster",
    versions: ["v1alpha1"],
    spec: ClusterPushSecretSpec,
    status: ClusterPushSecretStatus,
    printerColumns: [
      { name: "AGE", type: "date", jsonPath: ".metadata.creationTimestamp" },
      { name: "Status", type: "string", jsonPath: `.status.conditions[?(@.type=="Ready")].reason` },
    ],
  }),
  "bitnami.com_sealedsecrets.yaml": SEALED_SECRET_CRD,
  ...generatorCrds(),
};

// Optional CRDs are chart toggles (a cluster may run KES or VSO itself): templates, not crds/.
const templates = join(chartDir, "..", "templates");
const outputs: [string, string, string[]][] = [];
const header = "# Generated by scripts/generate-crds.ts from src/api/. Do not edit.\n";
const yamlOf = (o: JsonSchema): string => stringify(o, { lineWidth: 0 });
for (const [name, obj] of Object.entries({ ...files, ...VSO_CRDS }))
  outputs.push([name, `${header}${yamlOf(obj)}`, name in files ? [dir, chartDir] : [dir]]);
outputs.push([
  join(templates, "crds-vso.yaml"),
  `${header}{{- if .Values.vso.installCRDs }}\n${Object.values(VSO_CRDS).map(yamlOf).join("---\n")}{{- end }}\n`,
  [""],
]);
const kesName = "kubernetes-client.io_externalsecrets.yaml";
outputs.push([
  kesName,
  `${header}${yamlOf(KES_CRD)}`,
  [join(import.meta.dirname, "..", "deploy", "crds-kes")],
]);
outputs.push([
  join(templates, "kes-crd.yaml"),
  `{{- if and .Values.controllers.kes .Values.kes.installCRD }}\n${header}${yamlOf(KES_CRD)}{{- end }}\n`,
  [""],
]);

const check = process.argv.includes("--check");
let stale = 0;
if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
for (const [name, text, dirs] of outputs) {
  if (Buffer.byteLength(text) >= MAX)
    throw new Error(
      `${name} is ${Buffer.byteLength(text)} bytes, over the ${MAX}-byte client-side apply limit`,
    );
  for (const d of dirs) {
    const path = d ? join(d, name) : name;
    const current = existsSync(path) ? readFileSync(path, "utf8") : "";
    if (current === text) continue;
    if (check) {
      process.stderr.write(`${path} is out of date: run npm run crds\n`);
      stale++;
    } else {
      if (d) mkdirSync(d, { recursive: true });
      writeFileSync(path, text);
      process.stdout.write(`wrote ${path} (${Buffer.byteLength(text)} bytes)\n`);
    }
  }
}
process.exit(stale ? 1 : 0);
