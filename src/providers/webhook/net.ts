/**
 * Where a webhook store may send requests. The URL is tenant input, and the operator's own network
 * position is an identity: the cloud instance-metadata service (link-local addresses) hands out the
 * node's and the operator's cloud credentials, and loopback is the operator's own pod (sidecars
 * such as a Vault agent add the operator's token). A store that may not act as the operator (a
 * namespaced SecretStore, unless a platform admin allowed it) may therefore not reach link-local,
 * loopback or unspecified addresses. The check is made on the addresses a name resolves to, at
 * connect time (no DNS-rebinding gap), and redirects are never followed.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import { CustosError } from "../../util/errors.ts";

/** Why `ip` is reserved for stores with the operator identity, or undefined. */
export function reservedAddress(ip: string): string | undefined {
  let a = ip.toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1]!;
  if (isIP(a) === 4) {
    const [o1, o2] = a.split(".").map(Number) as [number, number];
    if (o1 === 127) return "a loopback address (the operator's own pod)";
    if (o1 === 169 && o2 === 254) return "a link-local address (cloud instance metadata)";
    if (o1 === 0) return "an unspecified address";
    return undefined;
  }
  if (isIP(a) === 6) {
    if (a === "::1") return "a loopback address (the operator's own pod)";
    if (a === "::") return "an unspecified address";
    if (/^fe[89ab][0-9a-f]:/.test(a)) return "a link-local address (cloud instance metadata)";
    if (a === "fd00:ec2::254") return "the AWS instance-metadata address";
    return undefined;
  }
  return undefined;
}

function refusal(host: string, why: string): CustosError {
  return new CustosError(
    "CUSTOS_STORE_DENIED",
    `webhook host "${host}" is ${why}, which only a ClusterSecretStore may reach ` +
      "(or namespaced stores when Custos runs with --allow-operator-identity-for-namespaced-stores)",
    { retryable: false },
  );
}

/** Throws when a literal-address host is reserved (names are checked at connect, see guardedLookup). */
export function checkLiteralHost(host: string, allowReserved: boolean): void {
  if (allowReserved) return;
  const why = reservedAddress(host);
  if (why) throw refusal(host, why);
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for net/tls.connect that refuses reserved addresses unless allowed. */
export function guardedLookup(allowReserved: boolean) {
  return (hostname: string, options: LookupOptions, cb: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        cb(err, "");
        return;
      }
      if (!allowReserved) {
        for (const a of addresses) {
          const why = reservedAddress(a.address);
          if (why) {
            cb(refusal(hostname, `resolved to ${why}`), "");
            return;
          }
        }
      }
      if (options.all) cb(null, addresses);
      else cb(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
