#!/usr/bin/env bash
# needs: aws-sam-cli cfn-lint
# (pip packages in the project venv .venv; `sam build` additionally needs
#  cargo-lambda, which brings zig, but this script does not build.)
#
# Lints the deployment template offline: `sam validate --lint` (SAM transform
# + cfn-lint on the result) and `cfn-lint template.yaml` in the regions we
# document. No AWS credentials or network are needed. Exits non-zero on any
# error or warning. The structural facts (routes, IAM scoping, retain
# policies) are asserted by tests/it/template.rs, run by cargo test.
set -euo pipefail

cd "$(dirname "$0")/.."
venv_bin="${VENV_BIN:-$PWD/.venv/bin}"
for tool in sam cfn-lint; do
    if [[ ! -x "$venv_bin/$tool" ]]; then
        echo "check-template: $venv_bin/$tool not found; install with: .venv/bin/pip install aws-sam-cli cfn-lint" >&2
        exit 2
    fi
done

export SAM_CLI_TELEMETRY=0
# sam validate needs a region to resolve pseudo parameters; nothing is called.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"

echo "check-template: sam validate --lint"
"$venv_bin/sam" validate --lint --template-file template.yaml

echo "check-template: cfn-lint template.yaml"
# Exit codes: 0 clean, 2 error, 4 warning, 8 informational (bit flags);
# informational findings fail too, so none can creep in unexplained.
"$venv_bin/cfn-lint" --non-zero-exit-code informational \
    --regions us-east-1 ap-northeast-1 eu-west-1 -- template.yaml

echo "check-template: ok"
