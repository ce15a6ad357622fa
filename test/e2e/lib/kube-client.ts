import * as https from "node:https";
import type { Manifest } from "../../../policy/model/render-model";

/**
 * A minimal Kubernetes API client over HTTPS with a bearer token: enough to apply, read and list,
 * and no more, so that every request the e2e tier makes is visible here. It speaks to the API the
 * way the Pulumi Kubernetes provider does (server-side apply, strict field validation).
 */

/** The field manager the Pulumi Kubernetes provider applies with. */
export const FIELD_MANAGER = "pulumi-kubernetes";

/** What the API server answered: status, decoded body and its `Warning` headers. */
export interface KubeResponse {
  status: number;
  body: KubeObject;
  /** Warning headers, e.g. Pod Security `would violate PodSecurity "restricted:latest"`. */
  warnings: string[];
}

/** Any object the API returns, read loosely: callers pick the fields they wait on. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  items?: KubeObject[];
  message?: string;
  reason?: string;
  [field: string]: unknown;
}

/** Plural name and scope of a kind, from discovery. */
interface ApiResource {
  plural: string;
  namespaced: boolean;
}

export class KubeClient {
  private readonly agent: https.Agent;
  private readonly discovery = new Map<string, Promise<Map<string, ApiResource>>>();

  constructor(
    readonly server: string,
    private readonly token: string,
    private readonly ca: string,
  ) {
    this.agent = new https.Agent({ ca, keepAlive: true, maxSockets: 16 });
  }

  /** A client of the same server that authenticates as someone else (a ServiceAccount token). */
  withToken(token: string): KubeClient {
    return new KubeClient(this.server, token, this.ca);
  }

  /** One request; rejects only when the server cannot be reached, never on an HTTP status. */
  request(
    method: string,
    path: string,
    body?: string,
    contentType?: string,
  ): Promise<KubeResponse> {
    const url = new URL(path, this.server);
    return new Promise((resolve, reject) => {
      const request = https.request(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: "application/json",
            ...(body !== undefined
              ? {
                  "content-type": contentType ?? "application/json",
                  "content-length": Buffer.byteLength(body),
                }
              : {}),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: KubeObject;
            try {
              parsed = text ? (JSON.parse(text) as KubeObject) : {};
            } catch {
              parsed = { message: text };
            }
            resolve({
              status: response.statusCode ?? 0,
              body: parsed,
              warnings: warningHeaders(response.headers.warning),
            });
          });
        },
      );
      request.on("error", reject);
      if (body !== undefined) request.write(body);
      request.end();
    });
  }

  /** GET that fails on any non-2xx status, with the server's message. */
  async get(path: string): Promise<KubeObject> {
    const response = await this.request("GET", path);
    if (response.status >= 300) {
      throw new Error(`GET ${path}: ${response.status} ${response.body.message ?? ""}`.trim());
    }
    return response.body;
  }

  /** POST that fails on any non-2xx status. */
  async create(path: string, object: unknown): Promise<KubeObject> {
    const response = await this.request("POST", path, JSON.stringify(object));
    if (response.status >= 300) {
      throw new Error(`POST ${path}: ${response.status} ${response.body.message ?? ""}`.trim());
    }
    return response.body;
  }

  /**
   * Server-side apply, as the provider does it: `PATCH` with `application/apply-patch+yaml`
   * (JSON is YAML), our field manager, and `fieldValidation=Strict`, so an unknown or duplicated
   * field is an error rather than silently dropped.
   */
  async apply(manifest: Manifest, options: { dryRun?: boolean } = {}): Promise<KubeResponse> {
    const path = await this.objectPath(manifest.apiVersion, manifest.kind, manifest.metadata);
    const dryRun = options.dryRun ? "&dryRun=All" : "";
    const query = `?fieldManager=${FIELD_MANAGER}&fieldValidation=Strict${dryRun}`;
    return this.request(
      "PATCH",
      path + query,
      JSON.stringify(manifest),
      "application/apply-patch+yaml",
    );
  }

  /** The object's URL path, from API discovery (plural and scope of the kind). */
  async objectPath(
    apiVersion: string,
    kind: string,
    metadata: { name: string; namespace?: string },
  ): Promise<string> {
    const resource = await this.resource(apiVersion, kind);
    const base = apiVersion === "v1" ? "/api/v1" : `/apis/${apiVersion}`;
    const scope = resource.namespaced ? `/namespaces/${metadata.namespace ?? "default"}` : "";
    return `${base}${scope}/${resource.plural}/${metadata.name}`;
  }

  private async resource(apiVersion: string, kind: string): Promise<ApiResource> {
    let kinds = this.discovery.get(apiVersion);
    if (!kinds) {
      kinds = this.discover(apiVersion);
      this.discovery.set(apiVersion, kinds);
    }
    const resource = (await kinds).get(kind);
    if (!resource) throw new Error(`the API server serves no kind ${kind} in ${apiVersion}`);
    return resource;
  }

  private async discover(apiVersion: string): Promise<Map<string, ApiResource>> {
    const list = await this.get(apiVersion === "v1" ? "/api/v1" : `/apis/${apiVersion}`);
    const resources = (list.resources ?? []) as {
      name: string;
      kind: string;
      namespaced: boolean;
    }[];
    return new Map(
      resources
        .filter((resource) => !resource.name.includes("/")) // subresources like pods/status
        .map((resource) => [
          resource.kind,
          { plural: resource.name, namespaced: resource.namespaced },
        ]),
    );
  }
}

/**
 * `299 - "message"` → `message`, for each warning: Node joins repeated `Warning` headers with
 * ", ", so the quoted messages are picked out one by one and unescaped (RFC 7234 quoted-string).
 */
function warningHeaders(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  return values.flatMap((value) => {
    const quoted = [...value.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)];
    // A header not in that form is still a warning: keep it whole rather than lose it.
    return quoted.length > 0 ? quoted.map(([, text]) => text.replace(/\\(.)/g, "$1")) : [value];
  });
}

/** Status condition `type` of an object, if it has one. */
export function condition(
  object: KubeObject,
  type: string,
): { status?: string; reason?: string; message?: string } | undefined {
  const conditions = (object.status?.conditions ?? []) as {
    type: string;
    status?: string;
    reason?: string;
    message?: string;
  }[];
  return conditions.find((entry) => entry.type === type);
}
