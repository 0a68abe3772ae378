#!/usr/bin/env bash
# Unix accounts for a class, from a roster (docs/hub.md, section 1, step 3).
#
#   deploy/add-class.sh [--course ID] [--instructor-group G] [--student-group G]
#                       [--passwords-out FILE] [--dry-run] ROSTER.csv
#
# ROSTER.csv (a spreadsheet saved as CSV; Windows line ends are fine), first line the header:
#
#   username,role,password
#   alice,instructor,
#   s1234567,student,
#
# role: `instructor` (group formgrade-<course>, the formgrader) or `student` (group
# nbgrader-<course>). password: optional (no commas); where it is empty, a random one is made and
# written to --passwords-out (default: ROSTER without .csv, plus .passwords.csv; mode 600) to hand
# out. For each new person this runs, as root:
#
#   useradd --create-home -K HOME_MODE=0700 --shell /bin/bash --groups <group> <username>
#   chpasswd        (reading <username>:<password>)
#
# so each home is private (mode 700, whatever /etc/login.defs says) and JupyterLab's terminals
# open in bash (useradd's default shell is /bin/sh). A person who already has an account is only
# added to the group (their home is made mode 700; their shell and password stay, unless the
# roster gives a password). Re-running it with a longer roster adds the new names.
# --dry-run checks the roster and prints what it would run (no root needed).
set -euo pipefail

COURSE=mathdl
INSTRUCTORS=""
STUDENTS=""
PASSWORDS_OUT=""
DRY_RUN=0
ROSTER=""
usage="usage: deploy/add-class.sh [--course ID] [--instructor-group G] [--student-group G] [--passwords-out FILE] [--dry-run] ROSTER.csv"
fail() { echo "add-class.sh: $*" >&2; exit 1; }
trim() { # leading and trailing blanks off
  local s="$1"
  s="${s#"${s%%[![:space:]]*}"}"
  printf '%s' "${s%"${s##*[![:space:]]}"}"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --course) COURSE="${2:?--course needs a value}"; shift 2 ;;
    --instructor-group) INSTRUCTORS="${2:?--instructor-group needs a value}"; shift 2 ;;
    --student-group) STUDENTS="${2:?--student-group needs a value}"; shift 2 ;;
    --passwords-out) PASSWORDS_OUT="${2:?--passwords-out needs a value}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) echo "$usage"; exit 0 ;;
    -*) echo "add-class.sh: unknown option '$1'" >&2; echo "$usage" >&2; exit 2 ;;
    *) [ -z "$ROSTER" ] || { echo "add-class.sh: one roster only ('$ROSTER', '$1')" >&2; exit 2; }
       ROSTER="$1"; shift ;;
  esac
done
[ -n "$ROSTER" ] || { echo "$usage" >&2; exit 2; }
[ -f "$ROSTER" ] || fail "no roster file at '$ROSTER'"
INSTRUCTORS="${INSTRUCTORS:-formgrade-$COURSE}"
STUDENTS="${STUDENTS:-nbgrader-$COURSE}"
PASSWORDS_OUT="${PASSWORDS_OUT:-${ROSTER%.csv}.passwords.csv}"
[ "$DRY_RUN" = 1 ] || [ "$(id -u)" = 0 ] || fail "run it as root (useradd, chpasswd), or with --dry-run"

# --- read and check the whole roster first: nothing is created from a roster with an error ----
NAME_RE='^[a-z_][a-z0-9_-]{0,31}$' # Debian's default for user names (adduser's NAME_REGEX)
names=() roles=() passwords=()
declare -A seen=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  line="${line%$'\r'}"
  if [ "$lineno" = 1 ]; then
    header="$(echo "$line" | tr -d ' ' | tr 'A-Z' 'a-z')"
    case "$header" in
      username,role | username,role,password) continue ;;
      *) fail "$ROSTER line 1: the header must be 'username,role,password' (or 'username,role'), got '$line'" ;;
    esac
  fi
  [ -n "${line// /}" ] || continue # blank lines
  IFS=, read -r name role password extra <<<"$line"
  name="$(trim "$name")"
  role="$(trim "${role:-}" | tr 'A-Z' 'a-z')"
  [ -z "${extra:-}" ] || fail "$ROSTER line $lineno: more than three fields (a comma in a password?): '$line'"
  [[ "$name" =~ $NAME_RE ]] \
    || fail "$ROSTER line $lineno: '$name' is not a valid user name (lower-case letters, digits, _ and -, at most 32, not starting with a digit or -)"
  case "$role" in
    instructor | student) ;;
    *) fail "$ROSTER line $lineno: role of '$name' is '$role'; it must be 'instructor' or 'student'" ;;
  esac
  [ -z "${seen[$name]:-}" ] || fail "$ROSTER line $lineno: '$name' is listed twice (first on line ${seen[$name]})"
  seen[$name]=$lineno
  names+=("$name") roles+=("$role") passwords+=("${password:-}")
done <"$ROSTER"
[ "${#names[@]}" -gt 0 ] || fail "$ROSTER lists nobody (only a header?)"

run() {
  if [ "$DRY_RUN" = 1 ]; then echo "would run: $*"; else "$@"; fi
}
set_password() { # name password: chpasswd reads name:password on stdin (never on a command line)
  if [ "$DRY_RUN" = 1 ]; then echo "would run: chpasswd  <<< '$1:***'"; else printf '%s:%s\n' "$1" "$2" | chpasswd; fi
}

run groupadd -f "$INSTRUCTORS"
run groupadd -f "$STUDENTS"
made=0
for i in "${!names[@]}"; do
  name="${names[$i]}" password="${passwords[$i]}"
  group="$STUDENTS"
  [ "${roles[$i]}" = instructor ] && group="$INSTRUCTORS"
  if id "$name" >/dev/null 2>&1; then
    echo "add-class.sh: $name exists: adding to $group, home mode 700"
    run usermod --append --groups "$group" "$name"
    run chmod 700 "$(getent passwd "$name" | cut -d: -f6)"
    [ -z "$password" ] || set_password "$name" "$password"
    continue
  fi
  run useradd --create-home -K HOME_MODE=0700 --shell /bin/bash --groups "$group" "$name"
  if [ -z "$password" ]; then
    password="$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 14)"
    if [ "$DRY_RUN" = 0 ]; then
      if [ "$made" = 0 ] && [ ! -e "$PASSWORDS_OUT" ]; then
        (umask 077 && echo "username,password" >"$PASSWORDS_OUT")
      fi
      chmod 600 "$PASSWORDS_OUT"
      echo "$name,$password" >>"$PASSWORDS_OUT"
    fi
    made=$((made + 1))
  fi
  set_password "$name" "$password"
done
echo "add-class.sh: ${#names[@]} people in $INSTRUCTORS / $STUDENTS"
[ "$made" = 0 ] || [ "$DRY_RUN" = 1 ] || echo "add-class.sh: $made new passwords in $PASSWORDS_OUT (mode 600): hand them out, then delete it"
