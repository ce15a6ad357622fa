import type {
  ResourceValidation,
  ResourceValidationArgs,
  StackValidation,
  StackValidationArgs,
} from "@pulumi/policy";
import type { ImageLock } from "../model/image-lock";
import type { KubeObject, ResourceFacts } from "./k8s";
import { toKubeObject } from "./k8s";
import type { StackIndex } from "./stack";
import { indexStack, stackProfile } from "./stack";
import type { Workload } from "./workloads";
import { workloadOf } from "./workloads";

/*
 * Adapters from @pulumi/policy's callbacks to the rule bodies. Every message starts with the
 * resource (`Deployment/platform/web: ...`), so a rule only writes what is wrong, where and the fix.
 */

/** Reports one finding about the object being checked. */
export type Report = (detail: string) => void;

/** Reports one finding about an object of the stack. */
export type StackReport = (object: KubeObject, detail: string) => void;

/** Configuration every rule may read through `getConfig()`. */
export interface RuleConfig {
  /** The configured StorageClass (`storage-refs`). */
  storageClassName?: string;
  /** The image lock to judge by (`image-lock-drift`). @default the pack's images.lock.json */
  imageLock?: ImageLock;
}

function facts(args: ResourceValidationArgs): ResourceFacts {
  // The in-process runner adds `retainOnDelete`, which @pulumi/policy's options type lacks.
  const opts = args.opts as ResourceValidationArgs["opts"] & { retainOnDelete?: boolean };
  return { type: args.type, urn: args.urn, name: args.name, props: args.props, opts };
}

/** A resource check run on every plain Kubernetes object. */
export function validateKube(
  check: (object: KubeObject, report: Report, args: ResourceValidationArgs) => void,
): ResourceValidation {
  return (args, reportViolation) => {
    const object = toKubeObject(facts(args));
    if (object === undefined) return;
    check(object, (detail) => reportViolation(`${object.id}: ${detail}`), args);
  };
}

/** A resource check run on every workload's pod template. */
export function validateWorkload(
  check: (workload: Workload, report: Report, args: ResourceValidationArgs) => void,
): ResourceValidation {
  return validateKube((object, report, args) => {
    const workload = workloadOf(object);
    if (workload !== undefined) check(workload, report, args);
  });
}

/** A whole-stack check over the indexed Kubernetes objects. */
export function validateKubeStack(
  check: (stack: StackIndex, report: StackReport, args: StackValidationArgs) => void,
): StackValidation {
  return (args, reportViolation) => {
    const stack = indexStack(
      args.resources.map((resource) => ({
        type: resource.type,
        urn: resource.urn,
        name: resource.name,
        props: resource.props,
        opts: resource.opts,
      })),
    );
    check(stack, (object, detail) => reportViolation(`${object.id}: ${detail}`, object.urn), args);
  };
}

/**
 * A check on every Kubernetes object of a prod stack. Whole-stack, because only the stack shows
 * the profile label on the platform's namespace; a stack without one counts as prod.
 */
export function validateProdObjects(
  check: (object: KubeObject, report: Report) => void,
): StackValidation {
  return validateKubeStack((stack, report) => {
    if (stackProfile(stack) !== "prod") return;
    for (const object of stack.objects) check(object, (detail) => report(object, detail));
  });
}

/** A check on every workload's pod template in a prod stack (see {@link validateProdObjects}). */
export function validateProdWorkloads(
  check: (workload: Workload, report: Report, args: StackValidationArgs) => void,
): StackValidation {
  return validateKubeStack((stack, report, args) => {
    if (stackProfile(stack) !== "prod") return;
    for (const workload of stack.workloads) {
      check(workload, (detail) => report(workload.object, detail), args);
    }
  });
}
