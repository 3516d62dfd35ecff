/**
 * The driver's side of the provider contract, for tests and the benchmark: a gRPC client built
 * from the same vendored proto, dialled as the Secrets Store CSI driver dials a provider (unix
 * socket, insecure, authority `localhost`, wait-for-ready), sending what its nodeserver sends on
 * NodePublishVolume: the SecretProviderClass parameters with the kubelet's volume attributes
 * copied over them (pod name, namespace, uid, service account, and the tokens of the CSIDriver's
 * tokenRequests as a JSON string), `secrets` "null", `permission` "420" and no current versions.
 */
import { credentials, makeClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import {
  providerService,
  type MountRequest,
  type MountResponse,
  type VersionResponse,
} from "../../../src/csi/proto.ts";

export interface PodRef {
  name: string;
  namespace: string;
  uid: string;
  serviceAccountName: string;
  /** audience -> token */
  tokens: Record<string, string>;
}

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res?: Res) => void) => void;

type ProviderClient = Client & {
  Mount: Unary<MountRequest, MountResponse>;
  Version: Unary<{ version: string }, VersionResponse>;
};

export class DriverClient {
  readonly #client: ProviderClient;

  constructor(readonly socket: string) {
    const Ctor = makeClientConstructor(providerService(), "CSIDriverProvider");
    this.#client = new Ctor(`unix://${socket}`, credentials.createInsecure(), {
      "grpc.default_authority": "localhost",
      "grpc.max_receive_message_length": 4 * 1024 * 1024,
    }) as unknown as ProviderClient;
  }

  static attributes(parameters: Record<string, string>, pod: PodRef): string {
    const tokens = Object.fromEntries(
      Object.entries(pod.tokens).map(([aud, token]) => [
        aud,
        { token, expirationTimestamp: new Date(Date.now() + 600_000).toISOString() },
      ]),
    );
    return JSON.stringify({
      ...parameters,
      secretProviderClass: "spc",
      "csi.storage.k8s.io/pod.name": pod.name,
      "csi.storage.k8s.io/pod.namespace": pod.namespace,
      "csi.storage.k8s.io/pod.uid": pod.uid,
      "csi.storage.k8s.io/serviceAccount.name": pod.serviceAccountName,
      "csi.storage.k8s.io/ephemeral": "true",
      "csi.storage.k8s.io/serviceAccount.tokens": JSON.stringify(tokens),
    });
  }

  version(): Promise<VersionResponse> {
    return new Promise((resolve, reject) => {
      this.#client.Version({ version: "v1alpha1" }, (err, res) => {
        if (err) reject(err);
        else resolve(res!);
      });
    });
  }

  /** Mount as the driver calls it; rejects with the gRPC error (code, details). */
  mountRaw(req: MountRequest): Promise<MountResponse> {
    return new Promise((resolve, reject) => {
      this.#client.Mount(req, (err, res) => {
        if (err) reject(err);
        else resolve(res!);
      });
    });
  }

  mount(parameters: Record<string, string>, pod: PodRef): Promise<MountResponse> {
    return this.mountRaw({
      attributes: DriverClient.attributes(parameters, pod),
      secrets: "null",
      targetPath: `/var/lib/kubelet/pods/${pod.uid}/volumes/kubernetes.io~csi/secrets/mount`,
      permission: "420",
      currentObjectVersion: [],
    });
  }

  close(): void {
    this.#client.close();
  }
}

/** The files of a reply as path -> {mode, text}. */
export function filesOf(res: MountResponse): Record<string, { mode: number; text: string }> {
  return Object.fromEntries(
    res.files.map((f) => [f.path, { mode: f.mode, text: Buffer.from(f.contents).toString("utf8") }]),
  );
}

export function versionsOf(res: MountResponse): Record<string, string> {
  return Object.fromEntries(res.objectVersion.map((v) => [v.id, v.version]));
}
