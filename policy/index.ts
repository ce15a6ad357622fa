import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./catalogue";

// Constructing a PolicyPack starts the analyzer's gRPC server: this file is the pack's entry point
// for `pulumi preview --policy-pack policy` and nothing may import it (tests and `npm run check`
// use policy/run.ts).
new PolicyPack("k3s-platform", {
  description:
    "Pod Security Standards, the k3s-platform security baseline and whole-stack " +
    "consistency checks (docs/policy.md).",
  policies: [...POLICIES],
});
