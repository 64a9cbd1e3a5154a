"""The holder-only admission policy, evaluated by a CEL interpreter against admission requests.

The expressions come from deploy/admission-policy.yaml itself: matchConditions decide whether the
policy applies, variables are computed in order, and every validation must hold. This mirrors how
the API server runs a ValidatingAdmissionPolicy.
"""
import copy
import pathlib

import celpy
import pytest
import yaml

POLICY = next(d for d in yaml.safe_load_all((pathlib.Path(__file__).parents[1] / "base" / "admission-policy.yaml").read_text())
              if d["kind"] == "ValidatingAdmissionPolicy")
ENV = celpy.Environment()


def run(expression, activation):
    program = ENV.program(ENV.compile(expression))
    return program.evaluate(activation)


def admit(operation, user, groups, obj, old=None):
    """Returns (allowed, message) for one admission request."""
    activation = {
        "request": celpy.json_to_cel({"operation": operation, "userInfo": {"username": user, "groups": groups}}),
        "object": celpy.json_to_cel(obj),
        "oldObject": celpy.json_to_cel(old),
    }
    for condition in POLICY["spec"].get("matchConditions", []):
        if not run(condition["expression"], activation):
            return True, "not matched: " + condition["name"]
    variables = {}
    for variable in POLICY["spec"]["variables"]:
        activation["variables"] = celpy.celtypes.MapType(variables)
        variables[celpy.celtypes.StringType(variable["name"])] = run(variable["expression"], activation)
    activation["variables"] = celpy.celtypes.MapType(variables)
    for validation in POLICY["spec"]["validations"]:
        result = run(validation["expression"], activation)
        assert isinstance(result, celpy.celtypes.BoolType), f"{validation['expression']} gave {result!r}"
        if not result:
            assert validation["reason"] == "Forbidden"
            message = validation.get("message") or str(run(validation["messageExpression"], activation))
            return False, message
    return True, ""


def queue(reservation=None, **spec):
    obj = {"apiVersion": "batchctl.dev/v1alpha1", "kind": "BatchQueue",
           "metadata": {"name": "batch1", "namespace": "court-listener"},
           "spec": {"queue": "batch1", "deployment": "celery-batch1", "maxReplicas": 20, **spec}}
    if reservation:
        obj["spec"]["reservation"] = reservation
    return obj


def claim(holder, replicas=4):
    return {"holder": holder, "reason": "rehash passwords", "claimedAt": "2026-11-21T10:00:00Z",
            "expiresAt": "2026-11-24T10:00:00Z", "replicas": replicas}


USERS = ["system:authenticated", "batchctl:users"]
ADMINS = ["system:authenticated", "batchctl:admins"]
CONTROLLER = "system:serviceaccount:court-listener:batchctl-controller"
HELD_BY_ALICE = queue(claim("alice"))


def changed(obj, **spec):
    new = copy.deepcopy(obj)
    new["spec"].update(spec)
    return new


def without_reservation(obj):
    new = copy.deepcopy(obj)
    new["spec"].pop("reservation", None)
    return new


CASES = [
    # (name, operation, user, groups, object, oldObject, allowed, message fragment)
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
    ("the controller clears an expired claim", "UPDATE", CONTROLLER, ["system:serviceaccounts"], queue(), HELD_BY_ALICE, True, ""),
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
    ("someone relabels a held queue without touching the claim", "UPDATE", "bob", USERS,
     {**HELD_BY_ALICE, "metadata": {**HELD_BY_ALICE["metadata"], "labels": {"team": "x"}}}, HELD_BY_ALICE, True, ""),
    ("another service account clears a claim", "UPDATE", "system:serviceaccount:default:ci", ["system:serviceaccounts"],
     queue(), HELD_BY_ALICE, False, "the reservation is held by alice"),
]


@pytest.mark.parametrize("name,operation,user,groups,obj,old,allowed,message", CASES, ids=[c[0] for c in CASES])
def test_admission(name, operation, user, groups, obj, old, allowed, message):
    ok, why = admit(operation, user, groups, obj, old)
    assert ok == allowed, why
    assert message in why


def test_there_are_at_least_twelve_requests_with_both_outcomes():
    assert len(CASES) >= 12
    assert {c[6] for c in CASES} == {True, False}
