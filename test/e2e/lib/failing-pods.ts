import type { Manifest } from "../../../core/render-model";
import type { ControlPlaneBinaries } from "./control-plane";

/**
 * A kwok stage that fails the pods of a Job we mark, so a migrations Job can be made to fail on
 * the real Job controller (its backoff, `backoffLimit`, the `Failed` condition) without changing
 * anything else about the render. kwok picks between matching stages at random by weight, so the
 * stock `pod-complete` stage is told to leave marked pods alone rather than raced.
 */

/** The pod label the failing stage selects; set on a Job's pod template by {@link failingJob}. */
export const FAIL_LABEL = "e2e.k3s-platform/kwok-fail";

const FAIL_STAGE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: e2e-pod-fail
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
    - key: '.metadata.labels["${FAIL_LABEL}"]'
      operator: 'In'
      values:
      - 'true'
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
            message: failed by the e2e kwok stage
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Failed`;

/** The same binaries, with kwok told to fail the pods of marked Jobs. */
export function withFailingJobStage(binaries: ControlPlaneBinaries): ControlPlaneBinaries {
  const documents = binaries.kwokStages.split("\n---\n");
  const complete = documents.findIndex((document) => /\n {2}name: pod-complete\n/.test(document));
  const anchor = "  selector:\n    matchExpressions:\n";
  if (complete < 0 || !documents[complete].includes(anchor)) {
    throw new Error("kwok's pod-complete stage changed shape: cannot exclude the failing pods");
  }
  documents[complete] = documents[complete].replace(
    anchor,
    `${anchor}    - key: '.metadata.labels["${FAIL_LABEL}"]'\n      operator: 'DoesNotExist'\n`,
  );
  return { ...binaries, kwokStages: [...documents, FAIL_STAGE].join("\n---\n") + "\n" };
}

/** A copy of a Job manifest whose pods the failing stage fails. */
export function failingJob(job: Manifest): Manifest {
  const copy = structuredClone(job);
  const template = (copy.spec as { template: { metadata?: { labels?: Record<string, string> } } })
    .template;
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels } };
  (template.metadata.labels as Record<string, string>)[FAIL_LABEL] = "true";
  return copy;
}
