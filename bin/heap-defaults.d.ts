/** Types of heap-defaults.js (plain JavaScript: it runs before anything is compiled). */
export function heapDefaults(p: {
  args: string[];
  execArgv: string[];
  env: Record<string, string | undefined>;
  constrainedMemory: number;
  totalMemory: number;
}): string[] | undefined;
