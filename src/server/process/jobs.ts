/**
 * Background jobs: named, periodic, stoppable. A job runs one pass at a time (the
 * next is scheduled when the last has ended, so a slow pass never overlaps itself),
 * logs a failure with its name and tries again at the next turn; stop() waits for a
 * pass in flight, so nothing runs against a core that is closing.
 */
import type { Logger } from "../logger.js";

export type Job = {
  readonly name: string;
  start(): void;
  /** no further passes; resolves when the one in flight (if any) has ended */
  stop(): Promise<void>;
};

export type JobSpec = {
  name: string;
  everyMs: number;
  /** one pass (it logs what it did, when that is worth a line) */
  run(): Promise<void>;
};

export function periodicJob(spec: JobSpec, log: Logger): Job {
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let running = false;
  const schedule = () => {
    timer = setTimeout(() => {
      pass = spec.run().then(
        () => undefined,
        (err: unknown) =>
          log.warn(
            { job: spec.name, err: err instanceof Error ? err.message : String(err), retryInMs: spec.everyMs },
            "background job failed",
          ),
      );
      void pass.finally(() => {
        pass = undefined;
        if (running) schedule();
      });
    }, spec.everyMs);
    // a job alone never keeps the process alive
    timer.unref();
  };
  return {
    name: spec.name,
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await pass;
    },
  };
}
