import * as pulumi from "@pulumi/pulumi";
import { dockerConfigAuthKey } from "../../policy/model/image-reference";

/**
 * The `.dockerconfigjson` of a `kubernetes.io/dockerconfigjson` Secret for one registry, as the
 * kubelet reads it: `auths.<registry>` with the user, the password and their base64 `auth`. A
 * secret output, since it holds the password.
 */
export function dockerConfigJson(
  registry: string,
  username: pulumi.Input<string>,
  password: pulumi.Input<string>,
): pulumi.Output<string> {
  return pulumi.secret(
    pulumi.all([username, password]).apply(([user, secret]) =>
      JSON.stringify({
        auths: {
          [dockerConfigAuthKey(registry)]: {
            username: user,
            password: secret,
            auth: Buffer.from(`${user}:${secret}`).toString("base64"),
          },
        },
      }),
    ),
  );
}
