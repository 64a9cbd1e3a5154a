#!/bin/bash
# Captures batchctl doctor's README sample: KubeSim (no --rbac: the caller is the cluster admin), redis allkeys-lru,
# celery@laptop on batch0, a pod-named worker on batch1 running a 10 s task, celery-batch1 consuming batch9 (grace 3 s).
# Run from anywhere after `swift build`; prints both samples (README, then RUNBOOK). Uses 127.0.0.1:16399 for Redis.
set -u
M=$(cd "$(dirname "$0")/.." && pwd); T=$(mktemp -d); D=$T/sim; mkdir -p $D
cd $M
.build/debug/kubesim serve --dir $D --cel-python $M/.venv-tools/bin/python > $T/kubesim.log 2>&1 & SIM=$!
redis-server --port 16399 --bind 127.0.0.1 --maxmemory-policy allkeys-lru --save '' --appendonly no > $T/redis.log 2>&1 & RP=$!
for i in $(seq 50); do [ -f $D/kubeconfig ] && redis-cli -p 16399 ping >/dev/null 2>&1 && break; sleep 0.2; done
export KUBECONFIG=$D/kubeconfig
kubectl apply --validate=false -k deploy/crds && sleep 1
for i in $(seq 20); do kubectl apply --validate=false -n court-listener -f deploy/base/batchqueues.yaml >/dev/null 2>&1 && break; sleep 0.5; done
cat <<'Y' | kubectl apply --validate=false -n court-listener -f -
apiVersion: apps/v1
kind: Deployment
metadata:
  name: celery-batch1
spec:
  replicas: 0
  selector:
    matchLabels: {app: celery-batch1}
  template:
    metadata:
      labels: {app: celery-batch1}
    spec:
      terminationGracePeriodSeconds: 3
      containers:
      - name: worker
        image: court-listener:latest
        command: ["celery", "-A", "cl", "worker", "-Q", "batch9", "--hostname", "celery@$(POD_NAME)"]
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
---
# The pod the second worker below is named after, as celery-batch1's ReplicaSet would make it (no kubelet here).
apiVersion: v1
kind: Pod
metadata:
  name: celery-batch1-6f7c9d8b5-dr001
  labels: {app: celery-batch1}
spec:
  containers:
  - name: worker
    image: court-listener:latest
Y
export BROKER_URL=redis://127.0.0.1:16399/0 CELERY_TRANSPORT_OPTIONS='{}' CELERY_ACKS_LATE=0 CELERY_QUEUES=batch0,batch1 PYTHONPATH=$M/Tests/Fixtures/celery PYTHONDONTWRITEBYTECODE=1 C_FORCE_ROOT=1
cd $M/Tests/Fixtures/celery
$M/.venv/bin/celery -A app worker -Q batch0 --hostname celery@laptop -P prefork -c 1 --heartbeat-interval 1 --without-gossip --without-mingle -l info > $T/w1.log 2>&1 & W1=$!
$M/.venv/bin/celery -A app worker -Q batch1 --hostname celery@celery-batch1-6f7c9d8b5-dr001 -P prefork -c 1 --heartbeat-interval 1 --without-gossip --without-mingle -l info > $T/w2.log 2>&1 & W2=$!
cd $M
for i in $(seq 60); do grep -q "ready" $T/w1.log && grep -q "ready" $T/w2.log && break; sleep 1; done
sleep 2
$M/.venv/bin/python Tests/Fixtures/celery/produce.py '[{"queue": "batch1", "count": 1, "task": "fixture.sleep", "args": [10]}]'
ln -sf $M/.build/debug/batchctl $T/kubectl-batchctl
export PATH=$T:$PATH BATCHCTL_CONFIG= NO_COLOR= COLUMNS=200
echo '$ kubectl batchctl doctor batch1 --redis-url redis://127.0.0.1:16399/0 --listen 8s' > $T/out.txt
kubectl batchctl doctor batch1 --redis-url redis://127.0.0.1:16399/0 --listen 8s >> $T/out.txt 2>$T/err.txt; rc=$?; cat $T/err.txt >> $T/out.txt; echo "\$ echo \$?" >> $T/out.txt; echo $rc >> $T/out.txt
# The fixed setup (RUNBOOK): noeviction, -Q batch1, grace 3600.
redis-cli -p 16399 CONFIG SET maxmemory-policy noeviction >/dev/null
kubectl -n court-listener patch deployment celery-batch1 --type json -p '[{"op":"replace","path":"/spec/template/spec/containers/0/command/5","value":"batch1"},{"op":"replace","path":"/spec/template/spec/terminationGracePeriodSeconds","value":3600}]'
echo '$ batchctl -n court-listener doctor batch1 --redis-url redis://127.0.0.1:16399/0 --listen 3s' > $T/out2.txt
batchctl() { $M/.build/debug/batchctl "$@"; }
batchctl -n court-listener doctor batch1 --redis-url redis://127.0.0.1:16399/0 --listen 3s >> $T/out2.txt 2>&1; rc=$?; echo "\$ echo \$?" >> $T/out2.txt; echo $rc >> $T/out2.txt
kill $W1 $W2; wait $W1 $W2; kill $SIM $RP; wait
cat $T/out.txt; echo; cat $T/out2.txt; rm -rf $T
