import type { ControlPlaneBinaries } from "./control-plane";

/**
 * kwok stages that make the pods of given images crash-loop, the way a kubelet reports a container
 * that exits at start: Running, not Ready, its container waiting in `CrashLoopBackOff` after a
 * non-zero exit. Selected by the first container's image, so a Deployment's next revision can
 * crash while the revision before it stays Ready: the shape of a bad release. The stock
 * `pod-ready` stage is told to leave those pods alone (kwok picks at random between matching
 * stages, so both must not match).
 */

const FIRST_IMAGE = ".spec.containers.[0].image";

function crashStage(images: string[]): string {
  const values = images.map((image) => `      - '${image}'`).join("\n");
  return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: e2e-pod-crash-loop
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
      - 'Pending'
    - key: '${FIRST_IMAGE}'
      operator: 'In'
      values:
${values}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: Ready
        reason: ContainersNotReady
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: ContainersReady
        reason: ContainersNotReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 3
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
        state:
          waiting:
            reason: CrashLoopBackOff
            message: back-off 40s restarting failed container (the e2e tier's kwok stage)
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}`;
}

/** The same binaries, with kwok crash-looping every pod whose first container runs one of `images`. */
export function withCrashingImages(
  binaries: ControlPlaneBinaries,
  images: string[],
): ControlPlaneBinaries {
  const documents = binaries.kwokStages.split("\n---\n");
  const ready = documents.findIndex((document) => /\n {2}name: pod-ready\n/.test(document));
  const anchor = "  selector:\n    matchExpressions:\n";
  if (ready < 0 || !documents[ready].includes(anchor)) {
    throw new Error("kwok's pod-ready stage changed shape: cannot exclude the crashing pods");
  }
  const values = images.map((image) => `      - '${image}'`).join("\n");
  documents[ready] = documents[ready].replace(
    anchor,
    `${anchor}    - key: '${FIRST_IMAGE}'\n      operator: 'NotIn'\n      values:\n${values}\n`,
  );
  return { ...binaries, kwokStages: [...documents, crashStage(images)].join("\n---\n") + "\n" };
}
