import type { ManifestFile } from "../manifests";
import { objectId } from "../manifests";

/** A model class of kubernetes-models: constructing one from a manifest and validating it. */
interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** One manifest that its Kubernetes schema rejects, with every reason. */
export interface SchemaFinding {
  object: string;
  file: string;
  errors: string[];
}

/**
 * Validates every manifest against the Kubernetes OpenAPI schema of its apiVersion and kind
 * (kubernetes-models' compiled validators: types, required fields, enums). Unknown fields are not
 * caught here: the typed builders and `tsc` catch those, the real API server's strict field
 * validation in the control-plane tier catches the rest.
 */
export async function validateSchemas(files: ManifestFile[]): Promise<SchemaFinding[]> {
  const findings: SchemaFinding[] = [];
  for (const { file, manifest } of files) {
    const model = await loadModel(manifest.apiVersion, manifest.kind);
    if (!model) {
      findings.push({
        object: objectId(manifest),
        file,
        errors: [
          `no schema for ${manifest.apiVersion} ${manifest.kind}: not a built-in Kubernetes kind`,
        ],
      });
      continue;
    }
    try {
      new model(manifest).validate();
    } catch (error) {
      findings.push({ object: objectId(manifest), file, errors: validationMessages(error) });
    }
  }
  return findings;
}

async function loadModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  if (!/^[A-Za-z0-9.]+(\/[A-Za-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind))
    return undefined;
  try {
    const module = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<
      string,
      ModelClass
    >;
    return module[kind];
  } catch {
    return undefined;
  }
}

/** kubernetes-models throws an ajv-style error whose `errors` name each failing path. */
function validationMessages(error: unknown): string[] {
  const details = (
    error as { errors?: { instancePath?: string; message?: string; params?: unknown }[] }
  ).errors;
  if (!Array.isArray(details) || details.length === 0) return [(error as Error).message];
  return details.map((detail) => {
    const at = (detail.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".") || "(root)";
    const params = detail.params ? ` ${JSON.stringify(detail.params)}` : "";
    return `${at}: ${detail.message ?? "invalid"}${params}`;
  });
}
