import { APP_ENV_VARIABLES } from "../../components/app/env";
import { STACK_OUTPUTS, type StackOutputSpec } from "../../platform/outputs";
import { configReference } from "./config-reference";

/**
 * README sections generated from the code (`npm run docs` writes them; a unit test fails when the
 * README is stale), so the reference can never disagree with what the program does.
 */
export const GENERATED_SECTIONS: Record<string, () => string> = {
  "config-reference": configReference,
  "env-contract": envContract,
  "stack-outputs": stackOutputsTable,
};

function stackOutputsTable(): string {
  return [
    "| output | secret | what it holds |",
    "|---|---|---|",
    ...STACK_OUTPUTS.map(
      (output: StackOutputSpec) =>
        `| \`${output.name}\` | ${output.secret ? "yes" : "no"} | ${output.description}` +
        `${output.appOnly ? " (only while the app is on)" : ""} |`,
    ),
  ].join("\n");
}

function envContract(): string {
  return [
    "| variable | source | what it is |",
    "|---|---|---|",
    ...APP_ENV_VARIABLES.map(
      (variable) =>
        `| \`${variable.name}\` | ${variable.credential ? "Secret (`secretKeyRef`)" : "value"} | ${variable.description} |`,
    ),
  ].join("\n");
}

/** The README with every generated section replaced by its current text. */
export function withGeneratedSections(readme: string): string {
  return Object.entries(GENERATED_SECTIONS).reduce((text, [name, generate]) => {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md lacks the ${start} … ${end} markers`);
    return `${text.slice(0, from + start.length)}\n${generate()}\n${text.slice(to)}`;
  }, readme);
}
