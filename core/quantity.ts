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
