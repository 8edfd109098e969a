#!/usr/bin/env bash
# Benchmark: one page of DescribeNetworkInterfaces (first page, a page from the middle via
# NextToken, and a lookup by attachment.instance-id) in a region of 100 instances and in one of
# 10,000, through the whole EC2 handler, printed with the ratio (flat is the goal). Release build.
# Usage: bench/pages.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -q -p region-api --bench pages
