/** VaultDynamicSecret and VaultPKISecret decisions (leases, restarts, PKI requests and data). */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  answerData,
  dynamicRequest,
  leaseOf,
  leaseStillGood,
  pkiData,
  pkiPath,
  pkiRenewAt,
  pkiRequest,
  renewalDelayMs,
  sameStaticCreds,
  staticCredsDelayMs,
  staticCredsMeta,
} from "../../../src/controllers/vso/leased.ts";

const dest = { name: "d" };

test("dynamic request: GET without params, PUT with them, the method as asked; GET with params refused", () => {
  assert.deepEqual(dynamicRequest({ mount: "db", path: "creds/r", destination: dest }), { method: "GET" });
  assert.deepEqual(dynamicRequest({ mount: "db", path: "creds/r", params: { a: "1" }, destination: dest }), {
    method: "PUT",
    body: { a: "1" },
  });
  assert.deepEqual(dynamicRequest({ mount: "db", path: "p", requestHTTPMethod: "POST", destination: dest }), {
    method: "POST",
    body: {},
  });
  assert.throws(() =>
    dynamicRequest({
      mount: "db",
      path: "p",
      requestHTTPMethod: "GET",
      params: { a: "1" },
      destination: dest,
    }),
  );
});

test("leases: renewal at renewalPercent (67 by default, at most 90); a good lease survives a restart (VSO #285)", () => {
  assert.equal(renewalDelayMs({}, 100), 67_000);
  assert.equal(renewalDelayMs({ renewalPercent: 95 }, 100), 90_000);
  assert.equal(renewalDelayMs({ renewalPercent: 0 }, 100), 1_000, "never a busy loop");
  const lease = leaseOf({
    lease_id: "db/creds/r/abc",
    lease_duration: 100,
    renewable: true,
    request_id: "q",
  });
  assert.deepEqual(lease, { id: "db/creds/r/abc", duration: 100, renewable: true, requestID: "q" });
  const issued = 1_000_000; // s
  assert.equal(
    leaseStillGood({}, lease, issued, issued * 1000 + 10_000),
    true,
    "restart 10 s after issue: kept",
  );
  assert.equal(
    leaseStillGood({}, lease, issued, issued * 1000 + 67_000),
    false,
    "at the renewal point: renew",
  );
  assert.equal(leaseStillGood({}, undefined, issued, issued * 1000), false);
  assert.equal(leaseStillGood({}, { ...lease, id: "" }, issued, issued * 1000), false);
});

test("dynamic data: fields and _raw; excludeRaw", () => {
  const dec = (d: Record<string, Uint8Array>) =>
    Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Buffer.from(v).toString()]));
  assert.deepEqual(dec(answerData({ data: { username: "u", ttl: 3 } }, undefined)), {
    username: "u",
    ttl: "3",
    _raw: '{"ttl":3,"username":"u"}',
  });
  assert.deepEqual(dec(answerData({ data: { username: "u" } }, { excludeRaw: true })), { username: "u" });
});

test("PKI: issue path with issuerRef, request fields, tls keys, renewal point", () => {
  const spec = {
    mount: "pki",
    role: "web",
    commonName: "a.example.com",
    altNames: ["b.example.com", "c.example.com"],
    ipSans: ["10.0.0.1"],
    ttl: "1h",
    format: "pem",
    excludeCNFromSans: true,
    destination: dest,
  };
  assert.deepEqual(pkiPath(spec), ["issue", "web"]);
  assert.deepEqual(pkiPath({ ...spec, issuerRef: "root-2" }), ["issuer", "root-2", "issue", "web"]);
  assert.deepEqual(pkiRequest(spec), {
    common_name: "a.example.com",
    alt_names: "b.example.com,c.example.com",
    ip_sans: "10.0.0.1",
    ttl: "1h",
    format: "pem",
    exclude_cn_from_sans: true,
  });
  const data = pkiData(
    {
      certificate: "CERT",
      private_key: "KEY",
      issuing_ca: "CA",
      ca_chain: ["INTER", "CA"],
      serial_number: "1a",
      expiration: 100,
    },
    "kubernetes.io/tls",
  );
  const s = (k: string) => Buffer.from(data[k]!).toString();
  assert.equal(s("tls.crt"), "CERT\nINTER\nCA");
  assert.equal(s("tls.key"), "KEY");
  assert.equal(s("ca_chain"), '["INTER","CA"]');
  assert.equal(s("expiration"), "100");
  assert.equal(data._raw, undefined);
  assert.equal(pkiData({ certificate: "C" }, undefined)["tls.crt"], undefined);
  assert.equal(pkiRenewAt({ expiryOffset: "10s" }, 100), 90_000);
  assert.equal(pkiRenewAt({}, 100), 100_000);
});

test("static creds (allowStaticCreds): the rotation metadata of a database static role's answer, read again just after the next rotation", () => {
  const answer = {
    username: "static_app",
    password: "p1",
    last_vault_rotation: "2026-12-02T04:00:00.123456789Z",
    rotation_period: 10,
    ttl: 7,
  };
  const meta = staticCredsMeta(answer);
  assert.deepEqual(meta, {
    lastVaultRotation: Date.UTC(2026, 11, 2, 4) / 1000,
    rotationPeriod: 10,
    rotationSchedule: "",
    ttl: 7,
  });
  assert.equal(staticCredsDelayMs(meta!), 7_500);
  assert.equal(staticCredsDelayMs({ ...meta!, ttl: 0 }), 1_000);
  assert.equal(
    staticCredsMeta({ ...answer, rotation_period: 0, rotation_schedule: "*/5 * * * *" })?.rotationSchedule,
    "*/5 * * * *",
  );
  // not static creds: no rotation, or no period/schedule, or nothing
  assert.equal(staticCredsMeta({ username: "u", password: "p" }), undefined);
  assert.equal(staticCredsMeta({ ...answer, rotation_period: 0 }), undefined);
  assert.equal(staticCredsMeta({ ...answer, last_vault_rotation: "not a time" }), undefined);
  assert.equal(staticCredsMeta(null), undefined);
});

test("static creds: unchanged credentials are not written again for a new ttl; a rotation or a missing Secret is", () => {
  const enc = (o: Record<string, string>): Record<string, Uint8Array> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, new TextEncoder().encode(v)]));
  const b64 = (o: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  const stored = {
    username: "u",
    password: "p1",
    ttl: "9",
    last_vault_rotation: "t1",
    rotation_period: "10",
    _raw: "{}",
  };
  const read = { ...stored, ttl: "3", _raw: '{"ttl":3}' };
  assert.equal(sameStaticCreds(enc(read), b64(stored)), true);
  assert.equal(
    sameStaticCreds(enc({ ...read, password: "p2", last_vault_rotation: "t2" }), b64(stored)),
    false,
  );
  assert.equal(sameStaticCreds(enc({ ...read, extra: "x" }), b64(stored)), false);
  assert.equal(sameStaticCreds(enc(read), undefined), false);
});
