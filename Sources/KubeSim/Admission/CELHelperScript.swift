/// The Python program KubeSim runs as its CEL helper (`CELEvaluator`): cel-python (`celpy`, the interpreter
/// deploy/tests already uses) evaluates one ValidatingAdmissionPolicy per JSON line on stdin and answers one JSON
/// line on stdout. It follows the API server's validator
/// (`staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating/validator.go`): matchConditions
/// (false: the policy does not apply), variables in order (an error is kept and surfaces where it is used),
/// validations (the first false one denies with its message, its messageExpression's string, or
/// `failed expression: ...`), evaluation errors per failurePolicy (`expression '...' resulted in error: ...`).
enum CELHelperScript {
    static let source = #"""
# KubeSim's CEL helper: evaluates one ValidatingAdmissionPolicy per request line (JSON) on stdin and
# answers one JSON line on stdout. Compiled programs are cached by expression text.
import json
import sys

import celpy
from celpy import celtypes
from celpy.evaluation import CELEvalError

ENV = celpy.Environment()
PROGRAMS = {}


class Failure(Exception):
    pass


def run(expression, activation):
    program = PROGRAMS.get(expression)
    if program is None:
        try:
            program = ENV.program(ENV.compile(expression))
        except Exception as error:  # a compile error is a failure of the policy, as in the API server
            raise Failure("compilation failed: %s" % error)
        PROGRAMS[expression] = program
    try:
        result = program.evaluate(activation)
    except Exception as error:
        raise Failure(str(error))
    if isinstance(result, CELEvalError):
        raise Failure(str(result.args[0] if result.args else result))
    return result


def cel(value):
    return celpy.json_to_cel(value)


def evaluate(message):
    policy = message["policy"]
    failure_policy = policy.get("failurePolicy") or "Fail"
    activation = {"request": cel(message["request"]), "object": cel(message.get("object")),
                  "oldObject": cel(message.get("oldObject")), "params": cel(message.get("params")),
                  "namespaceObject": cel(message.get("namespaceObject"))}

    def failed(text):
        if failure_policy == "Ignore":
            return {"result": "allow"}
        return {"result": "deny", "message": text, "reason": ""}

    for condition in policy.get("matchConditions") or []:
        try:
            matched = run(condition["expression"], activation)
        except Failure as error:
            return failed("expression '%s' resulted in error: %s" % (condition["expression"].strip(), error))
        if not (isinstance(matched, (bool, celtypes.BoolType)) and bool(matched)):
            return {"result": "allow", "note": "not matched: " + condition.get("name", "")}
    variables = {}
    for variable in policy.get("variables") or []:
        activation["variables"] = celtypes.MapType(variables)
        try:
            value = run(variable["expression"], activation)
        except Failure as error:
            value = CELEvalError(str(error))
        variables[celtypes.StringType(variable["name"])] = value
    activation["variables"] = celtypes.MapType(variables)
    for validation in policy.get("validations") or []:
        expression = validation["expression"]
        try:
            result = run(expression, activation)
        except Failure as error:
            return failed("expression '%s' resulted in error: %s" % (expression.strip(), error))
        if not isinstance(result, (bool, celtypes.BoolType)):
            return failed("expression '%s' resulted in error: must evaluate to bool" % expression.strip())
        if bool(result):
            continue
        text = validation.get("message") or ""
        if validation.get("messageExpression"):
            try:
                produced = run(validation["messageExpression"], activation)
                if isinstance(produced, str) and str(produced).strip() and "\n" not in str(produced):
                    text = str(produced)
            except Failure:
                pass
        if not text:
            text = "failed expression: %s" % expression.strip()
        return {"result": "deny", "message": text, "reason": validation.get("reason") or ""}
    return {"result": "allow"}


def evaluate_rules(message):
    """A CRD's x-kubernetes-validations at one place: self (and oldSelf on update); the failed rules' messages."""
    activation = {"self": cel(message.get("self"))}
    has_old = "oldSelf" in message
    if has_old:
        activation["oldSelf"] = cel(message["oldSelf"])
    failures = []
    for rule in message.get("rules") or []:
        expression = rule.get("rule") or ""
        if "oldSelf" in expression and not has_old:
            continue  # a transition rule, and no old value here
        try:
            result = run(expression, activation)
        except Failure as error:
            failures.append({"message": "%s: %s" % (expression.strip(), error), "reason": ""})
            continue
        if isinstance(result, (bool, celtypes.BoolType)) and bool(result):
            continue
        text = rule.get("message") or ""
        if rule.get("messageExpression"):
            try:
                produced = run(rule["messageExpression"], activation)
                if isinstance(produced, str) and str(produced).strip():
                    text = str(produced)
            except Failure:
                pass
        if not text:
            text = "failed rule: %s" % expression.strip()
        failures.append({"message": text, "reason": rule.get("reason") or ""})
    return {"result": "rules", "failures": failures}


def compile_all(expressions):
    """Compiles ahead of the first request (a policy was stored); errors surface when the policy is evaluated."""
    for expression in expressions:
        try:
            if expression not in PROGRAMS:
                PROGRAMS[expression] = ENV.program(ENV.compile(expression))
        except Exception:
            pass
    return {"result": "compiled"}


def main():
    for line in sys.stdin:
        try:
            message = json.loads(line)
            if "compile" in message:
                answer = compile_all(message["compile"])
            elif "rules" in message:
                answer = evaluate_rules(message)
            else:
                answer = evaluate(message)
        except Exception as error:  # never die on one bad request: the answer says what went wrong
            answer = {"result": "error", "message": "%s: %s" % (type(error).__name__, error)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


main()
"""#
}
