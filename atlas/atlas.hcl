# Atlas project for the app database. Run Atlas from this folder (paths below are relative to it):
#
#   cd atlas
#   DATABASE_URL=postgres://... atlas migrate status   --env dev
#   DATABASE_URL=postgres://... atlas migrate apply    --env dev
#                               atlas migrate lint     --env dev
#                               atlas migrate validate --env dev
#
# New migrations come from the Drizzle schema (schema.ts) via `npm run migrate:new -- <name>`,
# which needs no Atlas CLI; `atlas migrate diff --env dev <name>` plans the same change from the
# same source (data.external_schema.drizzle) for whoever has the CLI.

variable "url" {
  type        = string
  default     = getenv("DATABASE_URL")
  description = "The database to migrate. Use Postgres directly, never PgBouncer: Atlas holds a session advisory lock while it applies."
}

variable "dev_url" {
  type        = string
  default     = "docker://postgres/15/dev?search_path=public"
  description = "An empty scratch database Atlas replays migrations on to lint and diff them."
}

# The desired schema, printed by drizzle-kit from schema.ts.
data "external_schema" "drizzle" {
  program = ["npx", "drizzle-kit", "export", "--dialect", "postgresql", "--schema", "schema.ts"]
}

locals {
  migrations = "file://migrations"
}

env "dev" {
  src = data.external_schema.drizzle.url
  url = var.url
  dev = var.dev_url

  migration {
    dir = local.migrations
    # The app role owns the public schema but may not create schemas, so the revisions table
    # lives beside the app's tables instead of in Atlas's own atlas_schema_revisions schema.
    revisions_schema = "public"
  }

  lint {
    # Check the newest migration; destructive changes are reported without failing here.
    latest = 1
    destructive {
      error = false
    }
  }
}

# Applies, lints and reports status; never plans (no src), so it needs no Node.js toolchain.
env "prod" {
  url = var.url
  dev = var.dev_url

  migration {
    dir              = local.migrations
    revisions_schema = "public"
    # Fail instead of queueing behind another `migrate apply` (for example a stuck Job).
    lock_timeout = "30s"
  }

  lint {
    # The migrations a pull request adds on top of main.
    git {
      base = "main"
    }
    destructive {
      error = true
    }
    data_depend {
      error = true
    }
  }
}
