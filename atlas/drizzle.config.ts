/**
 * drizzle-kit's view of the app schema, for running drizzle-kit by hand from the repository root
 * (`npx drizzle-kit export --config atlas/drizzle.config.ts`, `drizzle-kit studio`, ...).
 *
 * Migrations are not drizzle-kit's: `npm run migrate:new` writes them in Atlas's layout under
 * atlas/migrations. `out` therefore points into the ignored out/ folder, so a stray
 * `drizzle-kit generate` cannot leave a second, unapplied migration history in the repository.
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./atlas/schema.ts",
  out: "./out/drizzle",
});
