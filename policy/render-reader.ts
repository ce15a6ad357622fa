import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type { RenderedResource } from "./model/render-model";

/*
 * A render as `npm run render` writes it (`plan.json` plus `manifests/`), read back into the shape
 * the rules run on, so the pack can judge a render wherever it is copied, with no program to run.
 */

/** One entry of `plan.json`: a resource without its inputs, and the file holding its manifest. */
type PlanEntry = Omit<RenderedResource, "props"> & { manifest?: string };

/** The resources of the render in `dir`, each Kubernetes object with its manifest as props. */
export function readRender(dir: string): RenderedResource[] {
  const planFile = path.join(dir, "plan.json");
  if (!fs.existsSync(planFile)) {
    throw new Error(`${dir}: no plan.json; pass the directory \`npm run render\` wrote`);
  }
  const plan = JSON.parse(fs.readFileSync(planFile, "utf8")) as { resources?: PlanEntry[] };
  if (!Array.isArray(plan.resources)) {
    throw new Error(`${planFile}: has no resources list; render the stack again`);
  }
  return plan.resources.map(({ manifest, ...resource }) => ({
    ...resource,
    props: manifest === undefined ? {} : readManifest(path.join(dir, "manifests", manifest)),
  }));
}

function readManifest(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) {
    throw new Error(`${file}: named in plan.json but missing; render the stack again`);
  }
  const manifest: unknown = parse(fs.readFileSync(file, "utf8"));
  if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) {
    throw new Error(`${file}: is not a Kubernetes object`);
  }
  return manifest as Record<string, unknown>;
}
