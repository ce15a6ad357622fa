import type { StackValidationPolicy } from "@pulumi/policy";
import { imageLockKey } from "../model/image-lock";
import { imageLockOf, isSha256Digest, parseImageReference } from "../lib/images";
import { validateProdWorkloads } from "../lib/rule";
import { containersOf } from "../lib/workloads";

/**
 * In prod a tag is not enough: tags can be re-pushed, a digest cannot. Advisory, because a
 * third-party image gets its digest only once `npm run images:lock` has reached its registry; a
 * tag the lock does know is image-lock-drift's (mandatory) to judge.
 */
export const imageDigestProd: StackValidationPolicy = {
  name: "image-digest-prod",
  description:
    "In prod, every container image is referenced by an `@sha256:` digest or has an entry in the image lock.",
  enforcementLevel: "advisory",
  remediationSteps:
    "Run `npm run images:lock` where the image's registry is reachable and render again: the " +
    "program pins every image the lock knows. Deploy a built app image by its repo digest.",
  validateStack: validateProdWorkloads((workload, report, args) => {
    const lock = imageLockOf(args);
    for (const ref of containersOf(workload)) {
      const image = ref.container.image;
      if (image === undefined || isSha256Digest(parseImageReference(image).digest)) continue;
      const key = imageLockKey(image);
      if (key !== undefined && lock[key] !== undefined) continue;
      report(
        `${ref.label} image ${image} is not pinned by digest and the image lock has no entry ` +
          `for it (${ref.path}.image); run \`npm run images:lock\` and render again, or ` +
          `reference it as repo:tag@sha256:<digest>`,
      );
    }
  }),
};
