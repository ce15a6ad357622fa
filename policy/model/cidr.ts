/**
 * IPv4 CIDR arithmetic for NetworkPolicy `ipBlock`s: the policies are written from it, and the
 * reachability check reads them back with it. IPv4 only: K3s's default cluster is single-stack.
 */

/** An inclusive range of IPv4 addresses as 32-bit unsigned numbers. */
export interface AddressRange {
  first: number;
  last: number;
}

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d|[12]\d|3[0-2])$/;
const ADDRESS_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function octetsToNumber(octets: string[]): number | undefined {
  const values = octets.map(Number);
  if (values.some((value) => value > 255)) return undefined;
  return values.reduce((total, value) => total * 256 + value, 0);
}

/** The address as a number, or undefined when it is not a dotted-quad IPv4 address. */
export function parseAddress(text: string): number | undefined {
  const match = ADDRESS_PATTERN.exec(text);
  return match ? octetsToNumber(match.slice(1, 5)) : undefined;
}

/** A number as a dotted-quad address. */
export function formatAddress(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join(".");
}

/**
 * The range of a CIDR, or undefined when it is not an IPv4 CIDR. Host bits are ignored, as the
 * API server does when it normalises `10.42.1.7/16` to the block it lies in.
 */
export function parseCidr(text: string): AddressRange | undefined {
  const match = CIDR_PATTERN.exec(text);
  if (!match) return undefined;
  const address = octetsToNumber(match.slice(1, 5));
  if (address === undefined) return undefined;
  const size = 2 ** (32 - Number(match[5]));
  const first = address - (address % size);
  return { first, last: first + size - 1 };
}

/** True for a well-formed IPv4 CIDR. */
export function isCidr(text: string): boolean {
  return parseCidr(text) !== undefined;
}

/** True when `inner` lies entirely inside `outer`. */
export function rangeContains(outer: AddressRange, inner: AddressRange): boolean {
  return outer.first <= inner.first && inner.last <= outer.last;
}

/** True when the two ranges share at least one address. */
export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/** `ranges` with every address of `removed` taken out. */
export function subtractRange(ranges: AddressRange[], removed: AddressRange): AddressRange[] {
  return ranges.flatMap((range) => {
    if (!rangesOverlap(range, removed)) return [range];
    const parts: AddressRange[] = [];
    if (range.first < removed.first) parts.push({ first: range.first, last: removed.first - 1 });
    if (removed.last < range.last) parts.push({ first: removed.last + 1, last: range.last });
    return parts;
  });
}

/** An `ipBlock`: a CIDR less the CIDRs in `except`. */
export interface IpBlock {
  cidr: string;
  except?: string[];
}

/**
 * Whether the block holds at least one address of `range`. A block that is not IPv4 (or not
 * parseable) holds none: the IPv4 cluster this models never sees such addresses.
 */
export function blockMeets(block: IpBlock, range: AddressRange): boolean {
  const cidr = parseCidr(block.cidr);
  if (!cidr || !rangesOverlap(cidr, range)) return false;
  let remaining: AddressRange[] = [
    { first: Math.max(cidr.first, range.first), last: Math.min(cidr.last, range.last) },
  ];
  for (const text of block.except ?? []) {
    const except = parseCidr(text);
    if (except) remaining = subtractRange(remaining, except);
  }
  return remaining.length > 0;
}

/** The first host address of a CIDR (network address + 1), e.g. the `kubernetes` Service's IP. */
export function firstHost(cidr: string): string {
  const range = parseCidr(cidr);
  if (!range) throw new Error(`"${cidr}" is not an IPv4 CIDR such as 10.43.0.0/16`);
  return formatAddress(range.last > range.first ? range.first + 1 : range.first);
}
