export { App } from "./app";
export {
  APP_DEFAULTS,
  appRules,
  appWiringRules,
  resolveApp,
  type AppArgs,
  type AppSettings,
} from "./args";
export { APP_ENV_CONTRACT, APP_ENV_VARIABLES, contractFor } from "./env";
export { appImageRules } from "./image-reference";
export { STREAMING_PATHS_ANNOTATION, TRAEFIK_SSE_HELM_CHART_CONFIG } from "./workloads";
