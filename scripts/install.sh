#!/usr/bin/env bash
# Installs imagespec-gar from this clone and starts it (arguments go to the wizard):
# npm ci (which builds dist/), then `imagespec-gar` on PATH in npm's global bin folder.
# When the machine's Node is older than 22, Node 22 comes from the npm registry and the command
# on PATH runs dist/cli.js with it, so `imagespec-gar` works later too.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# shellcheck source=scripts/node22.sh
IMAGESPEC_GAR_NODE_DIR=${IMAGESPEC_GAR_NODE_DIR:-$HOME/.local/share/imagespec-gar/node22}
source scripts/node22.sh
isg_node22

npm ci --no-audit --no-fund --loglevel=error
bin="$(npm prefix --global)/bin"
if [ -n "${IMAGESPEC_GAR_OLD_NODE:-}" ]; then
	# npm link's symlink would run the machine's old Node: a two-line launcher names Node 22.
	mkdir -p "$bin"
	rm -f "$bin/imagespec-gar"
	printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$(command -v node)" "$repo/dist/cli.js" >"$bin/imagespec-gar"
	chmod +x "$bin/imagespec-gar"
else
	npm link --no-audit --no-fund --loglevel=error
fi
echo "imagespec-gar is installed: $bin/imagespec-gar" >&2
case ":$PATH:" in *":$bin:"*) ;; *) echo "add $bin to your PATH to run it by name" >&2 ;; esac
exec "$bin/imagespec-gar" "$@"
