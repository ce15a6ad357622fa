import { toYaml } from "./common";

/**
 * The one rule file the stack generates instead of reading from `charts/alerts`: how old the last
 * successful Postgres backup may get, which depends on the stack's backup schedule. The alert
 * (`PostgresBackupTooOld` in `charts/alerts/data.yaml`) stays a static, unit-tested rule that
 * compares against this series, so a schedule change moves the threshold and nothing else.
 */

/** Name of the generated rule file in Prometheus's rules ConfigMap. */
export const BACKUP_RULE_FILE = "backup-schedule.yaml";

/** The recorded series the alert compares the backup's age against, labelled by `cronjob`. */
export const BACKUP_MAX_AGE_SERIES = "platform:postgres_backup_max_age:seconds";

/** What the threshold is made of. */
export interface BackupSchedule {
  /** Name of the backup CronJob (`kube_cronjob_*{cronjob=…}`). */
  cronJob: string;
  /**
   * How old its last success may be before the alert fires, in seconds: the longest gap between
   * two runs of its schedule plus the longest a run may take.
   */
  maxAgeSeconds: number;
}

/**
 * The rule file: one recording rule per backup CronJob (the dumps, the base backups), a constant
 * labelled with its name; both backup alerts judge every CronJob named here.
 */
export function backupRuleFile(schedules: readonly BackupSchedule[]): string {
  for (const { maxAgeSeconds } of schedules) {
    if (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 1) {
      throw new Error(
        `backupRuleFile: maxAgeSeconds must be a whole number of seconds, at least 1 (got ${maxAgeSeconds})`,
      );
    }
  }
  return toYaml({
    groups: [
      {
        name: "backup-schedule",
        rules: schedules.map(({ cronJob, maxAgeSeconds }) => ({
          record: BACKUP_MAX_AGE_SERIES,
          expr: `vector(${maxAgeSeconds})`,
          labels: { cronjob: cronJob },
        })),
      },
    ],
  });
}
