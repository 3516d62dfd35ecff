import { test } from "node:test";
import assert from "node:assert/strict";
import { syncedResourceVersion } from "../../../src/util/eso-hash.ts";

// expected values computed independently (Python's hashlib.sha3_224 over Go's %+v text)
test("syncedResourceVersion is ESO's GetResourceVersion: <generation>-SHA3-224 of %+v {annotations, labels}", () => {
  assert.equal(
    syncedResourceVersion({
      generation: 3,
      labels: { app: "web" },
      annotations: { z: "q", "force-sync": "1" },
    }),
    "3-157fcde5b06c9a2c38a9c9ef0d22184681dc362b0b06ccc65cf30a79",
  );
  assert.equal(
    syncedResourceVersion({ generation: 1 }),
    "1-f47fe3c0b255b6dd8047cdffa772587bb829efe7a1cb70febeda2eb2",
  );
});
