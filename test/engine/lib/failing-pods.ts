import type { ControlPlaneBinaries } from "../../e2e/lib/control-plane";

/**
 * A kwok stage that fails the pods one label selects, so a Job of our render can be made to fail
 * on the real Job controller (its backoff, `backoffLimit`, the `Failed` condition) without
 * changing the render: select by a label the Job's pods carry, e.g. the Job controller's own
 * `batch.kubernetes.io/job-name` (one release's Job only), or `app.kubernetes.io/name: atlas`
 * from the Migrations component's pod template (every migrations Job). Pods still become Running
 * through kwok's `pod-ready`; kwok picks between matching stages at random by weight, so the stock
 * `pod-complete` stage is told to leave the selected pods alone rather than race the failing one.
 */

/** The pod label the Job controller sets on every pod of a Job, to the Job's name. */
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

function failStage(label: string, value: string): string {
  return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: engine-pod-fail
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.metadata.labels["${label}"]'
      operator: 'In'
      values:
      - '${value}'
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 1
            finishedAt: {{ $now | Quote }}
            reason: Error
            message: failed by the engine tier's kwok stage
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Failed`;
}

/** The same binaries, with kwok told to fail every pod labelled `label: value`. */
export function withFailingPods(
  binaries: ControlPlaneBinaries,
  label: string,
  value: string,
): ControlPlaneBinaries {
  const documents = binaries.kwokStages.split("\n---\n");
  const complete = documents.findIndex((document) => /\n {2}name: pod-complete\n/.test(document));
  const anchor = "  selector:\n    matchExpressions:\n";
  if (complete < 0 || !documents[complete].includes(anchor)) {
    throw new Error("kwok's pod-complete stage changed shape: cannot exclude the failing pods");
  }
  // NotIn also matches a pod without the label: pod-complete keeps every other Job's pods.
  documents[complete] = documents[complete].replace(
    anchor,
    `${anchor}    - key: '.metadata.labels["${label}"]'\n      operator: 'NotIn'\n      values:\n      - '${value}'\n`,
  );
  return {
    ...binaries,
    kwokStages: [...documents, failStage(label, value)].join("\n---\n") + "\n",
  };
}
