/**
 * Kubernetes resource quantities (`512Mi`, `1.5Gi`, `500m`, `2`) as numbers, for the settings
 * derived from them (Postgres `shared_buffers`, Dragonfly `--maxmemory` and threads).
 */

const SUFFIX_FACTORS: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Matches the quantities we accept: a non-negative decimal and one of the suffixes above. */
export const QUANTITY_PATTERN = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

/** The value of a quantity in base units (bytes for memory, cores for CPU). */
export function parseQuantity(quantity: string): number {
  const match = QUANTITY_PATTERN.exec(quantity);
  if (!match) {
    throw new Error(`"${quantity}" is not a Kubernetes quantity such as 512Mi, 2Gi, 500m or 2`);
  }
  return Number(match[1]) * SUFFIX_FACTORS[match[2] ?? ""];
}

/** Whole mebibytes, rounded down: the unit Postgres and Dragonfly settings are written in. */
export function toMebibytes(quantity: string): number {
  return Math.floor(parseQuantity(quantity) / 2 ** 20);
}

/**
 * What a quantity measures, and so which units and sizes make sense for it. Kubernetes accepts
 * `512m` of memory (512 thousandths of a byte) and `cpu: 1000` (a thousand cores) alike; neither
 * is ever meant, and both fail only when a pod cannot start or is never scheduled.
 */
export type QuantityKind = "cpu" | "memory" | "storage" | "quotaCpu" | "quotaMemory";

interface KindRule {
  /** What the kind is called in messages. */
  noun: string;
  /** Suffixes accepted for it. */
  suffixes: readonly string[];
  /** Why a suffix outside `suffixes` is refused. */
  unitHint: string;
  /** The smallest sensible value in base units, and why. */
  min: { value: number; text: string; why: string };
  /** The largest sensible value in base units, and why; none for a whole namespace's quota. */
  max?: { value: number; text: string; why: string };
}

const CPU_SUFFIXES = ["", "m"] as const;
const BYTE_SUFFIXES = ["", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"] as const;
const CPU_UNITS = "CPU is counted in cores (2, 0.5) or millicores (500m)";
const BYTE_UNITS = "bytes are written plain (1048576) or with k M G T or Ki Mi Gi Ti (512Mi)";
const CPU_MIN = {
  value: 1e-3,
  text: "1m",
  why: "Kubernetes counts CPU in whole millicores",
};
/** The most memory a process needs just to start; below it a container never runs. */
const MEMORY_MIN = {
  value: 4 * 2 ** 20,
  text: "4Mi",
  why: "no container starts in less",
};

/**
 * Upper bounds per kind. One container runs on one node: a request beyond any node is never
 * scheduled (the pod stays Pending), and the usual cause is a unit typo (`4Ti` for `4Gi`,
 * `1000` for `1000m`). A volume is provisioned on one node's disk (local-path) or one cloud disk.
 */
export const QUANTITY_LIMITS = {
  /** Cores one container may ask for: more than any node this platform targets has. */
  cpuCores: 256,
  /** Memory of one container. */
  memory: "1Ti",
  /** Size of one volume. */
  storage: "64Ti",
  /** Smallest volume: below it the value is almost surely a missing unit (`"0.5"` is half a byte). */
  storageMin: "1Mi",
} as const;

const KIND_RULES: Record<QuantityKind, KindRule> = {
  cpu: {
    noun: "CPU",
    suffixes: CPU_SUFFIXES,
    unitHint: CPU_UNITS,
    min: CPU_MIN,
    max: {
      value: QUANTITY_LIMITS.cpuCores,
      text: `${QUANTITY_LIMITS.cpuCores} cores`,
      why: "one container runs on one node, and no node has more; the pod would stay Pending",
    },
  },
  memory: {
    noun: "memory",
    suffixes: BYTE_SUFFIXES,
    unitHint: BYTE_UNITS,
    min: MEMORY_MIN,
    max: {
      value: 2 ** 40,
      text: QUANTITY_LIMITS.memory,
      why: "one container runs on one node, and no node this platform targets has more; the pod would stay Pending",
    },
  },
  storage: {
    noun: "storage",
    suffixes: BYTE_SUFFIXES,
    unitHint: BYTE_UNITS,
    min: {
      value: 2 ** 20,
      text: QUANTITY_LIMITS.storageMin,
      why: "a volume smaller than that holds nothing useful",
    },
    max: {
      value: 64 * 2 ** 40,
      text: QUANTITY_LIMITS.storage,
      why: "one volume lives on one node's disk or one cloud disk, and none is larger; the claim would stay Pending",
    },
  },
  quotaCpu: { noun: "CPU", suffixes: CPU_SUFFIXES, unitHint: CPU_UNITS, min: CPU_MIN },
  quotaMemory: { noun: "memory", suffixes: BYTE_SUFFIXES, unitHint: BYTE_UNITS, min: MEMORY_MIN },
};

/** The number and the suffix of a well-formed quantity. */
function splitQuantity(quantity: string): { amount: string; suffix: string } | undefined {
  const match = QUANTITY_PATTERN.exec(quantity);
  return match ? { amount: match[1], suffix: match[2] ?? "" } : undefined;
}

/**
 * Why a well-formed quantity makes no sense as this kind, or undefined when it does: a unit of
 * the wrong kind (`512m` of memory is 0.512 bytes), zero, too small to be meant (`"0.5"` bytes of
 * storage), or more than one container or volume can have. A malformed quantity is the pattern's
 * to report ({@link QUANTITY_PATTERN}): here it is undefined.
 */
export function quantityKindProblem(kind: QuantityKind, quantity: string): string | undefined {
  const parts = splitQuantity(quantity);
  if (!parts) return undefined;
  const rule = KIND_RULES[kind];
  if (!rule.suffixes.includes(parts.suffix)) return unitProblem(rule, parts);
  const value = parseQuantity(quantity);
  if (value === 0) return "must be greater than zero";
  if (value < rule.min.value) {
    return `must be at least ${rule.min.text} of ${rule.noun}: ${rule.min.why} (got "${quantity}"${missingUnit(rule, parts)})`;
  }
  if (rule.max && value > rule.max.value) {
    return `must be at most ${rule.max.text} of ${rule.noun}: ${rule.max.why} (got "${quantity}"${cpuMilli(rule, parts)})`;
  }
  return undefined;
}

function unitProblem(rule: KindRule, parts: { amount: string; suffix: string }): string {
  if (parts.suffix === "m") {
    return (
      `uses m, which means milli (thousandths): ${parts.amount}m is ${Number(parts.amount) / 1000} ` +
      `bytes; write ${parts.amount}Mi (mebibytes) or ${parts.amount}M (megabytes)`
    );
  }
  return `${parts.suffix} is not a ${rule.noun} unit: ${rule.unitHint} (got "${parts.amount}${parts.suffix}")`;
}

/** A hint for a plain number that is far too small: most likely a forgotten unit. */
function missingUnit(rule: KindRule, parts: { amount: string; suffix: string }): string {
  if (parts.suffix !== "" || rule.suffixes !== BYTE_SUFFIXES) return "";
  return `, which is ${parts.amount} bytes: did you mean ${parts.amount}Mi or ${parts.amount}Gi?`;
}

/** A hint for a plain CPU count above any node: most likely millicores without their `m`. */
function cpuMilli(rule: KindRule, parts: { amount: string; suffix: string }): string {
  if (parts.suffix !== "" || rule.suffixes !== CPU_SUFFIXES) return "";
  return ` cores: did you mean ${parts.amount}m?`;
}

/** A hint for a malformed quantity whose suffix is a near miss of a real one (`512K`, `2gb`). */
export function quantityUnitHint(quantity: string): string {
  const match = /^\d+(?:\.\d+)?\s*([A-Za-z]+)$/.exec(quantity.trim());
  if (!match) return "";
  const unit = match[1];
  if (unit === "K") return ": Kubernetes writes kilo as a lowercase k (512k) or kibi as Ki (512Ki)";
  const binary = /^([kmgt])i?b?$/i.exec(unit);
  if (binary) {
    return `: Kubernetes writes ${binary[1].toUpperCase()}i (binary) or ${binary[1] === "k" ? "k" : binary[1].toUpperCase()} (decimal), without a B`;
  }
  return "";
}
