import type { ResourceValidationPolicy } from "@pulumi/policy";
import { FLOATING_TAGS, isSha256Digest, parseImageReference } from "../lib/images";
import { validateWorkload } from "../lib/rule";
import { containersOf } from "../lib/workloads";

/** Every image names one build: an exact tag (or a digest), never `latest` or nothing. */
export const imagePinned: ResourceValidationPolicy = {
  name: "image-pinned",
  description: "Every container image has an exact tag or a digest, never `latest` or no tag.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Take the image from the catalogue in core/images.ts (or `images.<name>` in the stack config), which pins exact versions.",
  validateResource: validateWorkload((workload, report) => {
    for (const ref of containersOf(workload)) {
      const image = ref.container.image;
      // An image built in the same run has no reference until the build finishes.
      if (image === undefined) continue;
      const field = `${ref.path}.image`;
      if (image.trim() === "") {
        report(`${ref.label} has no image (${field}); set an image with an exact tag`);
        continue;
      }
      const { tag, digest } = parseImageReference(image);
      if (digest !== undefined) {
        if (!isSha256Digest(digest)) {
          report(
            `${ref.label} image ${image} has a malformed digest (${field}); use @sha256:<64 hex>`,
          );
        }
      } else if (tag === undefined) {
        report(`${ref.label} image ${image} has no tag (${field}); pin an exact version tag`);
      } else if (FLOATING_TAGS.has(tag.toLowerCase())) {
        report(
          `${ref.label} image ${image} uses the moving tag "${tag}" (${field}); pin an exact ` +
            `version tag`,
        );
      }
    }
  }),
};
