// ESLint flat config: the TypeScript rules on every source file of the project, and the direction
// of its imports. The layers, top to bottom:
//   index.ts → platform/, config.ts, stack-config/ (the composition and the config that feeds it)
//            → components/ (one ComponentResource each, with components/lib/ for resource helpers)
//            → core/ (no Pulumi resources: quantities, the image catalogue, atlas.sum, YAML, the
//              validation model)
//            → policy/model/ (the model the program and the policy pack share: labels, CIDRs, the
//              network and render models, wiring, reachability, security exceptions)
// A layer imports only the layers below it. The policy pack is a package of its own: it imports
// nothing outside policy/, so it can be published alone; the program reads only its model/. Nothing
// that ships (product or pack) imports the engine-less tools in tools/. examples/ is what an app
// developer writes: it imports published packages only, nothing of the repository. Tests and
// benches may import anything.
import js from "@eslint/js";
import importX from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

const ENTRY = "./index.ts";
const PLATFORM = ["./platform", "./config.ts", "./stack-config"];
const COMPONENTS = "./components";
const TOOLS = ["./tools", "./test", "./bench"];
const MODEL = "./policy/model";
/** The policy pack apart from the model it shares with the program. */
const POLICY_RULES = { from: "./policy", except: ["./model"] };
const REVIEW_AND_TOOLS = ["./policy", ...TOOLS];

/** One zone: files under `target` may not import from `from`, with the reason in the message. */
const zone = (target, from, message, except) => ({
  target,
  from,
  message,
  ...(except ? { except } : {}),
});

/** Zones for a layer that may use the shared model but nothing else of the policy pack. */
const aboveModel = (target, from, message) => [
  zone(target, from, message),
  zone(target, POLICY_RULES.from, message, POLICY_RULES.except),
];

const layerZones = [
  zone(
    MODEL,
    [ENTRY, ...PLATFORM, COMPONENTS, "./core", "./atlas", "./examples", ...TOOLS],
    "policy/model/ is the bottom layer, shared by the program and the pack: it imports nothing of the project outside it.",
  ),
  zone(
    MODEL,
    [
      "./policy/lib",
      "./policy/rules",
      "./policy/stack",
      "./policy/fixtures",
      "./policy/catalogue.ts",
      "./policy/run.ts",
    ],
    "policy/model/ is what the rules read, never the rules themselves.",
  ),
  ...aboveModel(
    "./core",
    [ENTRY, ...PLATFORM, COMPONENTS, ...TOOLS],
    "core/ imports only the shared model below it (policy/model/).",
  ),
  ...aboveModel(
    COMPONENTS,
    [ENTRY, ...PLATFORM, ...TOOLS],
    "components/ take typed args: they never import the platform, the stack config, the tools or the policy rules.",
  ),
  ...PLATFORM.flatMap((target) =>
    aboveModel(
      target,
      [ENTRY, ...TOOLS],
      "the platform layer never imports the entry point, the tools or the policy rules.",
    ),
  ),
  ...aboveModel(
    ENTRY,
    TOOLS,
    "the program never imports the engine-less tools or the policy rules.",
  ),
  zone(
    "./policy",
    [ENTRY, ...PLATFORM, COMPONENTS, "./core", ...TOOLS, "./atlas", "./examples"],
    "the policy pack is a package of its own: it imports nothing outside policy/, so it can be published alone.",
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
    // The core and the shared model create no resources: Pulumi's SDK only for types.
    files: ["core/**/*.ts", "policy/model/**/*.ts"],
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
