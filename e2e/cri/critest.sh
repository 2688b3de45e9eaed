# shellcheck shell=bash
# e2e/cri/critest.sh — cri-tools' validation suite (critest) against the bed's containerd, once per
# handler (--runtime-handler), same daemon, same run. Ginkgo JSON reports give passed / failed /
# skipped per handler; build/critest.md gets the table, the durations and the specs that fail only
# on hull. CRITEST_FOCUS / CRITEST_SKIP narrow the run; CRITEST_TIMEOUT bounds each handler.
# shellcheck disable=SC2154

run_critest() {
    local h out=$REPO/build/critest.md rep t0 rc all_rc=0 imgs=$E2E_TMP/critest-images.yaml
    local -A dur=()
    printf 'defaultTestContainerImage: %s\nwebServerTestImage: %s\n' "$BUSYBOX_IMAGE" "$BUSYBOX_IMAGE" >"$imgs"
    for h in $CRI_HANDLERS; do
        rep=$E2E_TMP/critest-$h.json
        t0=$SECONDS
        timeout -k 10 "${CRITEST_TIMEOUT:-20m}" "$CRITEST_BIN" \
            --runtime-endpoint "unix://$CRI_SOCK" --image-endpoint "unix://$CRI_SOCK" \
            --runtime-handler "$h" --test-images-file "$imgs" \
            --ginkgo.no-color --ginkgo.json-report "$rep" \
            ${CRITEST_FOCUS:+--ginkgo.focus "$CRITEST_FOCUS"} ${CRITEST_SKIP:+--ginkgo.skip "$CRITEST_SKIP"} \
            >"$E2E_TMP/logs/critest-$h.log" 2>&1
        rc=$?
        dur[$h]=$((SECONDS - t0))
        echo "# critest $h: exit $rc, ${dur[$h]} s (log: logs/critest-$h.log)"
        [ -f "$rep" ] || { echo "not ok - critest/$h: no report (exit $rc)"; all_rc=1; continue; }
        jq -r '.[0].SpecReports[] | select(.LeafNodeType == "It") | "\(.State)\t\(.ContainerHierarchyTexts | join(" "))  \(.LeafNodeText)"' \
            "$rep" | sort -t$'\t' -k2 >"$E2E_TMP/critest-$h.tsv"
    done
    {
        echo "# critest (cri-tools v1.36) on containerd $CRI_CONTAINERD, $(date -u +%F)"
        echo
        echo "| handler | passed | failed | skipped | seconds |"
        echo "|---|---|---|---|---|"
        for h in $CRI_HANDLERS; do
            [ -f "$E2E_TMP/critest-$h.tsv" ] || continue
            printf '| %s | %s | %s | %s | %s |\n' "$h" \
                "$(grep -c '^passed' "$E2E_TMP/critest-$h.tsv")" \
                "$(grep -cE '^(failed|panicked|timedout|interrupted|aborted)' "$E2E_TMP/critest-$h.tsv")" \
                "$(grep -cE '^(skipped|pending)' "$E2E_TMP/critest-$h.tsv")" "${dur[$h]}"
        done
        if [ -f "$E2E_TMP/critest-runc.tsv" ] && [ -f "$E2E_TMP/critest-hull.tsv" ]; then
            echo
            echo "Specs that pass with runc and not with hull:"
            echo
            join -t$'\t' -1 2 -2 2 <(awk -F'\t' '$1 == "passed"' "$E2E_TMP/critest-runc.tsv" | sort -t$'\t' -k2) \
                <(awk -F'\t' '$1 != "passed"' "$E2E_TMP/critest-hull.tsv" | sort -t$'\t' -k2) |
                awk -F'\t' '{ print "- " $1 " (" $3 ")" }'
        fi
    } >"$out"
    cat "$out"
    # hull must pass every spec runc passes
    if [ -f "$E2E_TMP/critest-hull.tsv" ] && grep -q '^- ' "$out"; then all_rc=1; fi
    return "$all_rc"
}
