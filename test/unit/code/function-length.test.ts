import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * Components read as a table of contents: a constructor names the builders it calls, and no
 * function grows past what a reader holds at once. Measured with the TypeScript parser, from the
 * line a function starts on to the line it ends on.
 */

const REPOSITORY_ROOT = path.resolve(__dirname, "..", "..", "..");
const MAX_LINES = 80;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

interface FunctionLength {
  where: string;
  lines: number;
}

/** Every function-like node of a file (declarations, methods, constructors, arrows) with its length. */
export function functionLengths(file: string, text: string): FunctionLength[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name =
        node.name && ts.isIdentifier(node.name) ? node.name.text : ts.SyntaxKind[node.kind];
      found.push({
        where: `${path.relative(REPOSITORY_ROOT, file)}:${start + 1} ${name}`,
        lines: end - start + 1,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("component code stays small", () => {
  it(`no function in components/ or platform/ is longer than ${MAX_LINES} lines`, () => {
    const files = ["components", "platform"].flatMap((dir) =>
      sourceFiles(path.join(REPOSITORY_ROOT, dir)),
    );
    const tooLong = files
      .flatMap((file) => functionLengths(file, fs.readFileSync(file, "utf8")))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ where, lines }) => `${where}: ${lines} lines`);
    expect(tooLong).toEqual([]);
  });

  it("the measure counts a function's lines from its first to its last", () => {
    const text = ["function short() {", "  return 1;", "}", "const arrow = () => {", "", "};"].join(
      "\n",
    );
    expect(functionLengths("example.ts", text).map(({ lines }) => lines)).toEqual([3, 3]);
  });
});
