/**
 * Client load for a failover: pgbench inserting through PgBouncer, restarted whenever a lost
 * server aborts its clients; and a writer of a numbered sequence, one transaction per value (a
 * new `psql` each, as an app's request reconnects), that records which commits were
 * acknowledged, so a test can check every one of them is still there afterwards.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { runProgram } from "../../integration/lib/rendered-postgres";

export interface Load {
  /** Transactions pgbench reported processed, over every run. */
  transactions(): number;
  stop(): void;
  done: Promise<void>;
}

/** pgbench, 4 clients, in 5-second runs until stopped. */
export function startLoad(env: Record<string, string>, scratch: string): Load {
  const script = path.join(scratch, "load.sql");
  fs.writeFileSync(script, "INSERT INTO load DEFAULT VALUES;\n");
  let stopped = false;
  let transactions = 0;
  const loop = async () => {
    while (!stopped) {
      const result = await runProgram(
        "pgbench",
        ["-n", "-c", "4", "-j", "2", "-T", "5", "-f", script],
        env,
      );
      transactions += Number(/actually processed: (\d+)/.exec(result.stdout)?.[1] ?? 0);
      // A run that aborted at once (no primary yet) must not spin.
      if (result.code !== 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  return {
    transactions: () => transactions,
    stop: () => {
      stopped = true;
    },
    done: loop(),
  };
}

export interface SequenceWriter {
  /** Values whose INSERT committed and was acknowledged to the client. */
  acknowledged(): number[];
  /** Attempts that failed (refused, cut off, or not acknowledged). */
  failed(): number;
  /** When the latest acknowledged attempt began (ms since the epoch), 0 before any. */
  lastSuccessStartedAt(): number;
  /** When the first acknowledged attempt that began after `time` ended. */
  firstSuccessAfter(time: number): number;
  stop(): void;
  done: Promise<void>;
}

/** Writes `first`, `first + 1`, … into `seq` until stopped. */
export function startSequenceWriter(env: Record<string, string>, first = 1): SequenceWriter {
  const acked: number[] = [];
  const successes: { started: number; ended: number }[] = [];
  let failed = 0;
  let stopped = false;
  const loop = async () => {
    for (let value = first; !stopped; value++) {
      const started = Date.now();
      const result = await runProgram(
        "psql",
        ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", `INSERT INTO seq VALUES (${value})`],
        env,
      );
      if (result.code === 0) {
        acked.push(value);
        successes.push({ started, ended: Date.now() });
      } else {
        failed++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  return {
    acknowledged: () => [...acked],
    failed: () => failed,
    lastSuccessStartedAt: () => successes.at(-1)?.started ?? 0,
    firstSuccessAfter: (time) =>
      successes.find((success) => success.started > time)?.ended ?? Number.NaN,
    stop: () => {
      stopped = true;
    },
    done: loop(),
  };
}
