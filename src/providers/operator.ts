/**
 * Uses of the operator's own identity by a store. A provider declares, from the spec alone, where
 * it would act as the operator (`OperatorIdentityUse`); these are refused at validation and again
 * at connect, before any request, unless the context grants the identity. The grant itself is
 * made in one place (src/engine/operator-identity.ts): a provider cannot produce it.
 */
import type { OperatorIdentity, StoreContext } from "./types.ts";
import { CustosError } from "../util/errors.ts";

/** The operator flag a platform admin sets to let namespaced SecretStores act as the operator. */
export const OPERATOR_IDENTITY_FLAG = "--allow-operator-identity-for-namespaced-stores";

export interface OperatorIdentityUse {
  /** Where, in words: "auth.kubernetes has no serviceAccountRef or secretRef". */
  where: string;
  /** Which credential: "the operator's own service-account token". */
  credential: string;
  /** What the tenant can set instead: "auth.kubernetes.serviceAccountRef or secretRef". */
  instead: string;
}

export function deniedMessage(use: OperatorIdentityUse, storeKind: StoreContext["storeKind"]): string {
  const who = storeKind === "SecretStore" ? "a namespaced SecretStore" : "this store";
  return (
    `${use.where}, so it would use ${use.credential}, which ${who} may not use: ` +
    `set ${use.instead}, or a platform admin may start Custos with ${OPERATOR_IDENTITY_FLAG}`
  );
}

/** The refusals for `uses` in this context: empty when the context grants the operator identity. */
export function identityProblems(
  uses: OperatorIdentityUse[],
  ctx: Pick<StoreContext, "storeKind" | "operator">,
): string[] {
  return ctx.operator ? [] : uses.map((u) => deniedMessage(u, ctx.storeKind));
}

/** Throws CUSTOS_OPERATOR_IDENTITY_DENIED when the context does not grant what `uses` need. */
export function assertIdentityAllowed(
  uses: OperatorIdentityUse[],
  ctx: Pick<StoreContext, "storeKind" | "operator">,
): void {
  const problems = identityProblems(uses, ctx);
  if (problems.length)
    throw new CustosError("CUSTOS_OPERATOR_IDENTITY_DENIED", problems.join("; "), { retryable: false });
}

/**
 * The operator identity for one use; throws CUSTOS_OPERATOR_IDENTITY_DENIED when the context does
 * not carry it. The wall that holds even if a provider's declared uses missed this one.
 */
export function operatorIdentity(ctx: StoreContext, use: OperatorIdentityUse): OperatorIdentity {
  if (!ctx.operator)
    throw new CustosError("CUSTOS_OPERATOR_IDENTITY_DENIED", deniedMessage(use, ctx.storeKind), {
      retryable: false,
    });
  return ctx.operator;
}
