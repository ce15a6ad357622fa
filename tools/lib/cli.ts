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
      if (error instanceof ConfigError) {
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
