// Validate custom resources (KEDA ScaledObject/TriggerAuthentication, Prometheus Operator
// ServiceMonitor) against the schemas generated from their CRDs by @kubernetes-models.
// Usage: node validate.mjs FILE.yaml...  Prints one JSON line per document; exits 1 on any error.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

let failed = false;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    const data = doc.toJSON();
    if (!data) continue;
    const kind = `${data.apiVersion}/${data.kind}`;
    const Model = MODELS[kind];
    const result = { file, kind, name: data.metadata?.name };
    if (!Model) {
      result.status = "skipped";  // core kinds: validated by kubernetes-validate
    } else {
      try {
        new Model(data).validate();
        result.status = "valid";
      } catch (err) {
        result.status = "invalid";
        result.error = err.message;
        failed = true;
      }
    }
    console.log(JSON.stringify(result));
  }
}
process.exit(failed ? 1 : 0);
