import type * as k8s from "@pulumi/kubernetes";
import { check, probesFor } from "../lib/probes";
import type { ResourceSpec } from "../lib/resources";
import { statefulWorkload, type StatefulWorkloadBase } from "../lib/stateful";
import type { S3Credentials } from "./buckets";

/** S3 API port. */
export const OBJECT_STORE_API_PORT = 9000;
/** Web console port. */
export const OBJECT_STORE_CONSOLE_PORT = 9001;
/** Root user name; only its password is generated (a user name guards nothing). */
export const OBJECT_STORE_ROOT_USER = "root";
/** Where the data volume is mounted: the server's one drive. */
const DATA_DIR = "/data";

/** What {@link objectStoreStatefulSet} builds from. */
export interface ObjectStoreWorkloadSpec extends StatefulWorkloadBase {
  image: string;
  runAsUser: number;
  resources: ResourceSpec;
  root: S3Credentials;
}

/** The server: one drive on a PVC, S3 API and console, root credentials from the Secret. */
export function objectStoreStatefulSet(spec: ObjectStoreWorkloadSpec): k8s.apps.v1.StatefulSetArgs {
  const { image, runAsUser, resources, root, ...stateful } = spec;
  return statefulWorkload({
    ...stateful,
    container: {
      image,
      // The binary, not the image's entrypoint script: a replacement image need only ship `minio`.
      command: ["minio"],
      args: [
        "server",
        DATA_DIR,
        `--address=:${OBJECT_STORE_API_PORT}`,
        `--console-address=:${OBJECT_STORE_CONSOLE_PORT}`,
        // Default is ~/.minio/certs, on the read-only root filesystem.
        "--certs-dir=/tmp/certs",
      ],
      ports: [
        { name: "api", containerPort: OBJECT_STORE_API_PORT },
        { name: "console", containerPort: OBJECT_STORE_CONSOLE_PORT },
      ],
      env: [
        root.accessKey.env("MINIO_ROOT_USER"),
        root.secretKey.env("MINIO_ROOT_PASSWORD"),
        // The update check calls dl.min.io, an egress the network policies do not allow.
        { name: "MINIO_UPDATE", value: "off" },
      ],
      resources,
      probes: probesFor(check.http("/minio/health/ready", "api"), {
        liveness: check.http("/minio/health/live", "api"),
        startupSeconds: 120,
      }),
    },
    dataDir: DATA_DIR,
    pod: { security: { runAsUser } },
  });
}
