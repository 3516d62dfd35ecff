/**
 * Secret identifiers as AWS takes them: a name, a full ARN or a partial ARN (without the six random
 * characters AWS appends) for Secrets Manager; a name (`/a/b` or `a`) or an ARN for SSM. They
 * travel in JSON bodies, never in a URL path, so there is nothing to traverse; the checks here keep
 * a `prefix` meaningful (no `..` segment to step out of it) and refuse what no API accepts.
 */
import { CustosError } from "../../util/errors.ts";

const MAX_ID = 2048;

/** What is wrong with an identifier (prefix included), or undefined. */
export function awsKeyProblem(id: string): string | undefined {
  if (!id) return "it is empty";
  if (id.length > MAX_ID) return `it is longer than ${MAX_ID} characters`;
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(id)) return "it has a control character";
  if (id.split("/").some((s) => s === "." || s === "..")) return 'it has a "." or ".." segment';
  return undefined;
}

export function checkAwsKey(id: string): void {
  const problem = awsKeyProblem(id);
  if (problem)
    throw new CustosError(
      "CUSTOS_INVALID_REMOTE_KEY",
      `remote key ${JSON.stringify(id.length > 200 ? `${id.slice(0, 200)}...` : id)} is not allowed: ${problem}`,
      { retryable: false },
    );
}

/**
 * Whether a secret the API returned (its ARN and Name) is the one asked for as `requested`: by
 * name, by full ARN, or by partial ARN (the full ARN is the partial one plus "-" and 6 characters).
 */
export function isRequested(
  requested: string,
  returned: { ARN?: string | undefined; Name?: string | undefined },
): boolean {
  if (requested === returned.Name || requested === returned.ARN) return true;
  const arn = returned.ARN;
  return (
    arn !== undefined &&
    requested.startsWith("arn:") &&
    arn.length === requested.length + 7 &&
    arn.startsWith(`${requested}-`)
  );
}
