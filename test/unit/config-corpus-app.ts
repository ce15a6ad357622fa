import type { Row } from "./config-corpus";
import type { StackValues } from "./stack-config";

/**
 * The corpus rows of the app's image, pull credentials and runtime contract: each a stack that
 * must be refused, the key the problem must be reported at, and a fragment of the reason.
 */

const dev = (app: StackValues): StackValues => ({ profile: "dev", app });
const prod = (app: StackValues): StackValues => ({ profile: "prod", app });
const SECURE_PASSWORD = { raw: { "k3s-platform:registryPassword": "s3cret-token" } };
const PASSWORD_IS_SECRET = { secretKeys: ["k3s-platform:registryPassword"] };
const BUILD = { context: "app-source", registry: { server: "ghcr.io" }, repository: "acme/app" };

export const APP_CONTRACT_ROWS: Row[] = [
  [
    "a build repository that names the registry host again",
    dev({ image: undefined, build: { ...BUILD, repository: "ghcr.io/acme/app" } }),
    "app.build.repository",
    /without a registry host/,
    { tools: true },
  ],
  [
    "both an image and a build",
    dev({ build: BUILD }),
    "app.image",
    /either image or build, not both/,
  ],
  [
    "an image with an uppercase repository",
    dev({ image: "ghcr.io/Acme/app:1.0" }),
    "app.image",
    /lowercase repository/,
  ],
  [
    "an image with a malformed tag",
    dev({ image: "ghcr.io/acme/app:-1" }),
    "app.image",
    /malformed tag/,
  ],
  [
    "an image with a bad registry host",
    dev({ image: "ghcr_io:80/acme/app:1.0" }),
    "app.image",
    /malformed registry host/,
  ],
  ["a web port out of range", dev({ web: { port: 70000 } }), "app.web.port", /at most 65535/],
  [
    "a worker health port of zero",
    dev({ worker: { healthPort: 0 } }),
    "app.worker.healthPort",
    /at least 1/,
  ],
  [
    "a web port on the metrics port",
    dev({ web: { port: 9464 } }),
    "app.web.port",
    /must differ from the metrics port/,
  ],
  [
    "a probe path without a leading slash",
    dev({ web: { probes: { readiness: { path: "api/health" } } } }),
    "app.web.probes.readiness.path",
    /must start with "\/"/,
    { tools: true },
  ],
  [
    "a probe with a path and a command",
    dev({ worker: { probes: { liveness: { path: "/alive", exec: ["/bin/alive"] } } } }),
    "app.worker.probes.liveness.path",
    /set exactly one/,
  ],
  [
    "a probe port out of range",
    dev({ web: { probes: { liveness: { path: "/alive", port: 0 } } } }),
    "app.web.probes.liveness.port",
    /at least 1/,
  ],
  [
    "liveness that is readiness",
    dev({ web: { probes: { readiness: { path: "/h" }, liveness: { path: "/h" } } } }),
    "app.web.probes.liveness",
    /must differ from readiness/,
  ],
  [
    "a misspelled probe key",
    dev({ web: { probes: { readyness: { path: "/h" } } } }),
    "app.web.probes.readyness",
    /did you mean "readiness"/,
  ],
  [
    "a startup allowance of zero",
    dev({ worker: { probes: { startupSeconds: 0 } } }),
    "app.worker.probes.startupSeconds",
    /at least 1/,
  ],
  [
    "a worker command with an empty entry",
    dev({ worker: { command: ["node", ""] } }),
    "app.worker.command",
    /none empty/,
  ],
  [
    "a worker command that is a string",
    dev({ worker: { command: "node worker.js" } }),
    "app.worker.command",
    /list|array/,
  ],
  ["a root user", dev({ uid: 0 }), "app.uid", /at least 1/],
  ["a group beyond what Linux maps", dev({ gid: 2 ** 31 }), "app.gid", /at most 2147483647/],
  [
    "a pull Secret name that is no DNS subdomain",
    dev({ imagePullSecret: "Acme_Pull" }),
    "app.imagePullSecret",
    /DNS subdomain/,
    { tools: true },
  ],
  [
    "a pull Secret and a pull login",
    dev({ imagePullSecret: "acme-pull", registryUsername: "ci" }),
    "app.imagePullSecret",
    /not both/,
    { ...SECURE_PASSWORD, ...PASSWORD_IS_SECRET },
  ],
  [
    "a pull login without its password",
    dev({ registryUsername: "ci" }),
    "app.registryUsername",
    /needs its password/,
  ],
  [
    "a pull login for a build",
    prod({ image: undefined, build: BUILD, registryUsername: "ci" }),
    "app.registryUsername",
    /a build pulls with app\.build\.registry\.username/,
    { ...SECURE_PASSWORD, ...PASSWORD_IS_SECRET },
  ],
  [
    "a registry password nothing logs in with",
    dev({}),
    "registryPassword",
    /nothing logs in with it/,
    { ...SECURE_PASSWORD, ...PASSWORD_IS_SECRET },
  ],
  [
    "a pull login for an app that is off",
    dev({ image: undefined, registryUsername: "ci" }),
    "app.registryUsername",
    /the app is off/,
  ],
];
