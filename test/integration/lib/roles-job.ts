/**
 * The rendered role-reconcile Job, run on loopback as the cluster would run it: its own script
 * (`bash -c`), its own environment with the Service address and the superuser's Secret keys
 * mapped to a local server, and its volumes laid out as files the way the kubelet would mount
 * them (the init ConfigMap's data, and of each role Secret the items the Job names), with pod
 * paths rewritten to the temp folder. Every mapping is returned as a line, so a test can print
 * what differs from the render.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { PostgresServer } from "./postgres";
import type { RenderedStack } from "./rendered-stack";
import { runShell, type ProgramResult } from "./rendered-postgres";

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
}

interface JobManifest {
  metadata: { name: string };
  spec: {
    template: {
      spec: {
        volumes: Volume[];
        containers: {
          image: string;
          command: string[];
          env: EnvVar[];
          volumeMounts: { name: string; mountPath: string }[];
        }[];
      };
    };
  };
}

/** The role-reconcile Job of a render, as its manifest holds it. */
export interface RenderedRolesJob {
  /** Its hashed name. */
  name: string;
  image: string;
  /** The script of `bash -c`. */
  script: string;
  manifest: JobManifest;
}

/** The one Job of the render whose name starts with `postgres-roles-`. */
export function renderedRolesJob(render: RenderedStack): RenderedRolesJob {
  const jobs = (render.manifests("Job") as JobManifest[]).filter((job) =>
    /^postgres-roles-[0-9a-f]{8}$/.test(job.metadata.name),
  );
  if (jobs.length !== 1) throw new Error(`expected one role-reconcile Job, found ${jobs.length}`);
  const [container] = jobs[0].spec.template.spec.containers;
  const [shell, flag, script] = container.command;
  if (shell !== "bash" || flag !== "-c") throw new Error(`unexpected command ${container.command}`);
  return { name: jobs[0].metadata.name, image: container.image, script, manifest: jobs[0] };
}

/** What the Secrets the Job reads hold, by Secret name and key (the render redacts them). */
export type SecretData = Record<string, Record<string, string>>;

/** A Job laid out on disk for one server: run it with {@link LocalRolesJob.run}. */
export interface LocalRolesJob {
  /** One line per pod path and env value mapped to loopback. */
  mappings: string[];
  /** Runs the Job's script once with its mapped environment; never throws. */
  run(): Promise<ProgramResult & { seconds: number }>;
  remove(): void;
}

/**
 * The Job's volumes as files under a temp folder, its pod paths in the env and in the mounted
 * files rewritten to there, `PGHOST`/`PGPORT` pointed at `server`, and every `secretKeyRef`
 * read from `secrets`.
 */
export function localRolesJob(
  render: RenderedStack,
  job: RenderedRolesJob,
  server: PostgresServer,
  secrets: SecretData,
): LocalRolesJob {
  const dir = mkdtempSync(join(tmpdir(), "roles-job-"));
  const pod = job.manifest.spec.template.spec;
  const [container] = pod.containers;
  const mounts = container.volumeMounts.map((mount) => ({
    ...mount,
    local: join(dir, "mounts", mount.mountPath),
  }));
  // One pass, longest path first: a local path (under the temp folder) is never rewritten again.
  const byPath = new Map(mounts.map((m) => [m.mountPath, m.local]));
  const pattern = new RegExp(
    [...byPath.keys()]
      .sort((a, b) => b.length - a.length)
      .map((p) => `${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?=/)`)
      .join("|"),
    "g",
  );
  const rewrite = (text: string) =>
    text.replace(pattern, (podPath) => byPath.get(podPath) ?? podPath);
  const mappings: string[] = mounts.map((m) => `mount ${m.mountPath} -> ${m.local}`);

  for (const mount of mounts) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    mkdirSync(mount.local, { recursive: true });
    if (volume?.configMap) {
      for (const [file, text] of Object.entries(render.configMap(volume.configMap.name))) {
        writeFileSync(join(mount.local, file), rewrite(text), { mode: 0o444 });
      }
    } else if (volume?.secret) {
      const data = secrets[volume.secret.secretName] ?? {};
      for (const item of volume.secret.items ?? []) {
        const value = data[item.key];
        if (value === undefined) throw new Error(`no ${volume.secret.secretName}/${item.key}`);
        mkdirSync(dirname(join(mount.local, item.path)), { recursive: true });
        writeFileSync(join(mount.local, item.path), value, { mode: 0o400 });
      }
    }
  }

  const env: Record<string, string> = {};
  for (const variable of container.env) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) {
      const value = secrets[ref.name]?.[ref.key];
      if (value === undefined) throw new Error(`no ${ref.name}/${ref.key} for ${variable.name}`);
      env[variable.name] = value;
      mappings.push(`env ${variable.name} <- Secret ${ref.name}/${ref.key}`);
      continue;
    }
    const local =
      variable.name === "PGHOST"
        ? server.host
        : variable.name === "PGPORT"
          ? String(server.port)
          : rewrite(variable.value ?? "");
    if (local !== variable.value)
      mappings.push(`env ${variable.name}: ${variable.value} -> ${local}`);
    env[variable.name] = local;
  }

  return {
    mappings,
    run: async () => {
      const started = performance.now();
      const result = await runShell("/bin/bash", job.script, env);
      return { ...result, seconds: (performance.now() - started) / 1000 };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
