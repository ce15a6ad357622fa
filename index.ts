import * as k8s from "@pulumi/kubernetes";
import { loadConfig } from "./config";
import { Platform } from "./platform/platform";
import { presentOutputs, stackOutputs } from "./platform/outputs";

// Config first: a bad value fails here, before any resource (even the provider) is registered.
const { kubernetes, ...platformArgs } = loadConfig();

// One explicit provider, so no resource ever falls back to whatever kubeconfig happens to be ambient
// unless the stack says so by leaving kubernetes.kubeconfig and kubernetes.context unset.
const provider = new k8s.Provider("k3s", {
  kubeconfig: kubernetes.kubeconfig,
  context: kubernetes.context,
  enableServerSideApply: true,
  // Our ConfigMaps and Secrets keep their names, and the pods that read them roll through the
  // config-hash annotation. Without these two, the provider replaces one whose data changed:
  // delete, then create, taking every dependent with it (a pool size change took PgBouncer down)
  // and refusing outright where a dependent is protected (a rotated Postgres password in prod).
  enableConfigMapMutable: true,
  enableSecretMutable: true,
});

const platform = new Platform("platform", platformArgs, { provider });

// The stack outputs (platform/outputs.ts lists them with what each holds); the app's own only
// while the app is on. `export =` so an output that does not exist is absent, not undefined.
export = presentOutputs(stackOutputs(platform));
