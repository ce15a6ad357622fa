import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { binaryPath, ensureGoTool, goEnvironment } from "../../integration/lib/go-tools";
import { controlPlaneTool, kwokTool } from "../../integration/lib/test-tools";
import type { ControlPlaneBinaries } from "./control-plane";

/**
 * kwok's own stage definitions at the version we run, from its module source (the build just
 * downloaded it): nodes become Ready and renew their lease; pods become Ready at once, pods owned
 * by a Job then Succeed, and deleted pods go. The `fast` set, without the `general` set's delays.
 */
const KWOK_STAGES = [
  "node/fast/node-initialize.yaml",
  "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
  "pod/fast/pod-ready.yaml",
  "pod/fast/pod-complete.yaml",
  "pod/fast/pod-delete.yaml",
];

/** Builds (or finds cached) the control plane and kwok; build-all builds them before the suite. */
export async function ensureE2eBinaries(): Promise<ControlPlaneBinaries> {
  const controlPlane = controlPlaneTool();
  const kwok = kwokTool();
  await ensureGoTool(controlPlane);
  await ensureGoTool(kwok);
  const module = JSON.parse(
    execFileSync("go", ["mod", "download", "-json", `sigs.k8s.io/kwok@${kwok.version}`], {
      encoding: "utf8",
      env: goEnvironment(),
      cwd: os.tmpdir(), // outside any module: download, not resolve against one
    }),
  ) as { Dir: string };
  const stages = KWOK_STAGES.map((file) =>
    fs.readFileSync(path.join(module.Dir, "kustomize", "stage", file), "utf8").trim(),
  );
  return {
    controlPlane: binaryPath(controlPlane, "control-plane"),
    kwok: binaryPath(kwok, "kwok"),
    kwokStages: stages.join("\n---\n") + "\n",
  };
}
