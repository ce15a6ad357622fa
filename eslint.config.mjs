// ESLint flat config: the TypeScript rules on every source file of the project, and the direction
// of its imports. The layers, top to bottom:
//   index.ts → platform/, config.ts, stack-config/ (the composition and the config that feeds it)
//            → components/ (one ComponentResource each, with components/lib/ for resource helpers)
//            → core/ (no Pulumi resources: labels, quantities, CIDRs, the network and render
//              models, reachability, the image catalogue, atlas.sum, the validation model)
// A layer imports only the layers below it. The policy pack reads only core/, and nothing that
// ships (product or pack) imports the engine-less tools in tools/. examples/ is what an app
// developer writes: it imports published packages only, nothing of the repository. Tests and
// benches may import anything.
import js from "@eslint/js";
import importX from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

const ENTRY = "./index.ts";
const PLATFORM = ["./platform", "./config.ts", "./stack-config"];
const COMPONENTS = "./components";
const REVIEW_AND_TOOLS = ["./policy", "./tools", "./test", "./bench"];

/** One zone: files under `target` may not import from `from`, with the reason in the message. */
const zone = (target, from, message) => ({ target, from, message });

const layerZones = [
  zone(
    "./core",
    [ENTRY, ...PLATFORM, COMPONENTS, ...REVIEW_AND_TOOLS],
    "core/ is the bottom layer: it imports nothing of the project outside core/.",
  ),
  zone(
    COMPONENTS,
    [ENTRY, ...PLATFORM, ...REVIEW_AND_TOOLS],
    "components/ take typed args: they never import the platform, the stack config, the tools or the policy pack.",
  ),
  ...PLATFORM.map((target) =>
    zone(
      target,
      [ENTRY, ...REVIEW_AND_TOOLS],
      "the platform layer never imports the entry point, the tools or the policy pack.",
    ),
  ),
  zone(
    ENTRY,
    REVIEW_AND_TOOLS,
    "the program never imports the engine-less tools or the policy pack.",
  ),
  zone(
    "./policy",
    [ENTRY, ...PLATFORM, COMPONENTS, "./tools", "./test", "./bench", "./atlas"],
    "the policy pack reads only core/ (and its own files), so it can be published on its own.",
  ),
  zone(
    "./examples",
    [ENTRY, ...PLATFORM, COMPONENTS, "./core", ...REVIEW_AND_TOOLS, "./atlas"],
    "examples/ show what an app developer writes: they use published packages and the env contract, never the platform's code.",
  ),
];

export default tseslint.config(
  { ignores: ["node_modules/", "out/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { "import-x": importX },
    settings: {
      "import-x/resolver-next": [importX.createNodeResolver({ extensions: [".ts", ".json"] })],
    },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      eqeqeq: ["error", "always"],
      "no-console": "off",
      "import-x/no-restricted-paths": ["error", { zones: layerZones }],
    },
  },
  {
    // The core creates no resources: Pulumi's SDK only for types (the validation model's shape).
    files: ["core/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: [
            ...["@pulumi/kubernetes", "@pulumi/random", "@pulumi/docker"].map((name) => ({
              name,
              message: "core/ creates no resources; build them in components/.",
            })),
            {
              name: "@pulumi/pulumi",
              allowTypeImports: true,
              message:
                "core/ uses Pulumi's SDK for types only; runtime calls belong in components/.",
            },
          ],
        },
      ],
    },
  },
);
