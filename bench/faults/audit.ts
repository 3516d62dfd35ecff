/**
 * The API server's own record of what the operator did: kube-apiserver writes an audit log
 * (--audit-log-path) of every request made by a ServiceAccount (the operator runs with
 * ServiceAccount tokens; the harness and kube-controller-manager use the admin token and are not
 * logged). Counting LIST calls and Secret writes there needs no cooperation from the operator.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
`;

/** kube-apiserver flags writing the audit log to `dir`/audit.log. */
export function auditArgs(dir: string): string[] {
  const policy = join(dir, "audit-policy.yaml");
  writeFileSync(policy, AUDIT_POLICY);
  return [
    `--audit-policy-file=${policy}`,
    `--audit-log-path=${join(dir, "audit.log")}`,
    "--audit-log-maxsize=0",
    "--audit-log-mode=blocking",
  ];
}

export interface AuditEvent {
  verb: string;
  user: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
  /** ms since epoch (stageTimestamp) */
  time: number;
  /** a LIST's second or later page (the request carries a `continue` token) */
  continued?: boolean;
}

interface RawEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  stageTimestamp?: string;
  requestURI?: string;
}

/** Parses audit log lines (JSON, one event a line), keeping completed requests only. */
export function parseAudit(text: string): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let e: RawEvent;
    try {
      e = JSON.parse(line) as RawEvent;
    } catch {
      continue; // a line being written
    }
    if (e.stage !== "ResponseComplete" && e.stage !== "Panic") continue;
    out.push({
      verb: e.verb ?? "",
      user: e.user?.username ?? "",
      resource: e.objectRef?.resource ?? "",
      ...(e.objectRef?.subresource ? { subresource: e.objectRef.subresource } : {}),
      ...(e.objectRef?.namespace ? { namespace: e.objectRef.namespace } : {}),
      ...(e.objectRef?.name ? { name: e.objectRef.name } : {}),
      code: e.responseStatus?.code ?? 0,
      time: Date.parse(e.stageTimestamp ?? "") || 0,
      ...(/[?&]continue=[^&]/.test(e.requestURI ?? "") ? { continued: true } : {}),
    });
  }
  return out;
}

/** Reads the audit log of an environment; the log may span API server restarts (it is appended to). */
export function readAudit(dir: string): AuditEvent[] {
  const file = join(dir, "audit.log");
  return existsSync(file) ? parseAudit(readFileSync(file, "utf8")) : [];
}

export const isSecretWrite = (e: AuditEvent): boolean =>
  e.resource === "secrets" &&
  !e.subresource &&
  (e.verb === "create" || e.verb === "update" || e.verb === "patch") &&
  e.code < 300;

export const isSecretDelete = (e: AuditEvent): boolean =>
  e.resource === "secrets" && e.verb === "delete" && e.code < 300;

/**
 * A LIST, i.e. one relist: its first page. A list of more than 500 objects takes one request per
 * page (the informer asks for pages of 500, as client-go does); the later pages are not relists.
 */
export const isList = (e: AuditEvent): boolean => e.verb === "list" && !e.continued;

/** Every LIST request, pages included. */
export const isListRequest = (e: AuditEvent): boolean => e.verb === "list";

export function inWindow(events: readonly AuditEvent[], from: number, to = Infinity): AuditEvent[] {
  return events.filter((e) => e.time >= from && e.time < to);
}

/** LIST calls (first pages: relists) by resource, e.g. { secrets: 2, externalsecrets: 1 }. */
export function listsByResource(events: readonly AuditEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) if (isList(e)) out[e.resource] = (out[e.resource] ?? 0) + 1;
  return out;
}
