import type { StackValidationPolicy } from "@pulumi/policy";
import { imageLockKey } from "../model/image-lock";
import { imageLockOf, parseImageReference } from "../lib/images";
import { validateProdWorkloads } from "../lib/rule";
import { containersOf } from "../lib/workloads";

/**
 * A prod image whose tag the lock knows runs exactly the locked digest. A different digest means
 * the render predates the lock (the tag was re-pushed and the lock refreshed) or someone pinned
 * by hand past the review the lock gets; a bare tag means the render ignored the lock.
 */
export const imageLockDrift: StackValidationPolicy = {
  name: "image-lock-drift",
  description:
    "In prod, an image whose tag has an entry in the image lock is referenced by exactly that digest.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Run `npm run images:lock` and render again, so the manifests carry the digests the lock " +
    "records; review the lock's change like any other.",
  validateStack: validateProdWorkloads((workload, report, args) => {
    const lock = imageLockOf(args);
    for (const ref of containersOf(workload)) {
      const image = ref.container.image;
      const key = image === undefined ? undefined : imageLockKey(image);
      const entry = key === undefined ? undefined : lock[key];
      if (image === undefined || entry === undefined) continue;
      const { digest } = parseImageReference(image);
      if (digest === entry.digest) continue;
      const found = digest === undefined ? "no digest" : `digest ${digest}`;
      report(
        `${ref.label} image ${image} has drifted from its lock entry ${key}@${entry.digest} ` +
          `(${found}, ${ref.path}.image); run \`npm run images:lock\` and render again`,
      );
    }
  }),
};
