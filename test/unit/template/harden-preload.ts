/**
 * Preload for running tests with frozen intrinsics, as the operator runs after start:
 *   node --import tsx --import ./test/unit/template/harden-preload.ts --test "test/unit/**\/*.test.ts"
 */
import { hardenIntrinsics } from "../../../src/util/harden.ts";

hardenIntrinsics();
