#!/bin/sh
# Checks of the site, run by `lbc test unit` in the Dockerfile's test stage (POSIX sh and
# busybox or coreutils only): every page has a <title>, every local href/src exists, and
# /healthz is there for the health checks.
set -u
root="${1:-public}"
failures=0
checks=0

fail() {
    echo "FAILED  $1"
    failures=$((failures + 1))
}

[ -f "$root/healthz" ] || fail "$root/healthz exists"
checks=$((checks + 1))

for page in $(find "$root" -name '*.html' | sort); do
    checks=$((checks + 1))
    if grep -qi '<title>[^<][^<]*</title>' "$page"; then
        echo "ok      $page has a title"
    else
        fail "$page has a title"
    fi
    dir=$(dirname "$page")
    for ref in $(grep -o -E '(href|src)="[^"#?]*"' "$page" | sed -E 's/^(href|src)="([^"]*)"$/\2/'); do
        case "$ref" in
            ""|http:*|https:*|mailto:*|//*) continue ;;
            /*) target="$root$ref" ;;
            *) target="$dir/$ref" ;;
        esac
        checks=$((checks + 1))
        if [ -e "$target" ]; then
            echo "ok      $page -> $ref"
        else
            fail "$page -> $ref (missing: $target)"
        fi
    done
done

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
