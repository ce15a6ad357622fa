import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshotLocation } from "../../components/dragonfly";
import { s3EndpointParts } from "../../components/lib/s3";
import { ensureGoTool } from "./lib/go-tools";
import { runProgram } from "./lib/rendered-postgres";
import { startS3Server, type S3Server } from "./lib/s3-server";
import { rcloneTool } from "./lib/test-tools";

/**
 * What Dragonfly v1.36 does with our `--dir` at start, against a real S3 API on loopback
 * (gofakes3): it lists the objects under the text after the bucket with `/` as delimiter
 * (`AwsS3SnapshotStorage::ListObjects` in src/server/detail/snapshot_storage.cc) and loads the
 * newest object named like a summary of `--dbfilename` (`SnapshotStorage::FindMatchingFile`).
 * Dragonfly itself cannot run here (a C++ server with no build), so the snapshot files are put in
 * the bucket by rclone under the names Dragonfly gives them, through the endpoint Dragonfly is
 * given, addressed path-style as Dragonfly addresses a given endpoint.
 */

const scratch = mkdtempSync(join(tmpdir(), "dragonfly-snapshots-"));
let rcloneDir = "";
let s3: S3Server;

beforeAll(async () => {
  rcloneDir = await ensureGoTool(rcloneTool());
  s3 = await startS3Server("dragonfly");
}, 600_000);

afterAll(async () => {
  await s3?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** One object of a listing, as Dragonfly keeps it: its key and when it was written. */
interface Listed {
  key: string;
  lastModified: number;
}

/** The bucket and the text after it in a `--dir`, split as Dragonfly's `GetBucketPath` does. */
function bucketAndPrefix(dir: string): [bucket: string, prefix: string] {
  const rest = dir.replace(/^s3:\/\//, "");
  const slash = rest.indexOf("/");
  return slash < 0 ? [rest, ""] : [rest.slice(0, slash), rest.slice(slash + 1)];
}

/** The ListObjectsV2 request Dragonfly makes at start, against the server. */
async function listAsDragonfly(dir: string): Promise<Listed[]> {
  const [bucket, prefix] = bucketAndPrefix(dir);
  const query = new URLSearchParams({ "list-type": "2", delimiter: "/" });
  if (prefix !== "") query.set("prefix", prefix);
  const response = await fetch(`${s3.endpoint}/${bucket}?${query}`);
  expect(response.status).toBe(200);
  const xml = await response.text();
  return [...xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map(([, body]) => ({
    key: /<Key>([^<]*)<\/Key>/.exec(body)?.[1] ?? "",
    lastModified: Date.parse(/<LastModified>([^<]*)<\/LastModified>/.exec(body)?.[1] ?? ""),
  }));
}

/**
 * Dragonfly's choice among them: newest first, the first whose key is the folder, then the
 * dbfilename with `{timestamp}` as `YYYY-MM-DDTHH:MM:SS`, then `-summary.dfs` (or `.rdb`).
 */
function newestSnapshot(listed: Listed[], dir: string, dbfilename: string): string | undefined {
  const [, prefix] = bucketAndPrefix(dir);
  const folder = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  const escaped = `${folder}${dbfilename}`.replace(/[\\.^$|?*+()[\]{}]/g, "\\$&");
  const name = escaped.replace(
    "\\{timestamp\\}",
    "([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})",
  );
  const pattern = new RegExp(`^${name}(-summary.dfs|.rdb)$`);
  return [...listed]
    .sort((a, b) => b.lastModified - a.lastModified)
    .find((object) => pattern.test(object.key))?.key;
}

/** rclone with a remote made from what Dragonfly is given: its endpoint, scheme and key pair. */
function rclone(...args: string[]) {
  const parts = s3EndpointParts(s3.endpoint);
  if (parts === undefined) throw new Error(`gofakes3's endpoint ${s3.endpoint} has no host:port`);
  return runProgram(join(rcloneDir, "rclone"), args, {
    RCLONE_CONFIG: "/dev/null",
    RCLONE_CONFIG_TARGET_TYPE: "s3",
    RCLONE_CONFIG_TARGET_PROVIDER: "Other",
    RCLONE_CONFIG_TARGET_ENDPOINT: `${parts.https ? "https" : "http"}://${parts.hostPort}`,
    RCLONE_CONFIG_TARGET_REGION: "us-east-1",
    RCLONE_CONFIG_TARGET_FORCE_PATH_STYLE: "true",
    RCLONE_CONFIG_TARGET_NO_CHECK_BUCKET: "true",
    RCLONE_CONFIG_TARGET_ACCESS_KEY_ID: "dragonfly",
    RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY: "dragonfly-secret-key",
    HOME: scratch,
  });
}

/** Puts one snapshot's files in the bucket under Dragonfly's names: shards, then the summary. */
async function writeSnapshot(dir: string, stamp: string, files: string[]): Promise<void> {
  const [bucket, prefix] = bucketAndPrefix(dir);
  const local = join(scratch, stamp);
  mkdirSync(local, { recursive: true });
  for (const suffix of files) {
    const name = `dump-${stamp}${suffix}`;
    writeFileSync(join(local, name), `snapshot ${stamp} ${suffix}\n`);
    const copied = await rclone("copyto", join(local, name), `target:${bucket}/${prefix}${name}`);
    expect(copied.code, copied.stderr).toBe(0);
  }
  // LastModified has whole seconds: the next snapshot is written in a later one.
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

describe("Dragonfly's snapshot folder in a real S3 API", () => {
  const { dir, dbfilename } = snapshotLocation({ bucket: "dragonfly", prefix: "prod/dragonfly" });

  it("the folder is found, and the newest whole snapshot is the one loaded", async () => {
    expect(dir).toBe("s3://dragonfly/prod/dragonfly/");
    const shards = ["-0000.dfs", "-0001.dfs"];
    await writeSnapshot(dir, "2026-12-05T10:00:00", [...shards, "-summary.dfs"]);
    await writeSnapshot(dir, "2026-12-05T10:15:00", [...shards, "-summary.dfs"]);
    // Cut off by a crash: its shards are in the bucket, its summary (written last) is not.
    await writeSnapshot(dir, "2026-12-05T10:30:00", shards);

    const listed = await listAsDragonfly(dir);
    expect(listed.map((object) => object.key).sort()).toEqual(
      [
        ...["10:00:00", "10:15:00"].flatMap((time) =>
          [...shards, "-summary.dfs"].map((suffix) => `dump-2026-12-05T${time}${suffix}`),
        ),
        ...shards.map((suffix) => `dump-2026-12-05T10:30:00${suffix}`),
      ]
        .map((name) => `prod/dragonfly/${name}`)
        .sort(),
    );
    expect(newestSnapshot(listed, dir, dbfilename)).toBe(
      "prod/dragonfly/dump-2026-12-05T10:15:00-summary.dfs",
    );
  });

  it("without the folder's trailing '/', the listing holds no snapshot: Dragonfly would start empty", async () => {
    const bare = dir.replace(/\/$/, "");
    const listed = await listAsDragonfly(bare);
    expect(listed).toEqual([]);
    expect(newestSnapshot(listed, bare, dbfilename)).toBeUndefined();
  });

  it("an empty folder holds no snapshot, and another folder's snapshots are not taken", async () => {
    const other = snapshotLocation({ bucket: "dragonfly", prefix: "dev/dragonfly" });
    expect(await listAsDragonfly(other.dir)).toEqual([]);
    await writeSnapshot(other.dir, "2026-12-05T11:00:00", ["-0000.dfs", "-summary.dfs"]);
    expect(newestSnapshot(await listAsDragonfly(dir), dir, dbfilename)).toBe(
      "prod/dragonfly/dump-2026-12-05T10:15:00-summary.dfs",
    );
  });
});
