/** The KIND/NAME argument of `custos explain`. Pure. */
import { CustosError } from "../../util/errors.ts";

const KINDS: Record<string, "ExternalSecret"> = {
  externalsecret: "ExternalSecret",
  externalsecrets: "ExternalSecret",
  es: "ExternalSecret",
  "externalsecret.external-secrets.io": "ExternalSecret",
  "externalsecrets.external-secrets.io": "ExternalSecret",
};

export function parseTarget(arg: string): { kind: "ExternalSecret"; name: string } {
  const slash = arg.indexOf("/");
  const kind = slash < 0 ? undefined : KINDS[arg.slice(0, slash).toLowerCase()];
  const name = slash < 0 ? "" : arg.slice(slash + 1);
  if (!kind || !name || name.includes("/"))
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      `expected externalsecret/NAME or es/NAME, got "${arg}" (explain walks ExternalSecrets)`,
      { retryable: false },
    );
  return { kind, name };
}
