import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderConfigTemplate } from "../../components/temporal/config";
import { toPortableYaml } from "../../core/yaml";

/**
 * Every file `npm run render` writes for dev and prod, and every YAML config embedded in their
 * ConfigMaps, reads the same to a YAML 1.1 reader (kubectl and every Go tool on
 * sigs.k8s.io/yaml; Loki, Prometheus and the collector read their configs with Go YAML too) as to
 * a YAML 1.2 reader: no string that 1.1 takes for a boolean, number, null or date.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const STACKS = ["dev", "prod"];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "yaml-1-1-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Runs the real render command in its own process, as a user would, into `out`. */
function render(stack: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, "tools/render.ts", stack, "--out", out], {
      cwd: ROOT,
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (status) =>
      status === 0 ? resolve() : reject(new Error(`render ${stack}: ${status}\n${stderr}`)),
    );
  });
}

/**
 * Where two readings of one document differ, as `path: 1.2 reading ≠ 1.1 reading`. A key read as
 * another type shows as two paths, one missing on each side. A Date (YAML 1.1's timestamp) is a
 * leaf here, not a container: it has no own keys, and must never pass for the string 1.2 reads.
 */
function readingDifferences(text: string, at = ""): string[] {
  const differences: string[] = [];
  const walk = (modern: unknown, legacy: unknown, where: string): void => {
    const container = (value: unknown) =>
      typeof value === "object" && value !== null && !(value instanceof Date);
    if (container(modern) && container(legacy)) {
      const keys = new Set([...Object.keys(modern as object), ...Object.keys(legacy as object)]);
      for (const key of keys) {
        walk(
          (modern as Record<string, unknown>)[key],
          (legacy as Record<string, unknown>)[key],
          `${where}.${key}`,
        );
      }
    } else if (!Object.is(modern, legacy)) {
      differences.push(`${where}: ${show(modern)} ≠ ${show(legacy)}`);
    }
  };
  walk(parse(text), parse(text, { version: "1.1" }), at);
  return differences;
}

function show(value: unknown): string {
  return value instanceof Date ? `Date(${value.toISOString()})` : JSON.stringify(value);
}

/** A ConfigMap's entries that are YAML configs (by their file name), templating resolved. */
function embeddedYaml(manifest: { kind?: string; data?: Record<string, string> }) {
  if (manifest.kind !== "ConfigMap") return [];
  return Object.entries(manifest.data ?? {})
    .filter(([key]) => /\.ya?ml$/.test(key))
    .map(([key, text]) => ({
      key,
      // Temporal's config is a template: read what the server reads after templating.
      text: renderConfigTemplate(text, new Proxy({}, { get: () => "value-from-env" })),
    }));
}

describe("the YAML 1.1 comparison", () => {
  it("sees what a 1.1 reader would change (it is not vacuous)", () => {
    // A plain 0755 is a number to both (755 and 493); ~ is null to both.
    const risky = "a: off\nb: 0755\nc: 1:20\nd: ~\ne: 1_000\nf: 2024-04-01\nh: Yes\n";
    expect(readingDifferences(risky)).toEqual([
      '.a: "off" ≠ false',
      ".b: 755 ≠ 493",
      '.c: "1:20" ≠ 80',
      '.e: "1_000" ≠ 1000',
      '.f: "2024-04-01" ≠ Date(2024-04-01T00:00:00.000Z)',
      '.h: "Yes" ≠ true',
    ]);
  });
});

/** One string per YAML 1.1 resolver (and Go reader quirk), each a non-string to some reader. */
const RISKY = {
  booleans: ["y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON"],
  moreBooleans: ["off", "Off", "OFF", "true", "True", "TRUE", "false", "False", "FALSE"],
  anyCase: ["oN", "oFF", "yEs", "tRUE", "nULL", ".InF", ".nAn"],
  nulls: ["~", "null", "Null", "NULL", ""],
  octal: ["0755", "012", "-0644", "0_7"],
  binaryAndHex: ["0b1010", "-0b1_0", "0x1F", "0xff_ff", "0X1F", "0B11", "0O17", "0o17"],
  decimals: ["1_000", "+12", "-3", "007", "1.", ".5", "1_0.5", "6.8523015e+5", "1e3", "-1E-3"],
  floats: [".inf", ".Inf", ".INF", "-.inf", "+.INF", ".nan", ".NaN", ".NAN"],
  sexagesimal: ["1:20", "190:20:30", "-1:30", "190:20:30.15", "1_0:20"],
  timestamps: ["2024-04-01", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5"],
  keys: ["<<", "="],
};

/** Strings every reader reads as strings: written exactly as `stringify` writes them. */
const SAFE = ["offline", "onion", "yess", "1.2.3", "v1", "10s", "0x", "0xg", "1:60", "12:3:4:"];

describe("toPortableYaml", () => {
  const everyRisky = Object.values(RISKY).flat();

  it("writes every one so a YAML 1.1 reader reads the same string, as value and as key", () => {
    const misread = everyRisky.filter((value) => {
      const document = { value, [value || "empty"]: "key" };
      const text = toPortableYaml(document, { lineWidth: 0 });
      return !isDeepStrictEqual(parse(text, { version: "1.1" }), document);
    });
    expect(misread).toEqual([]);
  });

  it("quotes what Go's YAML readers resolve beyond the 1.1 schema (ParseInt prefixes, any case)", () => {
    const goOnly = [...RISKY.anyCase, "0X1F", "0B11", "0O17", "="];
    const written = goOnly.map((value) => toPortableYaml({ value }).trimEnd());
    expect(written).toEqual(goOnly.map((value) => `value: "${value}"`));
  });

  it("is needed: a plain `stringify` leaves these to be misread by a YAML 1.1 reader", () => {
    const misread = everyRisky.filter((value) => {
      const plain = stringify({ value }, { lineWidth: 0 });
      return (parse(plain, { version: "1.1" }) as { value: unknown }).value !== value;
    });
    // The rest `stringify` quotes already (YAML 1.2 reads them as non-strings too), except the
    // Go readers' quirks (letter case, 0X/0B/0O) and `<<` or `=` as values, which the `yaml`
    // package's 1.1 reader happens to read as strings.
    expect(misread).toEqual([
      ...RISKY.booleans,
      ...["off", "Off", "OFF"],
      ...["0_7", "0b1010", "-0b1_0", "0xff_ff", "1_000", "1_0.5"],
      ...RISKY.sexagesimal,
      ...RISKY.timestamps,
    ]);
  });

  it("leaves every other string, and the rest of the document, byte-identical", () => {
    const document = {
      safe: SAFE,
      numbers: [0, 1.5, -2, 1e21],
      flags: [true, false, null],
      multiline: "on\noff\n",
      nested: { "a.b": [{ c: "d" }] },
    };
    const written = toPortableYaml(document, { lineWidth: 0 });
    expect(written).toBe(stringify(document, { lineWidth: 0 }));
    expect(parse(written, { version: "1.1" })).toEqual(document);
  });

  it("keeps the options it is given (line width, anchors)", () => {
    const shared = { long: "x ".repeat(60).trim() };
    const options = { lineWidth: 40, aliasDuplicateObjects: true };
    expect(toPortableYaml({ a: shared, b: shared }, options)).toBe(
      stringify({ a: shared, b: shared }, options),
    );
  });
});

const files = new Map<string, { file: string; text: string }[]>();

beforeAll(async () => {
  await Promise.all(STACKS.map((stack) => render(stack, path.join(scratch, stack))));
  for (const stack of STACKS) {
    const dir = path.join(scratch, stack, "manifests");
    files.set(
      stack,
      fs.readdirSync(dir).map((file) => ({
        file,
        text: fs.readFileSync(path.join(dir, file), "utf8"),
      })),
    );
  }
}, 120_000);

describe.each(STACKS)("the %s render read by a YAML 1.1 reader", (stack) => {
  it("has every manifest file read as a YAML 1.2 reader reads it", () => {
    const rendered = files.get(stack) ?? [];
    expect(rendered.length).toBeGreaterThan(50);
    const differences = rendered.flatMap(({ file, text }) => readingDifferences(text, file));
    expect(differences).toEqual([]);
  });

  it("has every YAML config embedded in a ConfigMap read as a YAML 1.2 reader reads it", () => {
    const configs = (files.get(stack) ?? []).flatMap(({ file, text }) =>
      embeddedYaml(parse(text) as { kind?: string; data?: Record<string, string> }).map(
        (entry) => ({ ...entry, file }),
      ),
    );
    // Loki, Tempo, Prometheus (config and rules), both collectors, Grafana, Temporal.
    expect(configs.length).toBeGreaterThanOrEqual(12);
    const differences = configs.flatMap(({ file, key, text }) =>
      readingDifferences(text, `${file}#${key}`),
    );
    expect(differences).toEqual([]);
  });
});
