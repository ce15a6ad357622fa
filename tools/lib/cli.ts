import { ConfigError } from "../../config";

/** Positional arguments and `--flag value` options of a tool's command line. */
export interface CommandLine {
  positional: string[];
  options: Record<string, string>;
}

export function parseCommandLine(argv: string[]): CommandLine {
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument.startsWith("--")) {
      const [flag, inline] = argument.slice(2).split("=", 2);
      options[flag] = inline ?? argv[++index] ?? "";
    } else {
      positional.push(argument);
    }
  }
  return { positional, options };
}

/**
 * Runs a tool's main function and turns its failure into a readable message and exit code 1:
 * config problems as the list of keys and reasons, anything else with its message.
 */
export function runTool(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) {
        console.error(error.message);
        process.exit(2);
      } else if (error instanceof ConfigError || error instanceof InputError) {
        console.error(error.message);
      } else {
        console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      }
      process.exit(1);
    },
  );
}

export function usage(text: string): never {
  console.error(`usage: ${text}`);
  process.exit(2);
}

/** Input the tool refuses (a stack file it cannot read): printed as one line, exit code 1. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** A command line the tool cannot act on: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A stack name as Pulumi takes it and as our files use it (`Pulumi.<stack>.yaml`,
 * `out/<stack>/`): letters, digits, `-`, `_` and `.`, not starting with a dot. So a stack name can
 * never be a path that leads out of the repository (`../somewhere`, `a/b`).
 */
export function stackName(value: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(value) || value.length > 100) {
    throw new UsageError(
      `"${value}" is not a stack name: use letters, digits, '-', '_' and '.' (as in Pulumi.<stack>.yaml)`,
    );
  }
  return value;
}
