import type { StackValidationPolicy } from "@pulumi/policy";
import { isSha256Digest, parseImage } from "../lib/images";
import { validateProdWorkloads } from "../lib/rule";
import { containersOf } from "../lib/workloads";

/** In prod a tag is not enough: tags can be re-pushed, a digest cannot. */
export const imageDigestProd: StackValidationPolicy = {
  name: "image-digest-prod",
  description: "In prod, every container image is referenced by an `@sha256:` digest.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Give the image catalogue's prod entries a digest (`repo:tag@sha256:...`), and deploy a " +
    "built app image by its repo digest.",
  validateStack: validateProdWorkloads((workload, report) => {
    for (const ref of containersOf(workload)) {
      const image = ref.container.image;
      if (image === undefined || isSha256Digest(parseImage(image).digest)) continue;
      report(
        `${ref.label} image ${image} is not pinned by digest (${ref.path}.image); in prod ` +
          `reference it as repo:tag@sha256:<digest>`,
      );
    }
  }),
};
