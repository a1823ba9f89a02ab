# Sourced by the collector benchmarks (collector.sh, collector-scale.sh); every path is under $work.

# Serves the bare repositories under $work/srv over git's smart HTTP (lighttpd + git http-backend
# on 127.0.0.1, a free port). Sets $port and $server (the pid); the caller kills $server when
# done. lighttpd's stderr (the CGI's noise, e.g. wikis that do not exist) goes to
# $work/lighttpd.stderr.
start_git_server() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$work/lighttpd.conf" <<CONF
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.bind = "127.0.0.1"
server.port = $port
server.max-connections = 256
server.document-root = "$work/srv"
server.errorlog = "$work/lighttpd-error.log"
alias.url = ("/" => "$(git --exec-path)/git-http-backend/")
cgi.assign = ("" => "")
setenv.add-environment = ("GIT_PROJECT_ROOT" => "$work/srv", "GIT_HTTP_EXPORT_ALL" => "", "GIT_CONFIG_COUNT" => "1", "GIT_CONFIG_KEY_0" => "safe.directory", "GIT_CONFIG_VALUE_0" => "*")
CONF
  lighttpd -D -f "$work/lighttpd.conf" 2>"$work/lighttpd.stderr" & server=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
}

# measure NAME COMMAND...: runs COMMAND (output to $work/NAME.out and .err), records its wall
# seconds in secs[NAME] and its peak RSS in MiB in rss[NAME]; a failure stops the benchmark.
declare -A secs rss
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
    echo "bench: $name failed:" >&2; tail -5 "$work/$name.err" >&2; exit 1; }
  read -r s k <"$work/time.txt"; secs[$name]=$s; rss[$name]=$((k / 1024))
}

ratio() { python3 -c "print(f'{$1/$2:.2f}' if $2 > 0 else 'n/a')"; }
