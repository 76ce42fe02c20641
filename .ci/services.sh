#!/usr/bin/env bash
# A private Docker engine and a loopback registry for imagespec-gar's tests.
#
#   .ci/services.sh start [DIR]   start both (reuses what already runs under DIR), print exports
#   .ci/services.sh env [DIR]     print the exports for what runs under DIR
#   .ci/services.sh stop [DIR]    stop both and remove DIR
#   .ci/services.sh start-docker [DIR]   the engine only (test/support/docker.ts uses it)
#
# Or source it and call isg_services_start / isg_services_stop DIR.
# Everything lives under DIR (default /tmp/imagespec-gar-dev): its own socket, data root and
# registry port, so a system dockerd or an earlier run is never touched.

ISG_DEFAULT_DIR=/tmp/imagespec-gar-dev

isg_log() { printf '[services] %s\n' "$*" >&2; }

isg_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

isg_pid_of() { [ -f "$1" ] && cat "$1" 2>/dev/null; }

isg_free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

isg_docker_up() {
	DOCKER_HOST="unix://$1/docker.sock" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# isg_wait_for LABEL CHECK DIR PIDFILE TRIES DELAY LOG: polls `CHECK DIR` until it answers, while
# the process in PIDFILE lives; on failure shows the end of LOG.
isg_wait_for() {
	local label=$1 check=$2 dir=$3 pidfile=$4 tries=$5 delay=$6 logfile=$7 i
	for i in $(seq 1 "$tries"); do
		if "$check" "$dir"; then
			isg_log "$label: up"
			return 0
		fi
		isg_alive "$(cat "$pidfile")" || break
		sleep "$delay"
	done
	isg_log "$label did not answer; last lines of $logfile:"
	tail -n 20 "$logfile" >&2
	return 1
}

isg_start_docker() {
	local dir=$1
	mkdir -p "$dir"
	if isg_alive "$(isg_pid_of "$dir/dockerd.pid")" && isg_docker_up "$dir"; then
		isg_log "dockerd already running under $dir"
		return 0
	fi
	command -v dockerd >/dev/null || { isg_log "dockerd not found (apt-get install docker.io)"; return 1; }
	[ "$(id -u)" = 0 ] || { isg_log "dockerd needs root"; return 1; }
	rm -f "$dir/docker.sock" "$dir/dockerd.pid"
	# Daemons get no inherited descriptors (a caller's flock would be held for their lifetime).
	# Own namespaces so a shared containerd never mixes our containers with another daemon's.
	local ns
	ns="isg-$(basename "$dir")"
	setsid dockerd \
		--data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
		-H "unix://$dir/docker.sock" \
		--containerd-namespace "$ns" --containerd-plugins-namespace "$ns-plugins" \
		--bridge=none --iptables=false --ip6tables=false \
		</dev/null >"$dir/dockerd.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	echo $! >"$dir/dockerd.spawn"
	isg_wait_for "dockerd at unix://$dir/docker.sock" isg_docker_up "$dir" "$dir/dockerd.spawn" 120 0.5 "$dir/dockerd.log"
}

isg_registry_up() {
	local port
	port=$(cat "$1/registry.port" 2>/dev/null) || return 1
	# Any HTTP answer from /v2/ means the registry serves.
	curl -s -o /dev/null -m 2 "http://127.0.0.1:$port/v2/" 2>/dev/null ||
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

isg_start_registry() {
	local dir=$1
	mkdir -p "$dir/registry"
	if isg_alive "$(isg_pid_of "$dir/registry.pid")" && isg_registry_up "$dir"; then
		isg_log "registry already running on 127.0.0.1:$(cat "$dir/registry.port")"
		return 0
	fi
	command -v docker-registry >/dev/null || { isg_log "docker-registry not found (apt-get install docker-registry)"; return 1; }
	local port
	port=$(isg_free_port)
	cat >"$dir/registry.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YML
	setsid docker-registry serve "$dir/registry.yml" </dev/null >"$dir/registry.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	echo $! >"$dir/registry.pid"
	echo "$port" >"$dir/registry.port"
	isg_wait_for "registry at 127.0.0.1:$port" isg_registry_up "$dir" "$dir/registry.pid" 50 0.2 "$dir/registry.log"
}

isg_env() {
	local dir=$1
	echo "export IMAGESPEC_GAR_TEST_DOCKER_HOST=unix://$dir/docker.sock"
	[ -f "$dir/registry.port" ] && echo "export IMAGESPEC_GAR_TEST_REGISTRY=127.0.0.1:$(cat "$dir/registry.port")"
	return 0
}

isg_services_start() {
	local dir=${1:-$ISG_DEFAULT_DIR}
	isg_start_docker "$dir" && isg_start_registry "$dir" || return 1
	export IMAGESPEC_GAR_TEST_DOCKER_HOST="unix://$dir/docker.sock"
	export IMAGESPEC_GAR_TEST_REGISTRY="127.0.0.1:$(cat "$dir/registry.port")"
}

isg_stop_pid() {
	local pid=$1 name=$2 i
	isg_alive "$pid" || return 0
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 40); do
		isg_alive "$pid" || return 0
		sleep 0.25
	done
	isg_log "$name ($pid) ignored SIGTERM, killing"
	kill -9 "$pid" 2>/dev/null || true
}

isg_services_stop() {
	local dir=${1:-$ISG_DEFAULT_DIR}
	[ -d "$dir" ] || return 0
	isg_stop_pid "$(isg_pid_of "$dir/registry.pid")" registry
	isg_stop_pid "$(isg_pid_of "$dir/dockerd.pid" || isg_pid_of "$dir/dockerd.spawn")" dockerd
	# The spawn pid is the same process normally; stop it too when the pidfile never appeared.
	isg_stop_pid "$(isg_pid_of "$dir/dockerd.spawn")" dockerd
	# dockerd leaves its overlay/tmpfs mounts behind when killed hard.
	{ grep -o " $dir/[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$dir"
	isg_log "stopped services under $dir"
}

# Run as a command (not sourced).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cmd=${1:-}
	dir=${2:-$ISG_DEFAULT_DIR}
	case "$cmd" in
	start) isg_services_start "$dir" && isg_env "$dir" ;;
	start-docker) isg_start_docker "$dir" && echo "unix://$dir/docker.sock" ;;
	env) isg_env "$dir" ;;
	stop) isg_services_stop "$dir" ;;
	*)
		echo "usage: $0 start|start-docker|env|stop [DIR]" >&2
		exit 2
		;;
	esac
fi
