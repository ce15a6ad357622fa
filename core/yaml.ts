import {
  Schema,
  stringify,
  type CreateNodeOptions,
  type DocumentOptions,
  type ScalarTag,
  type SchemaOptions,
  type ToStringOptions,
} from "yaml";

/**
 * YAML as every reader of the platform's files reads it. The `yaml` package writes YAML 1.2, where
 * `off`, `0755`, `1:20` or `2024-04-01` are plain strings; but kubectl and every Go tool on
 * sigs.k8s.io/yaml (gopkg.in/yaml.v2), and Loki, Prometheus, Tempo and the collector reading their
 * configs, resolve plain scalars as YAML 1.1 does: `false`, 493, 80, a timestamp. A string written
 * plain where a 1.1 reader sees another type is a config that silently means something else, or a
 * manifest the API server refuses (`expected string, got … false`). So every string those readers
 * would take for another type is quoted, and nothing else changes.
 */

/**
 * What Go's YAML readers resolve beyond the YAML 1.1 schema's own resolvers (as the `yaml` package
 * implements them): booleans, nulls, infinities and NaN in any letter case, `0X`/`0O`/`0B` integer
 * prefixes (gopkg.in/yaml.v2 and v3 parse integers with `strconv.ParseInt(s, 0, 64)`, which takes
 * both cases and `0o`), and YAML 1.1's `=` value key (PyYAML's safe loader refuses it). Used only to
 * decide quoting when writing: it never reads anything.
 */
const READER_LOOKALIKES: ScalarTag = {
  tag: "tag:k3s-platform,2026:yaml-reader-lookalike",
  default: true,
  test: new RegExp(
    "^(?:" +
      [
        "y|yes|n|no|true|false|on|off", // booleans (1.1 lists three casings; be wider)
        "~|null", // nulls
        "[-+]?\\.inf|\\.nan", // infinities and NaN
        "[-+]?0x[0-9a-f_]+|[-+]?0o[0-7_]+|[-+]?0b[01_]+", // integers with a base prefix
        "=", // the 1.1 value key
      ].join("|") +
      ")$",
    "i",
  ),
  // Never used: the tag only takes part in `compat`, which asks `test` when writing.
  resolve: (source) => source,
};

/**
 * The types a YAML 1.1 reader may see in a plain scalar: the `yaml` package's YAML 1.1 schema
 * (booleans y/n/yes/no/on/off/true/false, nulls `~`/null, binary, octal (`0755`), decimal and
 * hexadecimal integers with `_`, floats and `.inf`/`.nan`, sexagesimal `1:20` and `190:20:30.15`,
 * timestamps, the merge key `<<`) plus what Go readers resolve beyond it.
 */
export const YAML_1_1_READER_TAGS: readonly ScalarTag[] = [
  ...new Schema({ schema: "yaml-1.1" }).tags.filter(
    (tag): tag is ScalarTag => !tag.collection && tag.tag !== "tag:yaml.org,2002:str",
  ),
  READER_LOOKALIKES,
];

/** The `yaml` package's stringify options; `compat` is what this module sets. */
export type YamlWriteOptions = Omit<
  DocumentOptions & SchemaOptions & CreateNodeOptions & ToStringOptions,
  "compat"
>;

/**
 * `value` as YAML 1.2 text that a YAML 1.1 reader reads the same: the `yaml` package's own
 * `compat` option double-quotes every plain string, key or value, that one of
 * {@link YAML_1_1_READER_TAGS} would resolve to another type (none of them holds a quote).
 * Output is otherwise byte-identical to `stringify(value, options)`.
 */
export function toPortableYaml(value: unknown, options: YamlWriteOptions = {}): string {
  return stringify(value, { ...options, compat: [...YAML_1_1_READER_TAGS] });
}
