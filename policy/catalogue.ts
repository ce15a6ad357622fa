import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { haReplicasProd } from "./rules/ha-replicas-prod";
import { imageDigestProd } from "./rules/image-digest-prod";
import { imageLockDrift } from "./rules/image-lock-drift";
import { imagePinned } from "./rules/image-pinned";
import { ingressTlsProd } from "./rules/ingress-tls-prod";
import { noDefaultNs } from "./rules/no-default-ns";
import { probes } from "./rules/probes";
import { protectStatefulProd } from "./rules/protect-stateful-prod";
import { pssBaseline } from "./rules/pss-baseline";
import { pssRestricted } from "./rules/pss-restricted";
import { pvcSize } from "./rules/pvc-size";
import { rbacLeast } from "./rules/rbac-least";
import { readOnlyRoot } from "./rules/read-only-root";
import { resources } from "./rules/resources";
import { saToken } from "./rules/sa-token";
import { secretLiteral } from "./rules/secret-literal";
import { svcType } from "./rules/svc-type";
import { haHasPdb } from "./stack/ha-has-pdb";
import { hpaConsistency } from "./stack/hpa-consistency";
import { ingressBackendExists } from "./stack/ingress-backend-exists";
import { ingressServesOnly } from "./stack/ingress-serves-only";
import { internetEgress } from "./stack/internet-egress";
import { netpolSelectsPods } from "./stack/netpol-selects-pods";
import { postgresAccess } from "./stack/postgres-access";
import { rbacRefs } from "./stack/rbac-refs";
import { reachability } from "./stack/reachability";
import { readinessIfServed } from "./stack/readiness-if-served";
import { refsExist } from "./stack/refs-exist";
import { storageRefs } from "./stack/storage-refs";
import { svcSelectsPods } from "./stack/svc-selects-pods";
import { workloadHasNetpol } from "./stack/workload-has-netpol";

/*
 * Every rule of the catalogue (docs/policy.md), in its order. Both the CrossGuard pack (policy/index.ts) and the
 * in-process runner (policy/run.ts) take them from here, so the two can never differ.
 */

/** Per-resource rules: the Pod Security Standards first, then the baseline rules. */
export const RESOURCE_POLICIES: readonly ResourceValidationPolicy[] = [
  pssBaseline,
  pssRestricted,
  imagePinned,
  imageDigestProd,
  imageLockDrift,
  resources,
  probes,
  readOnlyRoot,
  saToken,
  secretLiteral,
  noDefaultNs,
  rbacLeast,
  svcType,
  ingressTlsProd,
  haReplicasProd,
  protectStatefulProd,
  pvcSize,
];

/**
 * Whole-stack rules: they need more than one resource; the last four the whole network (the
 * wiring invariants, then the comparison with the wiring table).
 */
export const STACK_POLICIES: readonly StackValidationPolicy[] = [
  svcSelectsPods,
  netpolSelectsPods,
  workloadHasNetpol,
  ingressBackendExists,
  haHasPdb,
  refsExist,
  storageRefs,
  hpaConsistency,
  rbacRefs,
  readinessIfServed,
  postgresAccess,
  ingressServesOnly,
  internetEgress,
  reachability,
];

/** Every rule, resource rules first. */
export const POLICIES: readonly (ResourceValidationPolicy | StackValidationPolicy)[] = [
  ...RESOURCE_POLICIES,
  ...STACK_POLICIES,
];
