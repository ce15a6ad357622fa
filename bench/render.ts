import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * `npm run bench`: how long an engine-less render of the prod stack takes in a fresh process,
 * beside the time a fresh process needs merely to load @pulumi/kubernetes — the floor any render
 * pays. Prints medians over several runs; asserts nothing.
 */

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const tsx = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

function timeRun(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (result.status !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), "bench-render-"));
try {
  const render = Array.from({ length: RUNS }, () =>
    timeRun([tsx, "tools/render.ts", "prod", "--out", out]),
  );
  // Loading the package index resolves every API group, as a program that uses many kinds does.
  const load = Array.from({ length: RUNS }, () =>
    timeRun([
      "-e",
      "const k = require('@pulumi/kubernetes'); void Object.keys(k).map((g) => k[g]);",
    ]),
  );
  const manifests = fs.readdirSync(path.join(out, "manifests")).length;
  console.log(`runs: ${RUNS} each, medians, fresh process every run`);
  console.log(`render prod (${manifests} manifests):   ${median(render).toFixed(0)} ms`);
  console.log(`load @pulumi/kubernetes only:        ${median(load).toFixed(0)} ms`);
  console.log(`ratio render / load:                 ${(median(render) / median(load)).toFixed(2)}`);
} finally {
  fs.rmSync(out, { recursive: true, force: true });
}
