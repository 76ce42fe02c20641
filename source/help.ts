/**
 * The usage text, and what --help and --version print. Kept apart from main.tsx so the entry can
 * answer `--help` / `--version` before meow and main's modules load (~0.1 s of a bare node start).
 */
export const HELP = `
  Usage
    $ imagespec-gar [options]          set up Artifact Registry and push an ImageSpec image
    $ imagespec-gar doctor [--json]    check gcloud, credentials and docker, and say how to fix them
    $ imagespec-gar export --format gcloud|terraform [--output FILE]
                                       this folder's setup as a gcloud script or Terraform, to review or apply without this tool
    $ imagespec-gar status [--json]    which images of the module are pushed, stale or missing
    $ imagespec-gar build [NAME...] [--all] [--jobs N]
                                       build and push the named images, or every missing or stale one

  Where the image goes
    --project P              GCP project id (default: saved answer, then gcloud's project)
    --location L             Artifact Registry location, e.g. us-central1 (same region as the Union data plane)
    --repository R           Docker repository; created when it does not exist
    --no-create              never create a repository: a missing one is an error (exit 1)

  A new repository (asked when interactive)
    --description TEXT       its description
    --label K=V              a label (repeatable); managed-by=imagespec-gar is always added
    --immutable-tags         tags cannot be moved to another image once pushed
    --cleanup POLICY         none (default), keep:N (keep the N most recent versions)
                             or delete-untagged:Dd (delete untagged versions older than D days)

  A Union data plane in another project
    --data-plane-sa EMAIL    its worker service account, granted Artifact Registry Reader on the repository
    --builder-sa EMAIL       with Union's remote builder (--builder union, flyte's image.builder: remote): the account
                             it pushes as (the data plane's user role, <org>-userflyterol-<suffix>), granted Writer
    --operator-proxy-sa EMAIL
                             with Union's remote builder: the operator proxy's account (it reads image metadata),
                             granted Reader. Same project as the data plane: nothing is granted

  The ImageSpec
    --image NAME             image name, e.g. trainer or team/trainer
    --base-image REF         base image (default: ghcr.io/flyteorg/flytekit:py<version>-latest)
    --python-version X.Y     Python version, 3.9-3.13 (default: the local python3, as flytekit, else 3.12)
    --packages a,b           Python packages (PEP 508; "pandas>=1,<2" stays one)
    --requirements FILE      a requirements file (with --packages: created from them when missing)
    --apt-packages a,b       Debian packages
    --env K=V                environment variable (repeatable)
    --commands CMD           a command run in the image (repeatable)
    --pip-index URL          pip index URL
    --pip-extra-index-url U  extra pip index (repeatable)
    --platform P             target platform (default linux/amd64: what Union nodes run)
    --tag-format FMT         tag format, e.g. "{spec_hash}-dev"
    --builder local|union    build here with docker (default) or let Union build it at registration.
                             A local build follows flytekit's builder (flytekit appended when no package
                             is flytekit), refuses conda, cuda, lock files and source copies before
                             building, and pushes only an image whose Python imports flytekit
    --output FILE            the Python module to write (default image_specs.py in the project folder)
    --sdk union|flytekit|flyte
                             what the module imports (default: flyte when the project depends on or imports only
                             flyte (Flyte 2: flyte.Image declarations); flytekit when it uses it without union)
    --flyte-config           Flyte 2: also set image.registry in the project's flyte config.yaml (the one flyte
                             reads here, else .flyte/config.yaml); every other line of it is kept

  Status and build (every image of the module: image_specs.py, or flyte_images.py for Flyte 2; or --output FILE)
    --all                    build every missing or stale image (with --force: every image)
    --jobs N                 images built at once (default 2, at most 16)
    status exits 0 when every Artifact Registry image is pushed, 1 when any is missing, stale or
    cannot be told; build exits 1 when any image failed (each with its fix); images in other
    registries are listed and not checked. A Flyte 2 image is built with \`flyte build FILE ENV\`
    (its TaskEnvironment; the flyte CLI must be on PATH), by --builder or the image.builder of
    flyte's config.yaml (local, or remote: Union's image builder), then proven in the repository.

  Behaviour
    --dry-run                read everything, change nothing (no repository, IAM change, docker config, file,
                             build, push or saved answer), and end with the plan of each change, in order;
                             interactive runs then ask "Apply these changes?"
    --no-build               author the spec and compute the tag, but do not build or push
    --force                  build and push even when the tag is already in the repository
    --allow-secrets          write a secret-looking --env value or index URL password into the module anyway
                             (refused otherwise: use pip_secret_mounts or Union secrets)
    --yes                    do not ask: flags, then saved answers, then defaults
    --json                   print the result as one JSON document on stdout (progress on stderr); on failure
                             it carries what is known so far and the failed step
    --plain                  line-by-line prompts, no animation (also TERM=dumb, INK_SCREEN_READER=true)
    --help, --version

  export
    --format gcloud|terraform  a POSIX shell script of gcloud commands (safe to rerun), or Terraform for the
                             google provider (an import block when the repository exists)
    --output FILE            write it there (atomically) instead of stdout
    The setup comes from the flags above, then this folder's saved answers, then its image_specs.py.

  Runs non-interactively (every answer from flags, saved answers or defaults) when stdin or
  stdout is not a terminal, when CI is set, or with --yes / --json. Answers are saved per
  project folder, so a rerun only asks for the new image.

  An image your module already declares is read as written: only the fields you give again
  change (shown as a diff), nothing else is rewritten and no default is added. With --yes, a
  change of an existing image's tag that no flag asked for is refused.

  Exit codes: 0 done, 1 a step failed (its fix is printed), 2 bad usage or invalid input, 130 cancelled.

  Environment
    IMAGESPEC_GAR_API_ENDPOINT=host:port    Artifact Registry API over insecure gRPC (tests, private setups)
    IMAGESPEC_GAR_REGISTRY_HOST=host:port   docker host instead of <location>-docker.pkg.dev
    IMAGESPEC_GAR_API_TIMEOUT=SECONDS       how long one Artifact Registry call may go unanswered (default 30)
    CLOUDSDK_CONFIG, DOCKER_CONFIG, DOCKER_HOST, XDG_CONFIG_HOME, XDG_STATE_HOME (build logs), NO_COLOR are honoured. The gcloud
    account and project are read from gcloud's own files (CLOUDSDK_ACTIVE_CONFIG_NAME,
    CLOUDSDK_CORE_ACCOUNT and CLOUDSDK_CORE_PROJECT count); gcloud runs only when they do not answer.

  Examples
    $ imagespec-gar
    $ imagespec-gar --project acme-ml --location us-east1 --repository union-images \\
        --image trainer --packages pandas,union --yes
    $ imagespec-gar --image trainer --dry-run
    $ imagespec-gar export --format terraform --output artifact-registry.tf
    $ imagespec-gar doctor
`;

/**
 * What meow prints for `--help` alone (its showHelp): the package's description, then HELP, both
 * with their blank edges trimmed; a test holds this to meow's own `help`.
 */
export const helpScreen = (description: string): string => `\n  ${description}\n\n${HELP.replace(/^\n+|\n+$/g, '')}\n`;
