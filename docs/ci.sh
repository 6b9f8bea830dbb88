#!/bin/sh
# rune in CI, plain POSIX shell: validate the catalogs, check the plan against the
# reviewed golden file, and (with APPLY=1, on the main branch) apply exactly that
# plan. Exit status: 0 all good, 1 invalid catalog or plan drift (each change
# named), 2 usage error, 4 the apply failed.
set -eu
RUNE=${RUNE:-rune}
CATALOGS=${CATALOGS:-catalogs}
GOLDEN=${GOLDEN:-tests/golden/plan.json}

echo "== rune validate $CATALOGS"
"$RUNE" validate "$CATALOGS" --deny-warnings

echo "== rune plan --check $GOLDEN"
# Policy is decided at the golden file's instant unless --at or
# SOURCE_DATE_EPOCH says otherwise; to accept a change on purpose, run
# `rune plan $CATALOGS --check $GOLDEN --update` and commit the file.
"$RUNE" plan "$CATALOGS" --check "$GOLDEN"

if [ "${APPLY:-0}" = 1 ]; then
  echo "== rune apply $GOLDEN"
  # The digest committed beside the plan when it was reviewed
  # (`sha256sum plan.json > plan.json.sha256`): apply that file and no other.
  "$RUNE" apply "$GOLDEN" --expect-digest "$(cut -d ' ' -f 1 "$GOLDEN.sha256")"
fi
