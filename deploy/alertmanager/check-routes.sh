#!/usr/bin/env bash
# Where each kind of alert goes, checked offline against alertmanager.yml:
# `amtool config routes test` prints the receivers an alert with these labels
# reaches and fails when they are not the ones named in --verify.receivers.
set -euo pipefail
config="$(dirname "$0")/alertmanager.yml"

route() {
  local expected=$1
  shift
  amtool config routes test --config.file="$config" --verify.receivers="$expected" "$@"
}

route critical severity=critical alertname=LedgerReconciliationDrift
route critical severity=critical alertname=WorkerDown job=worker
route warnings severity=warning alertname=HighRequestLatency
# No severity label: still notified (as a warning), never dropped.
route warnings alertname=SomethingWithoutSeverity
