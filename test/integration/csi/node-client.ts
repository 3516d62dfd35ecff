/**
 * A kubelet's side of a CSI node plugin, for driving the real Secrets Store CSI driver without a
 * kubelet: NodePublishVolume / NodeUnpublishVolume over the driver's CSI socket, with the volume
 * context a kubelet sends for an inline (ephemeral) volume of a pod — the pod's name, namespace,
 * uid and service account (podInfoOnMount) and the tokens of the CSIDriver's tokenRequests, as a
 * JSON string. The CSI API comes from the `csi.proto` of the CSI spec module the driver is built
 * with (copied next to the driver binary by test/env/build.sh).
 */
import { credentials, loadPackageDefinition, type Client, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import type { PodRef } from "./driver.ts";

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res?: Res) => void) => void;
type NodeClient = Client & {
  NodePublishVolume: Unary<Record<string, unknown>, Record<string, unknown>>;
  NodeUnpublishVolume: Unary<Record<string, unknown>, Record<string, unknown>>;
};

export class KubeletNodeClient {
  readonly #client: NodeClient;

  constructor(protoPath: string, socket: string) {
    const def = loadSync(protoPath, {
      keepCase: true,
      defaults: true,
      longs: Number,
      enums: String,
      oneofs: true,
    });
    const pkg = loadPackageDefinition(def) as unknown as {
      csi: {
        v1: { Node: new (addr: string, creds: ReturnType<typeof credentials.createInsecure>) => NodeClient };
      };
    };
    this.#client = new pkg.csi.v1.Node(`unix://${socket}`, credentials.createInsecure());
  }

  #call(method: "NodePublishVolume" | "NodeUnpublishVolume", req: Record<string, unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client[method](req, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** What the kubelet sends for `volumes[].csi` {driver, readOnly: true, volumeAttributes}. */
  publish(pod: PodRef, volumeAttributes: Record<string, string>, targetPath: string): Promise<void> {
    const tokens = Object.fromEntries(
      Object.entries(pod.tokens).map(([aud, token]) => [
        aud,
        { token, expirationTimestamp: new Date(Date.now() + 600_000).toISOString() },
      ]),
    );
    return this.#call("NodePublishVolume", {
      volume_id: `csi-${pod.uid}-secrets`,
      target_path: targetPath,
      volume_capability: {
        mount: { fs_type: "", mount_flags: [] },
        access_mode: { mode: "SINGLE_NODE_READER_ONLY" },
      },
      readonly: true,
      secrets: {},
      volume_context: {
        ...volumeAttributes,
        "csi.storage.k8s.io/pod.name": pod.name,
        "csi.storage.k8s.io/pod.namespace": pod.namespace,
        "csi.storage.k8s.io/pod.uid": pod.uid,
        "csi.storage.k8s.io/serviceAccount.name": pod.serviceAccountName,
        "csi.storage.k8s.io/ephemeral": "true",
        "csi.storage.k8s.io/serviceAccount.tokens": JSON.stringify(tokens),
      },
    });
  }

  unpublish(pod: PodRef, targetPath: string): Promise<void> {
    return this.#call("NodeUnpublishVolume", {
      volume_id: `csi-${pod.uid}-secrets`,
      target_path: targetPath,
    });
  }

  close(): void {
    this.#client.close();
  }
}
