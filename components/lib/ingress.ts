import { fieldErrorIf, type FieldError } from "../../core/validation";

/**
 * How a component is reached through the cluster's ingress controller: the one shape of Ingress
 * arguments across the platform (the app's API, Grafana, the Temporal Web UI).
 */
export interface IngressSettings {
  /** Host name the Ingress serves, e.g. `grafana.platform.example.com`; a lowercase DNS name. */
  host: string;
  /** IngressClass of the Ingress. @default "traefik" (K3s's): {@link DEFAULT_INGRESS_CLASS} */
  ingressClassName?: string;
  /**
   * Secret with the host's TLS certificate (e.g. from cert-manager). With it the host is served
   * over HTTPS only; without it, over plain HTTP. @default none: plain HTTP
   */
  tlsSecretName?: string;
}

/** The IngressClass K3s ships (Traefik), used when the settings name none. */
export const DEFAULT_INGRESS_CLASS = "traefik";

/** A lowercase DNS name, as an Ingress rule's `host` must be. */
const HOST_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Every problem with Ingress settings, by their paths (`host`). */
export function ingressRules(settings: Pick<IngressSettings, "host">): FieldError[] {
  return fieldErrorIf(
    !HOST_NAME.test(settings.host),
    "host",
    () => `must be a lowercase DNS name such as grafana.example.com (got "${settings.host}")`,
  );
}

/** Whether the host is served over HTTPS: exactly when a TLS Secret is named. */
export function servesTls(settings: IngressSettings): boolean {
  return settings.tlsSecretName !== undefined;
}

/** `https://<host>` when the host is served over TLS, else `http://<host>`. */
export function ingressUrl(settings: IngressSettings): string {
  return `${servesTls(settings) ? "https" : "http"}://${settings.host}`;
}
