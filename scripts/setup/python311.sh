# Sourced, not run: sets PY to a CPython 3.11 on PATH (python3.11, or python3 when it is 3.11), or to ""
# when there is none. The tools venv and the helpers' venv are both made with it.
PY=""
for cand in python3.11 python3; do
  if command -v "$cand" >/dev/null 2>&1 &&
     "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    PY="$(command -v "$cand")"; break
  fi
done
