import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshotLocation } from "../../components/dragonfly";
import { s3EndpointParts } from "../../core/s3";
import { ensureGoTool } from "./lib/go-tools";
import { runProgram } from "./lib/rendered-postgres";
import { startS3Server, type S3Server } from "./lib/s3-server";
import { rcloneTool } from "./lib/test-tools";

/**
 * What Dragonfly v1.36.0 does with our `--dir` and `--dbfilename` at start, against a real S3 API
 * on loopback (gofakes3): it lists the objects under the text after the bucket with `/` as
 * delimiter (`AwsS3SnapshotStorage::ListObjects` in src/server/detail/snapshot_storage.cc), takes
 * the newest object named like a summary of `--dbfilename` (`SnapshotStorage::FindMatchingFile`),
 * and loads it with the shard files named after it (`AwsS3SnapshotStorage::ExpandFromPath`).
 * Dragonfly itself cannot run here (a C++ server with no build), so its name matching is
 * restated below from that source, and the snapshot files are put in the bucket by rclone under
 * the names Dragonfly gives them, through the endpoint Dragonfly is given, addressed path-style as
 * Dragonfly addresses a given endpoint.
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

/** Dragonfly v1.36.0's `EscapeRegex`: braces included, which v1.37.0 stopped escaping. */
const V1_36_ESCAPED = /[\\.^$|?*+()[\]{}]/g;

/**
 * Dragonfly's choice among them: newest first, the first whose key is the folder, then the
 * dbfilename (escaped, then `{timestamp}` substituted), then `-summary.dfs` (or `.rdb`) when the
 * name has no extension. `escaped` is the escaping of the release (v1.36.0's by default).
 */
function newestSnapshot(
  listed: Listed[],
  dir: string,
  dbfilename: string,
  escaped = V1_36_ESCAPED,
): string | undefined {
  const [, prefix] = bucketAndPrefix(dir);
  const folder = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  const name = `${folder}${dbfilename}`
    .replace(escaped, "\\$&")
    .replace("{timestamp}", "([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})");
  const pattern = new RegExp(`^${name}(-summary.dfs|.rdb)$`);
  return [...listed]
    .sort((a, b) => b.lastModified - a.lastModified)
    .find((object) => pattern.test(object.key))?.key;
}

/** The shard files Dragonfly loads with a summary: its name with `summary` as four digits. */
function shardsOf(listed: Listed[], summary: string): string[] {
  const pattern = new RegExp(
    `^${summary.replace(V1_36_ESCAPED, "\\$&").replace("summary", "[0-9]{4}")}$`,
  );
  return listed.map((object) => object.key).filter((key) => pattern.test(key));
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
async function writeSnapshot(dir: string, name: string, content: string): Promise<void> {
  const [bucket, prefix] = bucketAndPrefix(dir);
  const local = join(scratch, content.replaceAll(" ", "-"));
  mkdirSync(local, { recursive: true });
  for (const suffix of ["-0000.dfs", "-0001.dfs", "-summary.dfs"]) {
    writeFileSync(join(local, `${name}${suffix}`), `${content} ${suffix}\n`);
    const copied = await rclone(
      "copyto",
      join(local, `${name}${suffix}`),
      `target:${bucket}/${prefix}${name}${suffix}`,
    );
    expect(copied.code, copied.stderr).toBe(0);
  }
}

describe("Dragonfly's snapshot folder in a real S3 API", () => {
  const { dir, dbfilename } = snapshotLocation({ bucket: "dragonfly", prefix: "prod/dragonfly" });

  it("at start Dragonfly finds our snapshot and its shard files", async () => {
    expect([dir, dbfilename]).toEqual(["s3://dragonfly/prod/dragonfly/", "dump"]);
    await writeSnapshot(dir, dbfilename, "first snapshot");
    const listed = await listAsDragonfly(dir);
    const summary = newestSnapshot(listed, dir, dbfilename);
    expect(summary).toBe("prod/dragonfly/dump-summary.dfs");
    expect(shardsOf(listed, summary ?? "").sort()).toEqual([
      "prod/dragonfly/dump-0000.dfs",
      "prod/dragonfly/dump-0001.dfs",
    ]);
  });

  it("the next snapshot replaces it in place, so snapshots never pile up", async () => {
    await writeSnapshot(dir, dbfilename, "second snapshot");
    const listed = await listAsDragonfly(dir);
    expect(listed).toHaveLength(3);
    const [bucket] = bucketAndPrefix(dir);
    const read = await rclone("cat", `target:${bucket}/prod/dragonfly/dump-summary.dfs`);
    expect(read.stdout).toBe("second snapshot -summary.dfs\n");
  });

  it("without the folder's trailing '/', the listing holds no snapshot: Dragonfly would start empty", async () => {
    const bare = dir.replace(/\/$/, "");
    const listed = await listAsDragonfly(bare);
    expect(listed).toEqual([]);
    expect(newestSnapshot(listed, bare, dbfilename)).toBeUndefined();
  });

  it("v1.36.0 never finds a timestamped snapshot in a bucket, which v1.37.0 would", async () => {
    const other = snapshotLocation({ bucket: "dragonfly", prefix: "timestamped" });
    await writeSnapshot(other.dir, "dump-2026-12-05T10:15:00", "timestamped snapshot");
    const listed = await listAsDragonfly(other.dir);
    expect(listed).toHaveLength(3);
    expect(newestSnapshot(listed, other.dir, "dump-{timestamp}")).toBeUndefined();
    const v1_37 = /[\\.^$|?*+()[\]]/g;
    expect(newestSnapshot(listed, other.dir, "dump-{timestamp}", v1_37)).toBe(
      "timestamped/dump-2026-12-05T10:15:00-summary.dfs",
    );
  });
});
