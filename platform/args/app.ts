import { appRules, type AppSettings } from "../../components/app/args";
import { nodeSpreadFor } from "../../components/lib/workload";
import { appIsOn, ingressHost } from "../../stack-config/stack-rules";
import type { PlatformSettings } from "../../stack-config/types";
import type { ComponentCheck } from "./check";

/**
 * The App's plain settings from the stack config. The Platform adds the registry password (a
 * secret output) to `build` and to the pull credentials, and wires in what other components
 * provide: the database, Redis, Temporal, S3 and Ollama endpoints, the OTLP endpoint, the Arcjet
 * key, the migrations Job and the deploy targets.
 */
export function argsForApp(config: PlatformSettings): AppSettings {
  const { app, cluster } = config;
  return {
    profile: config.profile,
    image: app.image,
    build: app.build,
    uid: app.uid,
    gid: app.gid,
    web: { ...app.web, nodeSpread: nodeSpreadFor(cluster.nodes) },
    worker: app.worker,
    ingress: {
      host: ingressHost(config, "app"),
      tlsSecretName: cluster.tlsSecretName,
      ingressClassName: cluster.ingressClass,
    },
    directDatabaseAccess: app.directDatabaseAccess,
    pull: {
      imagePullSecret: app.imagePullSecret !== undefined,
      credentials: app.registryUsername !== undefined,
    },
  };
}

/** The login the pods pull with, when the stack gives one: `app.registryUsername` or the build's. */
export function pullUsernameOf(config: PlatformSettings): string | undefined {
  return config.app.build !== undefined
    ? config.app.build.registry.username
    : config.app.registryUsername;
}

export const appCheck: ComponentCheck = {
  // An app that is off has no settings to check: the platform comes up without it.
  rules: (config) => (appIsOn(config) ? appRules(argsForApp(config)) : []),
  keys: {
    image: "app.image",
    build: "app.build",
    imagePullSecret: "app.imagePullSecret",
    uid: "app.uid",
    gid: "app.gid",
    web: "app.web",
    // The HPA's ceiling must be at least its floor: a raised floor clashes with the default ceiling.
    "web.maxReplicas": ["app.web.maxReplicas", "app.web.minReplicas"],
    worker: "app.worker",
    "ingress.host": "app.host",
    // Every Ingress of the stack, the App's included, is served with the cluster's TLS Secret.
    "ingress.tlsSecretName": "cluster.tlsSecretName",
  },
};
