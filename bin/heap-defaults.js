// Runtime defaults for the long-running `custos operator` (docs/operations.md, "Memory").
// V8 sizes its heap from the machine rather than the container and grows it lazily during bursts:
// measured with 1,000 ExternalSecrets, the heap reached ~240 MiB while ~50 MiB was live. Unless the
// user chose heap settings (node arguments, NODE_OPTIONS, or CUSTOS_HEAP_DEFAULTS=off), the
// operator re-executes itself (same process, execve) with:
//   --optimize-for-size       smaller heap growth steps and young generation (the largest saving)
//   --max-semi-space-size=N   young generation bound (MiB): 2 below 2 GiB of memory, else 4
//   --max-old-space-size=N    60% of the container's memory limit (or of the machine's memory),
//                             between 96 MiB and 4 GiB: GC works harder before the limit is met.
// Plain JavaScript: it runs before anything is compiled or loaded.

const USER_HEAP_FLAG =
  /--(max-old-space-size|max-old-space-size-percentage|max-semi-space-size|min-semi-space-size|heap-growing-percent|optimize-for-size|no-optimize-for-size)(=|$)/;

/**
 * The node arguments to add, or undefined to run as is.
 * @param {{ args: string[], execArgv: string[], env: Record<string, string | undefined>,
 *   constrainedMemory: number, totalMemory: number }} p  args: the CLI's arguments (after the script)
 * @returns {string[] | undefined}
 */
export function heapDefaults({ args, execArgv, env, constrainedMemory, totalMemory }) {
  if (args[0] !== "operator" || args.includes("--help") || args.includes("-h")) return undefined;
  if (env.CUSTOS_HEAP_DEFAULTS === "off") return undefined;
  const userFlags = [...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)];
  if (userFlags.some((a) => USER_HEAP_FLAG.test(a))) return undefined;
  // constrainedMemory is 0 or a huge number when no cgroup limit is set
  const limit = constrainedMemory > 0 && constrainedMemory < totalMemory ? constrainedMemory : totalMemory;
  const limitMiB = Math.floor(limit / 2 ** 20);
  const oldSpace = Math.min(4096, Math.max(96, Math.floor(limitMiB * 0.6)));
  const semiSpace = limitMiB < 2048 ? 2 : 4;
  return ["--optimize-for-size", `--max-semi-space-size=${semiSpace}`, `--max-old-space-size=${oldSpace}`];
}
