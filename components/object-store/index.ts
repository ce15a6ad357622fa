export { objectStoreRules, type ObjectStoreArgs } from "./args";
export {
  BUCKET_JOB_LIMITS,
  bucketJobName,
  bucketPlan,
  BucketRole,
  bucketScript,
  type S3Credentials,
} from "./buckets";
export { OBJECT_STORE_API_PORT } from "./builders";
export { ObjectStore } from "./object-store";
