import { REDACTED, type RenderedResource } from "../../../policy/model/render-model";

/**
 * Places where a secret reached a manifest as plain text: a known secret value anywhere, or the
 * redaction marker outside a Secret's data (meaning a secret was interpolated into a plain field,
 * which the real engine would have written to the cluster in clear).
 */
export function secretLeaks(resources: RenderedResource[], secretValues: string[]): string[] {
  const findings: string[] = [];
  for (const resource of resources) {
    const text = JSON.stringify(resource.props);
    for (const secret of secretValues) {
      if (secret.length >= 8 && text.includes(secret)) {
        findings.push(`${resource.type} ${resource.name}: contains a secret value in plain text`);
      }
    }
    for (const where of markerPaths(resource.props, [])) {
      if (resource.type === "kubernetes:core/v1:Secret" && /^(data|stringData)\./.test(where))
        continue;
      findings.push(
        `${resource.type} ${resource.name}: a secret value is written into ${where}; ` +
          `pass it through a Secret and secretKeyRef instead`,
      );
    }
  }
  return findings;
}

function markerPaths(value: unknown, path: string[]): string[] {
  if (typeof value === "string") return value.includes(REDACTED) ? [path.join(".")] : [];
  if (Array.isArray(value))
    return value.flatMap((item, index) => markerPaths(item, [...path, String(index)]));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([key, inner]) => markerPaths(inner, [...path, key]));
  }
  return [];
}
