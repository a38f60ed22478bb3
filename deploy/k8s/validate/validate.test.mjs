// Renders every overlay of deploy/k8s with `kubectl kustomize` and validates every object it holds against the
// schema of its kind (kubernetes-models: the Kubernetes OpenAPI schemas; @kubernetes-models/keda: KEDA's CRDs),
// offline. Run: npm ci && npm test (in this folder); .ci/run does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const overlays = readdirSync(join(root, "overlays"), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

// Where the model of each API group lives.
function modulePath(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "") return `kubernetes-models/${version}`;
  if (group === "keda.sh") return `@kubernetes-models/keda/keda.sh/${version}`;
  return `kubernetes-models/${group}/${version}`;
}

function render(overlay) {
  return execFileSync("kubectl", ["kustomize", join(root, "overlays", overlay)], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

test("there are overlays to check", () => {
  assert.deepEqual(overlays, ["dev", "gpu", "hpa", "production"]);
});

for (const overlay of overlays) {
  test(`overlay ${overlay}: renders and every object validates against its schema`, async () => {
    const documents = parseAllDocuments(render(overlay));
    assert.ok(documents.length > 0, "rendered nothing");
    const kinds = new Map();
    for (const document of documents) {
      assert.equal(document.errors.length, 0, `${overlay}: YAML error ${document.errors[0]?.message}`);
      const object = document.toJS();
      // kustomize folds long base64 values over lines; the API server's decoder (Go's encoding/base64) skips line breaks.
      if (object.kind === "Secret" && object.data) {
        for (const key of Object.keys(object.data)) object.data[key] = object.data[key].replace(/\s+/g, "");
      }
      const name = `${overlay}: ${object.apiVersion} ${object.kind} ${object.metadata?.name}`;
      let module;
      try {
        module = await import(modulePath(object.apiVersion));
      } catch (e) {
        assert.fail(`${name}: no schema for API version ${object.apiVersion} (${e.message})`);
      }
      const Model = module[object.kind];
      assert.ok(Model, `${name}: no schema for kind ${object.kind}`);
      assert.doesNotThrow(() => new Model(object).validate(), (e) => { assert.fail(`${name}: ${e.message}`); });
      if (object.kind !== "Namespace") assert.equal(object.metadata.namespace, "poscuda", `${name}: not in the poscuda namespace`);
      kinds.set(object.kind, (kinds.get(object.kind) ?? 0) + 1);
    }
    // Every overlay deploys the cluster and exactly one way of scaling it.
    for (const kind of ["Namespace", "ServiceAccount", "Role", "RoleBinding", "Service", "NetworkPolicy", "PodDisruptionBudget", "Deployment", "ConfigMap"]) {
      assert.ok(kinds.get(kind) > 0, `${overlay}: no ${kind}`);
    }
    assert.equal((kinds.get("ScaledObject") ?? 0) + (kinds.get("HorizontalPodAutoscaler") ?? 0), 1, `${overlay}: not exactly one scaler`);
  });
}

test("a malformed object fails validation (the check can fail)", async () => {
  const { Deployment } = await import("kubernetes-models/apps/v1");
  const { ScaledObject } = await import("@kubernetes-models/keda/keda.sh/v1alpha1");
  const bad = new Deployment({ metadata: { name: "x" }, spec: { selector: {}, template: { spec: { containers: [{ name: "c", imagePullPolicy: "Sometimes" }] } } } });
  assert.throws(() => bad.validate());
  const badScaler = new ScaledObject({ metadata: { name: "x" }, spec: { scaleTargetRef: { name: "w" }, triggers: [], minReplicaCount: "one" } });
  assert.throws(() => badScaler.validate());
});
