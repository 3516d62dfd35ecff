/**
 * Keeps a long-running command (operator, csi-provider) alive until SIGINT/SIGTERM, then stops it
 * and exits. A second signal, or a shutdown that outlives its grace period, ends the process at
 * once; open keep-alive sockets or watch streams must not keep a stopped server alive.
 */
export async function runUntilSignalled(stop: () => Promise<void>, graceMs = 15_000): Promise<never> {
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (): void => {
      if (signalled) process.exit(1);
      signalled = true;
      setTimeout(() => process.exit(1), graceMs).unref();
      void stop().then(resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  process.exit(0);
}
