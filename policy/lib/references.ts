import { asArray } from "./k8s";
import type { Workload } from "./workloads";
import { containersOf } from "./workloads";

/** One reference from a pod template to another object (and possibly a key in it). */
export interface Reference {
  kind: "Secret" | "ConfigMap" | "ServiceAccount" | "PersistentVolumeClaim";
  name: string | undefined;
  /** The data key used, when the reference picks one. */
  key?: string;
  /** Field path of the reference. */
  field: string;
  /** `optional: true` references may dangle by design. */
  optional: boolean;
}

/** A Secret/ConfigMap reference with its items (or the whole object when it names none). */
interface Source {
  name?: string;
  optional?: boolean;
  items?: readonly { key?: string }[];
}

function sourceRefs(
  kind: Reference["kind"],
  source: Source | undefined,
  field: string,
): Reference[] {
  if (source === undefined) return [];
  const keys = asArray(source.items).map((item) => item.key);
  const optional = source.optional === true;
  if (keys.length === 0) return [{ kind, name: source.name, field, optional }];
  return keys.map((key) => ({ kind, name: source.name, key, field, optional }));
}

/** A `secretKeyRef` or `configMapKeyRef`: one key of one object. */
function keyRef(
  kind: Reference["kind"],
  source: { name?: string; key?: string; optional?: boolean } | undefined,
  field: string,
): Reference[] {
  if (source === undefined) return [];
  return [{ kind, name: source.name, key: source.key, field, optional: source.optional === true }];
}

function envReferences(workload: Workload): Reference[] {
  return containersOf(workload).flatMap((ref) => [
    ...asArray(ref.container.env).flatMap((variable, index) => {
      const field = `${ref.path}.env[${index}].valueFrom`;
      const { secretKeyRef, configMapKeyRef } = variable.valueFrom ?? {};
      return [
        ...keyRef("Secret", secretKeyRef, `${field}.secretKeyRef`),
        ...keyRef("ConfigMap", configMapKeyRef, `${field}.configMapKeyRef`),
      ];
    }),
    ...asArray(ref.container.envFrom).flatMap((source, index) => {
      const field = `${ref.path}.envFrom[${index}]`;
      return [
        ...sourceRefs("Secret", source.secretRef, `${field}.secretRef`),
        ...sourceRefs("ConfigMap", source.configMapRef, `${field}.configMapRef`),
      ];
    }),
  ]);
}

function volumeReferences(workload: Workload): Reference[] {
  return asArray(workload.spec.volumes).flatMap((volume, index) => {
    const field = `${workload.path}.spec.volumes[${index}]`;
    const { secret, configMap, persistentVolumeClaim, projected } = volume;
    const claim: Reference[] = persistentVolumeClaim
      ? [
          {
            kind: "PersistentVolumeClaim",
            name: persistentVolumeClaim.claimName,
            field: `${field}.persistentVolumeClaim.claimName`,
            optional: false,
          },
        ]
      : [];
    return [
      ...sourceRefs("Secret", secret && { ...secret, name: secret.secretName }, `${field}.secret`),
      ...sourceRefs("ConfigMap", configMap, `${field}.configMap`),
      ...claim,
      ...asArray(projected?.sources).flatMap((source, sourceIndex) => {
        const at = `${field}.projected.sources[${sourceIndex}]`;
        return [
          ...sourceRefs("Secret", source.secret, `${at}.secret`),
          ...sourceRefs("ConfigMap", source.configMap, `${at}.configMap`),
        ];
      }),
    ];
  });
}

/** Every Secret, ConfigMap, ServiceAccount and PVC the pod template names. */
export function referencesOf(workload: Workload): Reference[] {
  const account = workload.spec.serviceAccountName ?? workload.spec.serviceAccount;
  const field = `${workload.path}.spec.serviceAccountName`;
  const accountRef: Reference[] =
    account !== undefined
      ? [{ kind: "ServiceAccount", name: account, field, optional: false }]
      : [];
  return [...envReferences(workload), ...volumeReferences(workload), ...accountRef];
}
