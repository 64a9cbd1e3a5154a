"""The BatchQueue admission policy, evaluated by a CEL interpreter against admission requests.

Everything comes from the rendered manifests (`kubectl kustomize deploy` and the overlay): the
ValidatingAdmissionPolicy, its binding, and the param, the BatchQueuePolicy `default`, with its CRD's schema
defaults applied as the API server applies them when it reads the object. matchConditions decide whether the
policy applies, variables are computed in order, and every validation must hold: as the API server runs a
ValidatingAdmissionPolicy.
"""
import copy
import pathlib
import subprocess
import sys

import celpy
import pytest
import yaml

ROOT = pathlib.Path(__file__).parents[2]
KUBECTL = next((str(p) for p in [pathlib.Path(sys.executable).parent / "kubectl"] if p.exists()), "kubectl")
RENDERS = {name: list(yaml.safe_load_all(subprocess.run([KUBECTL, "kustomize", str(ROOT / path)], check=True,
                                                         capture_output=True, text=True).stdout))
           for name, path in [("base", "deploy"), ("overlay", "deploy/overlays/batch-jobs")]}
DOCS = RENDERS["base"]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


NAME = "batchctl-batchqueue-rules"
POLICY = one(DOCS, "ValidatingAdmissionPolicy", NAME)
BINDING = one(DOCS, "ValidatingAdmissionPolicyBinding", NAME)
# The CRDs are their own kustomization (deploy/crds), applied before the base.
CRDS = list(yaml.safe_load_all(subprocess.run([KUBECTL, "kustomize", str(ROOT / "deploy/crds")], check=True,
                                              capture_output=True, text=True).stdout))
PARAM_CRD = one(CRDS, "CustomResourceDefinition", "batchqueuepolicies.batchctl.dev")
ENV = celpy.Environment()


def with_defaults(value, schema):
    """Applies the structural schema's `default`s, as the API server does when it reads an object."""
    if schema.get("type") == "object" and isinstance(value, dict):
        out = dict(value)
        for key, sub in schema.get("properties", {}).items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = with_defaults(out[key], sub)
        return out
    if schema.get("type") == "array" and isinstance(value, list) and "items" in schema:
        return [with_defaults(v, schema["items"]) for v in value]
    return value


def param(docs=DOCS, **spec):
    """The namespace's BatchQueuePolicy `default` as the API server serves it, with `spec` changes."""
    obj = copy.deepcopy(one(docs, "BatchQueuePolicy", "default"))
    obj["spec"].update(spec)
    return with_defaults(obj, PARAM_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


PARAMS = param()


def run(expression, activation):
    return ENV.program(ENV.compile(expression)).evaluate(activation)


def admit(operation, user, groups, obj, old=None, params=None, namespace="court-listener", policy=POLICY):
    """Returns (allowed, message) for one admission request."""
    activation = {
        "request": celpy.json_to_cel({"operation": operation, "namespace": namespace,
                                      "userInfo": {"username": user, "groups": groups}}),
        "object": celpy.json_to_cel(obj),
        "oldObject": celpy.json_to_cel(old),
        "params": celpy.json_to_cel(params if params is not None else PARAMS),
    }
    for condition in policy["spec"].get("matchConditions", []):
        if not run(condition["expression"], activation):
            return True, "not matched: " + condition["name"]
    variables = {}
    for variable in policy["spec"]["variables"]:
        activation["variables"] = celpy.celtypes.MapType(variables)
        variables[celpy.celtypes.StringType(variable["name"])] = run(variable["expression"], activation)
    activation["variables"] = celpy.celtypes.MapType(variables)
    for validation in policy["spec"]["validations"]:
        result = run(validation["expression"], activation)
        assert isinstance(result, celpy.celtypes.BoolType), f"{validation['expression']} gave {result!r}"
        if not result:
            assert validation["reason"] in ("Forbidden", "Invalid")
            return False, validation.get("message") or str(run(validation["messageExpression"], activation))
    return True, ""


def queue(reservation=None, metadata=None, **spec):
    obj = {"apiVersion": "batchctl.dev/v1alpha1", "kind": "BatchQueue",
           "metadata": {"name": "batch1", "namespace": "court-listener",
                        "labels": {"app.kubernetes.io/part-of": "batchctl"}, **(metadata or {})},
           "spec": {"queue": "batch1", "deployment": "celery-batch1", "maxReplicas": 20, **spec}}
    if reservation:
        obj["spec"]["reservation"] = reservation
    return obj


def claim(holder, replicas=4, claimed="2026-11-21T10:00:00Z", expires="2026-11-24T10:00:00Z", **more):
    return {"holder": holder, "reason": "rehash passwords", "claimedAt": claimed, "expiresAt": expires,
            "replicas": replicas, **more}


USERS = ["system:authenticated", "batchctl:users"]
ADMINS = ["system:authenticated", "batchctl:admins"]
CONTROLLER = "system:serviceaccount:court-listener:batchctl-controller"
SA_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:court-listener"]
HELD_BY_ALICE = queue(claim("alice"))


def changed(obj, **spec):
    new = copy.deepcopy(obj)
    new["spec"].update(spec)
    return new


def meta(obj, **metadata):
    new = copy.deepcopy(obj)
    new["metadata"].update(metadata)
    return new


CASES = [
    # (name, operation, user, groups, object, oldObject, allowed, message fragment)
    # who may change a claim
    ("claim a free queue in your own name", "UPDATE", "alice", USERS, HELD_BY_ALICE, queue(), True, ""),
    ("claim a free queue in someone else's name", "UPDATE", "alice", USERS, queue(claim("bob")), queue(), False,
     "spec.reservation.holder must be your own user name, alice"),
    ("change the replicas of your own claim", "UPDATE", "alice", USERS, queue(claim("alice", 8)), HELD_BY_ALICE, True, ""),
    ("release your own claim", "UPDATE", "alice", USERS, queue(), HELD_BY_ALICE, True, ""),
    ("change someone else's claim", "UPDATE", "bob", USERS, queue(claim("alice", 8)), HELD_BY_ALICE, False,
     "the reservation is held by alice; only the holder or an admin (group batchctl:admins) may change or clear it"),
    ("release someone else's claim", "UPDATE", "bob", USERS, queue(), HELD_BY_ALICE, False, "the reservation is held by alice"),
    ("take over someone else's claim", "UPDATE", "bob", USERS, queue(claim("bob")), HELD_BY_ALICE, False, "the reservation is held by alice"),
    ("an admin releases anyone's claim (--force)", "UPDATE", "carol", ADMINS, queue(), HELD_BY_ALICE, True, ""),
    ("another service account clears a claim", "UPDATE", "system:serviceaccount:default:ci", ["system:serviceaccounts"],
     queue(), HELD_BY_ALICE, False, "the reservation is held by alice"),
    ("another namespace's controller clears a claim", "UPDATE", "system:serviceaccount:batch-jobs:batchctl-controller", SA_GROUPS,
     queue(), HELD_BY_ALICE, False, "the reservation is held by alice"),
    # admin-only fields
    ("a user raises maxReplicas", "UPDATE", "alice", USERS, changed(HELD_BY_ALICE, maxReplicas=40), HELD_BY_ALICE, False,
     "only admins (group batchctl:admins) create BatchQueues or change maxReplicas, paused, queue or deployment"),
    ("a user pauses a queue", "UPDATE", "alice", USERS, changed(HELD_BY_ALICE, paused=True), HELD_BY_ALICE, False, "only admins"),
    ("a user points the queue at another Deployment", "UPDATE", "alice", USERS, changed(HELD_BY_ALICE, deployment="web"), HELD_BY_ALICE,
     False, "only admins"),
    ("an admin raises maxReplicas", "UPDATE", "carol", ADMINS, changed(HELD_BY_ALICE, maxReplicas=40), HELD_BY_ALICE, True, ""),
    ("an admin pauses a held queue", "UPDATE", "carol", ADMINS, changed(HELD_BY_ALICE, paused=True), HELD_BY_ALICE, True, ""),
    ("a user creates a BatchQueue", "CREATE", "alice", USERS, queue(), None, False, "only admins"),
    ("a user creates a BatchQueue with a claim", "CREATE", "alice", USERS, HELD_BY_ALICE, None, False, "only admins"),
    ("an admin creates a BatchQueue", "CREATE", "carol", ADMINS, queue(), None, True, ""),
    # metadata batchctl relies on
    ("someone adds an unrelated label without touching the claim", "UPDATE", "bob", USERS,
     meta(HELD_BY_ALICE, labels={"app.kubernetes.io/part-of": "batchctl", "team": "x"}), HELD_BY_ALICE, True, ""),
    ("a user adds an ownerReference (the garbage collector would delete the queue)", "UPDATE", "bob", USERS,
     meta(HELD_BY_ALICE, ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "0000"}]),
     HELD_BY_ALICE, False, "only admins (group batchctl:admins) change a BatchQueue's ownerReferences, finalizers"),
    ("the holder adds a finalizer", "UPDATE", "alice", USERS, meta(HELD_BY_ALICE, finalizers=["example.com/keep"]), HELD_BY_ALICE,
     False, "ownerReferences, finalizers"),
    ("a user removes the part-of label", "UPDATE", "bob", USERS, meta(HELD_BY_ALICE, labels={}), HELD_BY_ALICE, False,
     "the labels batchctl relies on"),
    ("a user sets a batchctl.dev/ label", "UPDATE", "bob", USERS,
     meta(HELD_BY_ALICE, labels={"app.kubernetes.io/part-of": "batchctl", "batchctl.dev/tier": "gold"}), HELD_BY_ALICE, False,
     "the labels batchctl relies on"),
    ("an admin adds a finalizer", "UPDATE", "carol", ADMINS, meta(HELD_BY_ALICE, finalizers=["example.com/keep"]), HELD_BY_ALICE, True, ""),
    # the policy's rules (maxDuration 336h = 2w in the rendered default)
    ("a claim for exactly maxDuration", "UPDATE", "alice", USERS, queue(claim("alice", expires="2026-12-05T10:00:00Z")), queue(),
     True, ""),
    ("a claim until 2036", "UPDATE", "alice", USERS, queue(claim("alice", expires="2036-01-01T00:00:00Z")), queue(), False,
     "longer than the longest reservation, 336h (BatchQueuePolicy court-listener/default, spec.reservations.maxDuration)"),
    ("the holder moves their expiry past claimedAt + maxDuration", "UPDATE", "alice", USERS,
     queue(claim("alice", expires="2026-12-05T10:00:01Z")), HELD_BY_ALICE, False, "longer than the longest reservation"),
    ("an admin is held to maxDuration too", "UPDATE", "carol", ADMINS, queue(claim("alice", expires="2036-01-01T00:00:00Z")),
     HELD_BY_ALICE, False, "longer than the longest reservation"),
    ("the holder backdates claimedAt", "UPDATE", "alice", USERS, queue(claim("alice", claimed="2026-11-20T10:00:00Z")),
     HELD_BY_ALICE, False, "spec.reservation.claimedAt changes only with a new holder"),
    ("the holder moves claimedAt later", "UPDATE", "alice", USERS, queue(claim("alice", claimed="2026-11-22T10:00:00Z")),
     HELD_BY_ALICE, False, "claimedAt changes only with a new holder"),
    ("an admin hands the claim to bob with a new claimedAt", "UPDATE", "carol", ADMINS,
     queue(claim("bob", claimed="2026-11-22T10:00:00Z")), HELD_BY_ALICE, True, ""),
    ("replicas above maxReplicas", "UPDATE", "alice", USERS, queue(claim("alice", 21, approvedBand="big")), HELD_BY_ALICE, False,
     "spec.reservation.replicas 21 is above the queue's cap, 20"),
    ("replicas at maxReplicas, approved", "UPDATE", "alice", USERS, queue(claim("alice", 20, approvedBand="big")), HELD_BY_ALICE,
     True, ""),
    ("a big claim without approval", "UPDATE", "alice", USERS, queue(claim("alice", 12)), HELD_BY_ALICE, False,
     "spec.reservation.replicas 12 is in a band that requires approval"),
    ("a big claim approving only a smaller band", "UPDATE", "alice", USERS, queue(claim("alice", 12, approvedBand="medium")),
     HELD_BY_ALICE, False, "requires approval"),
    ("a medium claim needs no approval", "UPDATE", "alice", USERS, queue(claim("alice", 10)), HELD_BY_ALICE, True, ""),
    ("above the largest band with the admin's maxReplicas, approving the largest band", "UPDATE", "alice", USERS,
     queue(claim("alice", 30, approvedBand="big"), maxReplicas=40), queue(claim("alice"), maxReplicas=40), True, ""),
    ("an unchanged over-long claim does not block an admin's other change", "UPDATE", "carol", ADMINS,
     changed(queue(claim("alice", expires="2036-01-01T00:00:00Z")), paused=True), queue(claim("alice", expires="2036-01-01T00:00:00Z")),
     True, ""),
    # release when done: a claim field like the others (its holder sets it; nobody else, not the controller, changes it)
    ("the holder asks for release when done", "UPDATE", "alice", USERS, queue(claim("alice", releaseWhenDone=True)), HELD_BY_ALICE,
     True, ""),
    ("someone else sets release when done on alice's claim", "UPDATE", "bob", USERS, queue(claim("alice", releaseWhenDone=True)),
     HELD_BY_ALICE, False, "the reservation is held by alice"),
    ("the controller turns release when done off while shortening", "UPDATE", CONTROLLER, SA_GROUPS,
     queue(claim("alice", expires="2026-11-23T10:00:00Z")), queue(claim("alice", releaseWhenDone=True)), False,
     "the controller may only clear a reservation or shorten it"),
    ("the controller clears a claim whose work is done", "UPDATE", CONTROLLER, SA_GROUPS, queue(),
     queue(claim("alice", releaseWhenDone=True)), True, ""),
    # the controller: clearing or shortening, nothing else
    ("the controller clears an expired claim", "UPDATE", CONTROLLER, SA_GROUPS, queue(), HELD_BY_ALICE, True, ""),
    ("the controller clamps expiresAt to claimedAt + maxDuration", "UPDATE", CONTROLLER, SA_GROUPS,
     queue(claim("alice", expires="2026-12-05T10:00:00Z")), queue(claim("alice", expires="2027-11-21T10:00:00Z")), True, ""),
    ("the controller clamps a future claimedAt to now", "UPDATE", CONTROLLER, SA_GROUPS,
     queue(claim("alice", claimed="2026-11-21T10:00:00Z")), queue(claim("alice", claimed="2026-11-23T10:00:00Z")), True, ""),
    ("the controller clamps replicas to the cap", "UPDATE", CONTROLLER, SA_GROUPS,
     queue(claim("alice", 20, approvedBand="big")), queue(claim("alice", 25, approvedBand="big")), True, ""),
    ("the controller extends a claim", "UPDATE", CONTROLLER, SA_GROUPS, queue(claim("alice", expires="2026-11-25T10:00:00Z")),
     HELD_BY_ALICE, False, "the controller may only clear a reservation or shorten it"),
    ("the controller raises replicas", "UPDATE", CONTROLLER, SA_GROUPS, queue(claim("alice", 8)), HELD_BY_ALICE, False,
     "the controller may only clear a reservation or shorten it"),
    ("the controller hands the claim to someone else", "UPDATE", CONTROLLER, SA_GROUPS, queue(claim("mallory")), HELD_BY_ALICE,
     False, "the controller may only clear"),
    ("the controller claims a free queue", "UPDATE", CONTROLLER, SA_GROUPS, queue(claim(CONTROLLER)), queue(), False,
     "the controller may only clear"),
    ("the controller raises maxReplicas", "UPDATE", CONTROLLER, SA_GROUPS, changed(HELD_BY_ALICE, maxReplicas=40), HELD_BY_ALICE,
     False, "the controller may only clear"),
    ("the controller pauses a queue", "UPDATE", CONTROLLER, SA_GROUPS, changed(HELD_BY_ALICE, paused=True), HELD_BY_ALICE,
     False, "the controller may only clear"),
    ("the controller adds an ownerReference", "UPDATE", CONTROLLER, SA_GROUPS,
     meta(HELD_BY_ALICE, ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"}]), HELD_BY_ALICE,
     False, "the controller may only clear"),
    ("the controller creates a BatchQueue", "CREATE", CONTROLLER, SA_GROUPS, queue(), None, False, "the controller may only clear"),
]


@pytest.mark.parametrize("name,operation,user,groups,obj,old,allowed,message", CASES, ids=[c[0] for c in CASES])
def test_admission(name, operation, user, groups, obj, old, allowed, message):
    ok, why = admit(operation, user, groups, obj, old)
    assert ok == allowed, why
    assert message in why


def test_every_validation_refuses_at_least_one_case_and_every_case_outcome_is_covered():
    refused = {admit(*c[1:6])[1] for c in CASES if not c[6]}
    for validation in POLICY["spec"]["validations"]:
        text = validation.get("message") or validation["messageExpression"]
        fragment = text.replace("'", " ").split(" + ")[0].strip().split("  ")[0][:30].strip()
        assert any(fragment.split()[0] in r for r in refused), f"no case is refused by: {text[:80]}"
    assert {c[6] for c in CASES} == {True, False}


def test_a_changed_policy_changes_the_verdict():
    """An admin sets maxDuration to 2h in the BatchQueuePolicy: a 3h claim is refused naming 2h, a 2h one allowed."""
    two_hours = param(reservations={"defaultDuration": "1h", "maxDuration": "2h"})
    three = queue(claim("alice", claimed="2026-11-21T10:00:00Z", expires="2026-11-21T13:00:00Z"))
    two = queue(claim("alice", claimed="2026-11-21T10:00:00Z", expires="2026-11-21T12:00:00Z"))
    ok, why = admit("UPDATE", "alice", USERS, three, queue(), params=two_hours)
    assert not ok and "longer than the longest reservation, 2h" in why
    assert admit("UPDATE", "alice", USERS, two, queue(), params=two_hours) == (True, "")
    # Bands come from the param too: with no approval anywhere, 15 replicas need none.
    open_bands = param(bands=[{"name": "any", "max": 20}])
    assert admit("UPDATE", "alice", USERS, queue(claim("alice", 15)), queue(), params=open_bands) == (True, "")


@pytest.mark.parametrize("render", RENDERS)
def test_one_policy_and_binding_serve_every_namespace(render):
    """Cluster-scoped, named the same in every install, with params from the request's namespace: a second
    install (the overlay) applies identical objects and clobbers nothing."""
    docs = RENDERS[render]
    policy, binding = one(docs, "ValidatingAdmissionPolicy", NAME), one(docs, "ValidatingAdmissionPolicyBinding", NAME)
    assert policy == POLICY and binding == BINDING
    assert "namespace" not in policy["metadata"] and "namespace" not in binding["metadata"]
    assert policy["spec"]["paramKind"] == {"apiVersion": "batchctl.dev/v1alpha1", "kind": "BatchQueuePolicy"}
    assert binding["spec"]["paramRef"] == {"name": "default", "parameterNotFoundAction": "Deny"}
    assert "matchResources" not in binding["spec"]
    assert one(docs, "BatchQueuePolicy", "default")["metadata"]["namespace"] == ("court-listener" if render == "base" else "batch-jobs")


def test_the_overlay_namespace_has_its_own_controller_exemption():
    """The controller is recognised by the request's namespace, so the overlay needs no patch of the policy."""
    held = meta(HELD_BY_ALICE, namespace="batch-jobs")
    ok, _ = admit("UPDATE", "system:serviceaccount:batch-jobs:batchctl-controller", SA_GROUPS, meta(queue(), namespace="batch-jobs"),
                  held, params=param(RENDERS["overlay"]), namespace="batch-jobs")
    assert ok
    ok, why = admit("UPDATE", CONTROLLER, SA_GROUPS, meta(queue(), namespace="batch-jobs"), held,
                    params=param(RENDERS["overlay"]), namespace="batch-jobs")
    assert not ok and "held by alice" in why


def test_the_param_with_its_schema_defaults_equals_the_embedded_defaults():
    """The values the API server serves for the shipped `default` (schema defaults filled in); the Swift side
    checks QueuePolicy.defaults against the same CRD (QueuePolicyTests)."""
    spec = PARAMS["spec"]
    assert spec["reservations"] == {"defaultDuration": "24h", "maxDuration": "336h"}
    assert [(b["name"], b["max"], b["requiresApproval"]) for b in spec["bands"]] == [
        ("small", 5, False), ("medium", 10, False), ("big", 20, True)]
    assert spec["totalReplicaBudget"] == 40 and spec["idleAfter"] == "15m" and spec["busyWorkerGrace"] == "1h"
    assert spec["rampUp"] == {"step": 2, "every": "30s", "stepBackAfter": "2m"}
    assert spec["guards"] == []
    assert spec["claimOrder"] == ["batch0", "batch1", "batch2", "batch3"]
