#!/usr/bin/env bash
# The binary's own contract: --help and --version exit 0; an unknown command or flag prints
# what is wrong and the usage, and exits 2.
set -u
bin="$1"
fail=0
check() {  # check <expected exit> <expected text in output> <args...>
  local want_rc="$1" want_text="$2"
  shift 2
  local out rc
  out=$("$bin" "$@" 2>&1)
  rc=$?
  if [ "$rc" != "$want_rc" ]; then
    echo "FAIL: sawmill $* exited $rc, want $want_rc"; echo "$out"; fail=1
  elif ! grep -qF -- "$want_text" <<<"$out"; then
    echo "FAIL: sawmill $* did not print '$want_text'"; echo "$out"; fail=1
  else
    echo "ok: sawmill $*"
  fi
}
check 0 "Usage: sawmill <command>" --help
check 0 "sawmill 0." --version
check 2 "unknown command 'frobnicate'" frobnicate
check 2 "Usage: sawmill" frobnicate
check 2 "unknown option '--bogus'" --bogus
check 2 "missing command"

# The command list names every subcommand of the commands that have them (`sawmill admin --help`
# is the source of truth): a new admin action cannot be left out of `sawmill --help`.
top=$("$bin" --help)
for cmd in admin segment alerts; do
  line=$(grep -E "^  $cmd " <<<"$top")
  subs=$("$bin" "$cmd" --help | sed -n '/^Subcommands:/,/^$/p' | grep -E '^  [a-z]' | awk '{print $1}')
  [ -n "$subs" ] || { echo "FAIL: sawmill $cmd --help lists no subcommands"; fail=1; }
  for sub in $subs; do
    if grep -qw -- "$sub" <<<"$line"; then
      echo "ok: sawmill --help names $cmd $sub"
    else
      echo "FAIL: sawmill --help does not name '$cmd $sub': $line"; fail=1
    fi
  done
done
damage_subs=$("$bin" admin damage --help | sed -n '/^Subcommands:/,/^$/p' | grep -E '^  [a-z]' |
  awk '{print $1}' | paste -sd'|')
if grep -qF -- "damage $damage_subs" <<<"$top"; then
  echo "ok: sawmill --help names damage $damage_subs"
else
  echo "FAIL: sawmill --help does not name 'damage $damage_subs'"; fail=1
fi
# Every command's --help shows examples (a new command cannot ship without them).
for cmd in $(sed -n '/^Commands:/,/^$/p' <<<"$top" | grep -E '^  [a-z]' | awk '{print $1}'); do
  if "$bin" "$cmd" --help 2>&1 | grep -q "^Examples:"; then
    echo "ok: sawmill $cmd --help has examples"
  else
    echo "FAIL: sawmill $cmd --help has no 'Examples:'"; fail=1
  fi
done

# Every client command takes the shared client options (cli/client_options.h), and the
# commands that colour their output take --color.
for cmd in search context fields values tail ingest admin alerts; do
  help=$("$bin" "$cmd" --help 2>&1)
  for opt in --server --tenant --token --timeout; do
    if grep -qE -- "^ +$opt( |$)" <<<"$help"; then
      echo "ok: sawmill $cmd takes $opt"
    else
      echo "FAIL: sawmill $cmd --help has no $opt"; fail=1
    fi
  done
done
for cmd in search context tail; do
  if "$bin" "$cmd" --help 2>&1 | grep -qE -- "^ +--color( |$)"; then
    echo "ok: sawmill $cmd takes --color"
  else
    echo "FAIL: sawmill $cmd --help has no --color"; fail=1
  fi
done
check 2 "SAWMILL_SERVER" search --server ftp://nowhere x

# The completion scripts name every command of the table and are valid shell.
script=$("$bin" completion bash)
for cmd in $(sed -n '/^Commands:/,/^$/p' <<<"$top" | grep -E '^  [a-z]' | awk '{print $1}'); do
  grep -qw -- "$cmd" <<<"$script" || { echo "FAIL: bash completion lacks '$cmd'"; fail=1; }
done
bash -n <<<"$script" && echo "ok: bash completion parses" || { echo "FAIL: bash -n"; fail=1; }
completed=$(bash -c 'source /dev/stdin; COMP_WORDS=(sawmill sea); COMP_CWORD=1; _sawmill;
  echo "${COMPREPLY[*]}"' <<<"$script")
[ "$completed" = "search" ] && echo "ok: 'sawmill sea<TAB>' completes to search" ||
  { echo "FAIL: 'sawmill sea<TAB>' gave '$completed'"; fail=1; }
"$bin" completion zsh | grep -q "^compdef _sawmill sawmill" && echo "ok: zsh completion" ||
  { echo "FAIL: zsh completion"; fail=1; }
exit $fail
