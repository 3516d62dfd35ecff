/**
 * The parameter dialects, by explicit list: `custos` always; the drop-ins for the existing
 * providers' SecretProviderClasses only when asked for (--drop-in), since their sockets take the
 * place of those providers'.
 */
import { CustosError } from "../../util/errors.ts";
import { custosDialect } from "./custos.ts";
import { vaultDialect } from "./vault.ts";
import { awsDialect } from "./aws.ts";
import type { Dialect } from "./types.ts";

export const DIALECTS: readonly Dialect[] = [custosDialect, vaultDialect, awsDialect];
export const DROP_INS: readonly string[] = DIALECTS.filter((d) => d.name !== "custos").map((d) => d.name);

export function dialectsFor(dropIns: readonly string[]): Dialect[] {
  for (const d of dropIns)
    if (!DROP_INS.includes(d))
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        `unknown drop-in "${d}" (known: ${DROP_INS.join(", ") || "none"})`,
        {
          retryable: false,
        },
      );
  return DIALECTS.filter((d) => d.name === "custos" || dropIns.includes(d.name));
}
