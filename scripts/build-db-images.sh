#!/usr/bin/env bash
# build-db-images.sh [ENGINE...] -- local stand-ins for the official database
# images, for integration tests on a machine that cannot pull from a registry.
#
# ENGINE is postgres, mysql, mariadb, redis or mongo (default: all of them).
# Each stand-in is a Debian bookworm rootfs made with debootstrap and imported
# with `docker import`; its entrypoint keeps the official image's contract
# (environment variables, data paths, ports, init on an empty data directory,
# the server as PID 1 running as an unprivileged user):
#
#   dokploy-test/postgres:17   Debian's postgresql-15       (official: postgres)
#   dokploy-test/mariadb:11    Debian's mariadb-server 10.11 (official: mariadb)
#   dokploy-test/mysql:8       the same image               (official: mysql)
#   dokploy-test/redis:7       Debian's redis-server 7.0    (official: redis)
#   dokploy-test/mongo:8       FerretDB on SQLite            (official: mongo)
#
# The tags are never the official names, so a real server's images are never
# shadowed; the version in a tag is the official one the stand-in replaces, not
# the version inside. Prints the tags it made sure of, one a line.
#
# Cache: an image whose tag carries the label dokploy.stand-in.recipe equal to
# this script's sha256 is up to date and skipped. Rootfs tarballs are kept as
# /var/cache/dokploy/db-images/<rootfs>-<recipe>.tar (a wiped docker data-root,
# or a tag another version of this script moved, re-imports in seconds; the
# three used last of each rootfs stay), Debian packages in .../debs, FerretDB
# as /var/cache/dokploy/bin/ferretdb-<version>. Runs hold a lock, so
# concurrent runs (parallel test packages) wait for each other.
#
# Exit status: 0 when every requested image is ready; 1 on any failure; 3 when
# only the mongo stand-in, requested by name, could not be built (when building
# everything by default, a mongo failure is a warning and the status stays 0).
# shellcheck disable=SC2317 # functions are called through ensure_rootfs and traps
set -euo pipefail
shopt -s inherit_errexit
# The whole script is one block, read before it runs: a checkout or an edit
# of this file while a run waits for the lock cannot change what it does.
{

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SELF="$ROOT/scripts/build-db-images.sh"
CACHE="${DOKPLOY_DB_IMAGES_CACHE:-/var/cache/dokploy/db-images}"
BIN_CACHE="${DOKPLOY_BIN_CACHE:-/var/cache/dokploy/bin}"
MIRROR="${DOKPLOY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
FERRETDB_VERSION=v1.24.2
LABEL_KEY=dokploy.stand-in.recipe
export PATH="/usr/local/go/bin:$PATH"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build-db-images: %s\n' "$*" >&2; exit 1; }

# --- arguments ------------------------------------------------------------------
explicit=1
if [ "$#" -eq 0 ]; then
	explicit=0
	set -- postgres mariadb redis mongo
fi
want_postgres=0 want_mariadb=0 want_redis=0 want_mongo=0
for engine in "$@"; do
	case "$engine" in
	postgres | postgresql) want_postgres=1 ;;
	mysql | mariadb) want_mariadb=1 ;;
	redis) want_redis=1 ;;
	mongo | mongodb) want_mongo=1 ;;
	*) die "unknown engine '$engine' (want postgres, mysql, mariadb, redis or mongo)" ;;
	esac
done

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
RECIPE="$(sha256sum "$SELF" | cut -d' ' -f1)"

# --- Docker engine ----------------------------------------------------------------
command -v docker >/dev/null || bash "$ROOT/scripts/provision.sh" >&2
if ! docker info >/dev/null 2>&1; then
	log "Docker engine unreachable: running scripts/provision.sh"
	bash "$ROOT/scripts/provision.sh" >&2
fi
docker info >/dev/null 2>&1 || die "the Docker engine is unreachable"

mkdir -p "$CACHE" "$CACHE/debs" "$BIN_CACHE"
exec 9>"$CACHE/.lock"
flock 9

# This run's work directory, on the cache's disk, removed on exit (after
# unmounting anything a failed debootstrap left mounted inside it).
WORK="$(mktemp -d "$CACHE/work.XXXXXX")"
cleanup() {
	local mnt
	{ findmnt -rn -o TARGET | grep -F -- "$WORK/" | sort -r || true; } | while IFS= read -r mnt; do
		umount -l -- "$mnt" 2>/dev/null || true
	done
	rm -rf --one-file-system -- "$WORK" || true
}
trap cleanup EXIT

# image_current TAG: the tag exists and was made from this recipe.
image_current() {
	local have
	have="$(docker image inspect --format "{{index .Config.Labels \"$LABEL_KEY\"}}" "$1" 2>/dev/null)" || return 1
	[ "$have" = "$RECIPE" ]
}

# debootstrap_rootfs DIR PKG,PKG...: a minimal bookworm with those packages.
debootstrap_rootfs() {
	command -v debootstrap >/dev/null || {
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 \
			|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
	}
	local args=(--variant=minbase "--cache-dir=$CACHE/debs")
	[ -n "$2" ] && args+=("--include=$2")
	if ! debootstrap "${args[@]}" "$SUITE" "$1" "$MIRROR" >"$1.log" 2>&1; then
		tail -n 30 "$1.log" >&2
		die "debootstrap failed (log above)"
	fi
}

# slim DIR: drops what a database container never reads.
slim() {
	if findmnt -rn -o TARGET | grep -qF -- "$1/"; then die "something is still mounted under $1"; fi
	rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/* \
		"$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/* \
		"$1"/var/log/*.log "$1"/var/log/apt/* "$1"/tmp/* "$1"/root/.cache
	find "$1/dev" -mindepth 1 -delete
	: >"$1/etc/resolv.conf"
	: >"$1/etc/hostname"
	rm -f "$1/etc/machine-id"
}

# write DIR PATH MODE: stdin to DIR/PATH with MODE.
write() {
	mkdir -p "$(dirname "$1/$2")"
	cat >"$1/$2"
	chmod "$3" "$1/$2"
}

# pack DIR TARBALL: the rootfs as a tarball, written atomically.
pack() {
	tar -C "$1" --numeric-owner -cf "$2.tmp" .
	mv -f "$2.tmp" "$2"
}

# ensure_rootfs NAME BUILDFN: sets TARBALL to the cached tarball of rootfs
# NAME for this recipe, building it with BUILDFN DIR when missing. Other
# recipes' tarballs stay (another checkout of the project may run another
# version of this script on the same machine); only the three used last of
# each rootfs are kept.
ensure_rootfs() {
	local name="$1" build="$2" dir="$WORK/$1" old
	TARBALL="$CACHE/$name-$RECIPE.tar"
	if [ -s "$TARBALL" ]; then
		touch -- "$TARBALL"
		return 0
	fi
	log "building the $name rootfs (debootstrap $SUITE)"
	rm -rf --one-file-system -- "$dir"
	"$build" "$dir"
	slim "$dir"
	pack "$dir" "$TARBALL"
	rm -rf --one-file-system -- "$dir"
	find "$CACHE" -maxdepth 1 -name "$name-*.tar" -printf '%T@ %p\n' | sort -rn | tail -n +4 \
		| while IFS=' ' read -r _ old; do rm -f -- "$old"; done
}

# import TARBALL TAG STOPSIGNAL CHANGE...: docker import with the recipe label;
# STOPSIGNAL ("" for the default SIGTERM) is added by a one-line build since
# docker import cannot set it. The image TAG named before goes when nothing
# uses it any more (a container of it, or another tag, keeps it).
import() {
	local tarball="$1" tag="$2" stopsignal="$3" id old c
	shift 3
	local changes=(--change "LABEL $LABEL_KEY=$RECIPE")
	for c in "$@"; do changes+=(--change "$c"); done
	old="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
	id="$(docker import "${changes[@]}" "$tarball")"
	if [ -n "$stopsignal" ]; then
		if ! printf 'FROM %s\nSTOPSIGNAL %s\n' "$id" "$stopsignal" \
			| DOCKER_BUILDKIT=0 docker build -q -t "$tag" - >"$WORK/build.log" 2>&1; then
			cat "$WORK/build.log" >&2
			die "docker build of $tag failed"
		fi
	else
		docker tag "$id" "$tag"
	fi
	if [ -n "$old" ]; then OLD_IMAGES+=("$old"); fi
}

# drop_old_images: removes the images import replaced, where nothing uses them.
OLD_IMAGES=()
drop_old_images() {
	local old
	for old in "${OLD_IMAGES[@]}"; do
		docker image rm "$old" >/dev/null 2>&1 || true
	done
	OLD_IMAGES=()
}

PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# --- PostgreSQL -------------------------------------------------------------------
PG_MAJOR=15
PG_TAG=dokploy-test/postgres:17

build_postgres() {
	local dir="$1"
	debootstrap_rootfs "$dir" "postgresql-$PG_MAJOR,postgresql-client-$PG_MAJOR"
	# Debian's package made a cluster of its own; the entrypoint makes PGDATA's.
	rm -rf "$dir/etc/postgresql/$PG_MAJOR/main" "$dir/var/lib/postgresql/$PG_MAJOR"
	sed -ri 's/^#?(create_main_cluster)\s*=.*/\1 = false/' "$dir/etc/postgresql-common/createcluster.conf"
	# As in the official image: a new data directory listens on every address.
	sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" "$dir/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"
	grep -q "^listen_addresses = '\*'" "$dir/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"
	# JIT (LLVM, ~110 MB) is optional: without its provider the server runs without JIT.
	rm -rf "$dir/usr/lib/postgresql/$PG_MAJOR/lib/llvmjit.so" "$dir/usr/lib/postgresql/$PG_MAJOR/lib/llvmjit_types.bc" \
		"$dir/usr/lib/postgresql/$PG_MAJOR/lib/bitcode" "$dir"/usr/lib/x86_64-linux-gnu/libLLVM-*.so*
	mkdir -p "$dir/var/lib/postgresql/data" "$dir/run/postgresql" "$dir/docker-entrypoint-initdb.d"
	chroot "$dir" chown postgres:postgres /var/lib/postgresql /var/lib/postgresql/data /run/postgresql
	chmod 1777 "$dir/var/lib/postgresql/data"
	chmod 3777 "$dir/run/postgresql"
	write "$dir" usr/local/bin/docker-entrypoint.sh 0755 <<'ENTRYPOINT'
#!/usr/bin/env bash
# Entrypoint of the dokploy-test/postgres stand-in, with the contract of the
# official postgres image's docker-entrypoint.sh (same variables, same steps).
set -Eeuo pipefail

# file_env VAR [DEFAULT]: VAR from the environment, else the contents of the
# file named by VAR_FILE, else DEFAULT.
file_env() {
	local var="$1" fvar="${1}_FILE" def="${2:-}" val
	if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
		echo "error: both $var and $fvar are set (but are exclusive)" >&2
		exit 1
	fi
	val="$def"
	if [ -n "${!var:-}" ]; then
		val="${!var}"
	elif [ -n "${!fvar:-}" ]; then
		val="$(<"${!fvar}")"
	fi
	export "$var=$val"
	unset "$fvar"
}

wants_help() {
	local arg
	for arg; do
		case "$arg" in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
	done
	return 1
}

init_cluster() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	local method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$method" != trust ]; then
		cat >&2 <<-'EOM'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOM
		exit 1
	fi

	local -a args=(-D "$PGDATA" "--username=$POSTGRES_USER" --auth-local=trust "--auth-host=$method")
	[ -n "${POSTGRES_INITDB_WALDIR:-}" ] && args+=("--waldir=$POSTGRES_INITDB_WALDIR")
	local -a extra=()
	read -r -a extra <<<"$POSTGRES_INITDB_ARGS" || true
	local pwfile=
	if [ -n "$POSTGRES_PASSWORD" ]; then
		# The password reaches initdb through a file only this user can read.
		pwfile="$(mktemp)"
		printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
		args+=("--pwfile=$pwfile")
	fi
	if ! initdb "${args[@]}" "${extra[@]}" >/dev/null; then
		[ -n "$pwfile" ] && rm -f "$pwfile"
		exit 1
	fi
	[ -n "$pwfile" ] && rm -f "$pwfile"

	cat >"$PGDATA/pg_hba.conf" <<-EOF
		# TYPE  DATABASE     USER  ADDRESS  METHOD
		local   all          all            trust
		local   replication  all            trust
		host    all          all   all      $method
	EOF

	# A server on the socket only, for the database and the init scripts.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >/dev/null
	local -a psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password -h /var/run/postgresql -p 5432 "--username=$POSTGRES_USER")
	if [ "$POSTGRES_DB" != postgres ]; then
		"${psql[@]}" --dbname postgres -q --set "db=$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db";
		EOSQL
	fi
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			# shellcheck source=/dev/null
			if [ -x "$f" ]; then "$f"; else . "$f"; fi
			;;
		*.sql) "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
		*.sql.gz) gzip -dc "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo "PostgreSQL init process complete; ready for start up."
}

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = postgres ] && ! wants_help "$@"; then
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$PGDATA" /var/run/postgresql
		find "$PGDATA" \! -user postgres -exec chown postgres: '{}' +
		chmod 00700 "$PGDATA"
		chown postgres: /var/run/postgresql
		chmod 3777 /var/run/postgresql
		export HOME=/var/lib/postgresql
		exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
	fi
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		init_cluster
	fi
fi
exec "$@"
ENTRYPOINT
}

make_postgres() {
	if image_current "$PG_TAG"; then log "$PG_TAG is up to date"; echo "$PG_TAG"; return; fi
	ensure_rootfs postgres build_postgres
	log "importing $PG_TAG"
	import "$TARBALL" "$PG_TAG" SIGINT \
		"ENV $PATH_ENV:/usr/lib/postgresql/$PG_MAJOR/bin" "ENV PG_MAJOR=$PG_MAJOR" \
		'ENV PGDATA=/var/lib/postgresql/data' 'ENV LANG=C.UTF-8' \
		'VOLUME /var/lib/postgresql/data' 'EXPOSE 5432' \
		'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["postgres"]'
	drop_old_images
	echo "$PG_TAG"
}

# --- MariaDB (and MySQL) --------------------------------------------------------
MARIADB_TAGS=(dokploy-test/mariadb:11 dokploy-test/mysql:8)

build_mariadb() {
	local dir="$1"
	debootstrap_rootfs "$dir" mariadb-server,mariadb-client
	# Debian's package initialised a data directory; the entrypoint makes its own.
	rm -rf "$dir/var/lib/mysql"
	mkdir -p "$dir/var/lib/mysql" "$dir/run/mysqld" "$dir/docker-entrypoint-initdb.d"
	chroot "$dir" chown mysql:mysql /var/lib/mysql /run/mysqld
	chmod 1777 "$dir/run/mysqld"
	# As in the official image: every address, no DNS look-ups of clients.
	write "$dir" etc/mysql/mariadb.conf.d/90-docker.cnf 0644 <<-'EOF'
		[mariadbd]
		bind-address = 0.0.0.0
		skip-host-cache
		skip-name-resolve
		expire_logs_days = 0
	EOF
	write "$dir" usr/local/bin/docker-entrypoint.sh 0755 <<'ENTRYPOINT'
#!/usr/bin/env bash
# Entrypoint of the dokploy-test/mariadb and dokploy-test/mysql stand-ins, with
# the contract of the official mariadb image (which also reads the MYSQL_*
# names of the official mysql image): MARIADB_ROOT_PASSWORD, MARIADB_DATABASE,
# MARIADB_USER, MARIADB_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD,
# MARIADB_RANDOM_ROOT_PASSWORD, MARIADB_ROOT_HOST (each also as *_FILE).
set -Eeuo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

file_env() {
	local var="$1" fvar="${1}_FILE" def="${2:-}" val
	if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
		echo "error: both $var and $fvar are set (but are exclusive)" >&2
		exit 1
	fi
	val="$def"
	if [ -n "${!var:-}" ]; then
		val="${!var}"
	elif [ -n "${!fvar:-}" ]; then
		val="$(<"${!fvar}")"
	fi
	export "$var=$val"
	unset "$fvar"
}

# mariadb_env NAME MYSQLNAME [DEFAULT]: MARIADB_NAME, else MYSQL_MYSQLNAME.
mariadb_env() {
	local m="MARIADB_$1" y="MYSQL_$2"
	file_env "$m"
	file_env "$y"
	if [ -z "${!m}" ]; then export "$m=${!y:-${3:-}}"; fi
}

# sql_string S: S escaped for a '...' literal (NO_BACKSLASH_ESCAPES is off).
sql_string() {
	local s="${1//\\/\\\\}"
	s="${s//$'\n'/\\n}"
	printf '%s' "${s//\'/\\\'}"
}
# sql_ident S: S escaped for a `...` identifier.
sql_ident() { printf '%s' "${1//\`/\`\`}"; }

client() { mariadb --protocol=socket --socket="$SOCKET" -uroot --batch --skip-column-names "$@"; }

wants_help() {
	local arg
	for arg; do
		case "$arg" in -'?' | --help | --print-defaults | -V | --version) return 0 ;; esac
	done
	return 1
}

init_datadir() {
	mariadb_env ROOT_PASSWORD ROOT_PASSWORD
	mariadb_env DATABASE DATABASE
	mariadb_env USER USER
	mariadb_env PASSWORD PASSWORD
	mariadb_env ALLOW_EMPTY_ROOT_PASSWORD ALLOW_EMPTY_PASSWORD
	mariadb_env RANDOM_ROOT_PASSWORD RANDOM_ROOT_PASSWORD
	mariadb_env ROOT_HOST ROOT_HOST %
	if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		echo "error: Database is uninitialized and password option is not specified" >&2
		echo "  You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD" >&2
		exit 1
	fi
	if [ "$MARIADB_USER" = root ]; then
		echo "error: MARIADB_USER=root: the root user is already created, use MARIADB_ROOT_PASSWORD" >&2
		exit 1
	fi
	if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
		echo "warning: MARIADB_USER is set but MARIADB_PASSWORD is empty" >&2
	fi
	if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ] && [ -z "$MARIADB_ROOT_PASSWORD" ]; then
		MARIADB_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '\n/+=')"
		echo "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi

	echo "Initializing database files"
	mariadb-install-db --datadir="$DATADIR" --user=mysql --rpm --skip-test-db \
		--auth-root-authentication-method=socket --default-time-zone=SYSTEM \
		--skip-log-bin --expire-logs-days=0 >/dev/null
	echo "Database files initialized"

	# A server on the socket only, for the users, the database and init scripts.
	setpriv --reuid=mysql --regid=mysql --init-groups mariadbd "${@:2}" --skip-networking \
		--socket="$SOCKET" --default-time-zone=SYSTEM --skip-log-bin --skip-slave-start \
		--loose-innodb-buffer-pool-load-at-startup=0 &
	local pid=$!
	for _ in $(seq 1 60); do
		if client --database=mysql <<<'SELECT 1' >/dev/null 2>&1; then break; fi
		kill -0 "$pid" 2>/dev/null || { echo "error: the temporary server exited" >&2; exit 1; }
		sleep 0.5
	done
	client --database=mysql <<<'SELECT 1' >/dev/null

	local rootpw user pw db roothost
	rootpw="$(sql_string "$MARIADB_ROOT_PASSWORD")"
	roothost="$(sql_string "$MARIADB_ROOT_HOST")"
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
		# Only root@localhost and the users below remain.
		echo "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));"
		echo "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '%');"
		echo "FLUSH PRIVILEGES;"
		# root@localhost: the password, or (as the official image keeps it) the unix socket.
		echo "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('$rootpw') OR unix_socket;"
		if [ -n "$MARIADB_ROOT_HOST" ] && [ "$MARIADB_ROOT_HOST" != localhost ]; then
			echo "CREATE USER 'root'@'$roothost' IDENTIFIED BY '$rootpw';"
			echo "GRANT ALL ON *.* TO 'root'@'$roothost' WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'%' TO 'root'@'$roothost' WITH GRANT OPTION;"
		fi
		if [ -n "$MARIADB_DATABASE" ]; then
			db="$(sql_ident "$MARIADB_DATABASE")"
			echo "CREATE DATABASE IF NOT EXISTS \`$db\`;"
		fi
		if [ -n "$MARIADB_USER" ]; then
			user="$(sql_string "$MARIADB_USER")"
			pw="$(sql_string "$MARIADB_PASSWORD")"
			echo "CREATE USER '$user'@'%' IDENTIFIED BY '$pw';"
			if [ -n "$MARIADB_DATABASE" ]; then
				echo "GRANT ALL ON \`$db\`.* TO '$user'@'%';"
			fi
		fi
	} | client --database=mysql

	local f
	local -a dbarg=()
	[ -n "$MARIADB_DATABASE" ] && dbarg=("--database=$MARIADB_DATABASE")
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			# shellcheck source=/dev/null
			if [ -x "$f" ]; then "$f"; else . "$f"; fi
			;;
		*.sql) client "${dbarg[@]}" <"$f" ;;
		*.sql.gz) gzip -dc "$f" | client "${dbarg[@]}" ;;
		esac
	done

	mariadb-admin --protocol=socket --socket="$SOCKET" -uroot shutdown
	wait "$pid" || true
	echo "MariaDB init process done. Ready for start up."
}

if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi

if { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; } && ! wants_help "$@"; then
	if [ "$(id -u)" != 0 ]; then
		echo "error: the stand-in must start as root (it drops to user mysql itself)" >&2
		exit 1
	fi
	mkdir -p "$DATADIR" /run/mysqld
	chown mysql:mysql /run/mysqld
	find "$DATADIR" \! -user mysql -exec chown mysql: '{}' +
	if [ ! -d "$DATADIR/mysql" ]; then
		init_datadir "$@"
	fi
	export HOME=/var/lib/mysql
	exec setpriv --reuid=mysql --regid=mysql --init-groups "$@"
fi
exec "$@"
ENTRYPOINT
}

make_mariadb() {
	local tag ok=1
	for tag in "${MARIADB_TAGS[@]}"; do image_current "$tag" || ok=0; done
	if [ "$ok" = 1 ]; then
		log "${MARIADB_TAGS[*]} are up to date"
		printf '%s\n' "${MARIADB_TAGS[@]}"
		return
	fi
	ensure_rootfs mariadb build_mariadb
	log "importing ${MARIADB_TAGS[*]}"
	import "$TARBALL" "${MARIADB_TAGS[0]}" "" \
		"ENV $PATH_ENV" 'ENV LANG=C.UTF-8' \
		'VOLUME /var/lib/mysql' 'EXPOSE 3306' \
		'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["mariadbd"]'
	for tag in "${MARIADB_TAGS[@]:1}"; do
		OLD_IMAGES+=("$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)")
		docker tag "${MARIADB_TAGS[0]}" "$tag"
	done
	drop_old_images
	printf '%s\n' "${MARIADB_TAGS[@]}"
}

# --- Redis ------------------------------------------------------------------------
REDIS_TAG=dokploy-test/redis:7

build_redis() {
	local dir="$1"
	debootstrap_rootfs "$dir" redis-server,redis-tools
	rm -rf "$dir/var/lib/redis"/* "$dir/var/log/redis"/*
	mkdir -p "$dir/data"
	chroot "$dir" chown redis:redis /data
	write "$dir" usr/local/bin/docker-entrypoint.sh 0755 <<'ENTRYPOINT'
#!/bin/sh
# Entrypoint of the dokploy-test/redis stand-in, with the contract of the
# official redis image's docker-entrypoint.sh.
set -e

# "-flag", "--option" or "file.conf" first: arguments of redis-server.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# As root: own the data directory, then run again as user redis.
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
	find . \! -user redis -exec chown redis '{}' +
	HOME=/data
	export HOME
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# The official image's redis-server runs with protected mode off unless a
# config file (the first argument) or the command line sets it; Debian's
# build defaults to on, so say "no" first and let either override it.
if [ "$1" = redis-server ]; then
	protected=1
	conf=
	if [ "${2:-}" = - ]; then
		conf=- # the configuration comes on stdin, which must not be read here
	elif [ -f "${2:-}" ]; then
		conf="$2"
		if grep -q '^[[:space:]]*protected-mode' "$conf"; then protected=; fi
	fi
	for arg; do
		case "$arg" in --protected-mode) protected= ;; esac
	done
	if [ -n "$protected" ]; then
		shift
		if [ -n "$conf" ]; then shift; fi
		set -- --protected-mode no "$@"
		if [ -n "$conf" ]; then set -- "$conf" "$@"; fi
		set -- redis-server "$@"
	fi
fi

if [ "$(umask)" = 0022 ]; then umask 0077; fi
exec "$@"
ENTRYPOINT
}

make_redis() {
	if image_current "$REDIS_TAG"; then log "$REDIS_TAG is up to date"; echo "$REDIS_TAG"; return; fi
	ensure_rootfs redis build_redis
	log "importing $REDIS_TAG"
	import "$TARBALL" "$REDIS_TAG" "" \
		"ENV $PATH_ENV" 'ENV LANG=C.UTF-8' \
		'VOLUME /data' 'WORKDIR /data' 'EXPOSE 6379' \
		'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["redis-server"]'
	drop_old_images
	echo "$REDIS_TAG"
}

# --- MongoDB (FerretDB) -----------------------------------------------------------
MONGO_TAG=dokploy-test/mongo:8

# mongo-lite: a minimal client (the image has no mongosh): ping, insert, find.
# Its source is written next to FerretDB's and built with FerretDB's go.mod,
# so it needs no module FerretDB does not already need.
mongo_lite_source() {
	cat <<'GO'
// Command mongo-lite is the minimal MongoDB client of the dokploy-test/mongo
// stand-in image. The connection string, with any credentials, comes from
// $MONGO_URI only (default mongodb://127.0.0.1:27017/), never from arguments.
//
//	mongo-lite ping
//	mongo-lite insert DB COLLECTION JSON
//	mongo-lite find DB COLLECTION [FILTER]   (one relaxed extended JSON document a line)
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mongo-lite:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	const usage = "usage: MONGO_URI=... mongo-lite ping | insert DB COLL JSON | find DB COLL [FILTER]"
	if len(args) == 0 {
		return fmt.Errorf(usage)
	}
	uri := os.Getenv("MONGO_URI")
	if uri == "" {
		uri = "mongodb://127.0.0.1:27017/"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(5*time.Second))
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	switch {
	case args[0] == "ping" && len(args) == 1:
		if err := client.Ping(ctx, nil); err != nil {
			return err
		}
		fmt.Println("ok")
		return nil
	case args[0] == "insert" && len(args) == 4:
		var doc bson.D
		if err := bson.UnmarshalExtJSON([]byte(args[3]), false, &doc); err != nil {
			return err
		}
		_, err := client.Database(args[1]).Collection(args[2]).InsertOne(ctx, doc)
		return err
	case args[0] == "find" && (len(args) == 3 || len(args) == 4):
		filter := bson.D{}
		if len(args) == 4 {
			if err := bson.UnmarshalExtJSON([]byte(args[3]), false, &filter); err != nil {
				return err
			}
		}
		cur, err := client.Database(args[1]).Collection(args[2]).Find(ctx, filter)
		if err != nil {
			return err
		}
		defer cur.Close(ctx)
		for cur.Next(ctx) {
			out, err := bson.MarshalExtJSON(cur.Current, false, false)
			if err != nil {
				return err
			}
			fmt.Println(string(out))
		}
		return cur.Err()
	}
	return fmt.Errorf(usage)
}
GO
}

# ferretdb_binaries: makes sure $FERRETDB_BIN and $MONGO_LITE_BIN exist.
# (It runs under set -e; the explicit returns are for the reason's message.)
FERRETDB_BIN="$BIN_CACHE/ferretdb-$FERRETDB_VERSION"
MONGO_LITE_BIN="$BIN_CACHE/mongo-lite-$FERRETDB_VERSION-$(mongo_lite_source | sha256sum | cut -c1-12)"
ferretdb_binaries() {
	[ -x "$FERRETDB_BIN" ] && [ -x "$MONGO_LITE_BIN" ] && return 0
	command -v go >/dev/null || { log "no Go toolchain"; return 1; }
	log "building FerretDB $FERRETDB_VERSION (first run: ~2 minutes)"
	local work="$WORK/ferretdb" src moddir
	mkdir -p "$work"
	# The module's source, from the Go module proxy through the module cache.
	moddir="$(cd "$work" && GOFLAGS='' GOTOOLCHAIN=local go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
		| sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
	if [ -z "$moddir" ] || [ ! -d "$moddir" ]; then
		log "go mod download of FerretDB $FERRETDB_VERSION failed"
		return 1
	fi
	src="$work/src"
	cp -r "$moddir" "$src"
	chmod -R u+w "$src"
	# FerretDB's build embeds its version from a file its release tooling writes.
	printf '%s\n' "$FERRETDB_VERSION" >"$src/build/version/version.txt"
	mkdir -p "$src/cmd/mongo-lite"
	mongo_lite_source >"$src/cmd/mongo-lite/main.go"
	(
		cd "$src"
		export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
		go build -trimpath -ldflags '-s -w' -o "$work/ferretdb" ./cmd/ferretdb &&
			go build -trimpath -ldflags '-s -w' -o "$work/mongo-lite" ./cmd/mongo-lite
	) >&2 || { log "building FerretDB failed"; return 1; }
	"$work/ferretdb" --version >/dev/null || { log "the FerretDB binary does not run"; return 1; }
	install -m 0755 "$work/ferretdb" "$FERRETDB_BIN.tmp" && mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
	install -m 0755 "$work/mongo-lite" "$MONGO_LITE_BIN.tmp" && mv -f "$MONGO_LITE_BIN.tmp" "$MONGO_LITE_BIN"
}

build_mongo() {
	local dir="$1"
	debootstrap_rootfs "$dir" ""
	chroot "$dir" groupadd -r mongodb
	chroot "$dir" useradd -r -g mongodb -d /data/db -s /usr/sbin/nologin mongodb
	install -m 0755 "$FERRETDB_BIN" "$dir/usr/local/bin/ferretdb"
	install -m 0755 "$MONGO_LITE_BIN" "$dir/usr/local/bin/mongo-lite"
	mkdir -p "$dir/data/db" "$dir/data/configdb" "$dir/docker-entrypoint-initdb.d"
	chroot "$dir" chown mongodb:mongodb /data/db /data/configdb
	write "$dir" usr/local/bin/docker-entrypoint.sh 0755 <<'ENTRYPOINT'
#!/usr/bin/env bash
# Entrypoint of the dokploy-test/mongo stand-in: FerretDB (MongoDB wire
# protocol) on SQLite files in /data/db, listening on 0.0.0.0:27017. As in the
# official mongo image, MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD
# (or their *_FILE forms) create that user in the admin database of an empty
# data directory and turn authentication (SCRAM-SHA-256) on; without them
# there is no authentication. `mongod` arguments: --port N and --replSet NAME
# are honoured, --bind_ip_all/--bind_ip are accepted (it always listens on
# every address), anything else is ignored with a warning.
set -Eeuo pipefail

file_env() {
	local var="$1" fvar="${1}_FILE" def="${2:-}" val
	if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
		echo "error: both $var and $fvar are set (but are exclusive)" >&2
		exit 1
	fi
	val="$def"
	if [ -n "${!var:-}" ]; then
		val="${!var}"
	elif [ -n "${!fvar:-}" ]; then
		val="$(<"${!fvar}")"
	fi
	export "$var=$val"
	unset "$fvar"
}

if [ "${1:0:1}" = '-' ]; then
	set -- mongod "$@"
fi

if [ "$1" = mongod ]; then
	if [ "$(id -u)" = 0 ]; then
		mkdir -p /data/db /data/configdb
		find /data/db /data/configdb \! -user mongodb -exec chown mongodb: '{}' +
		export HOME=/data/db
		exec setpriv --reuid=mongodb --regid=mongodb --init-groups "${BASH_SOURCE[0]}" "$@"
	fi
	shift
	port=27017
	while [ "$#" -gt 0 ]; do
		case "$1" in
		--port) port="${2:?--port needs a value}"; shift 2 ;;
		--port=*) port="${1#--port=}"; shift ;;
		--replSet) export FERRETDB_REPL_SET_NAME="${2:?--replSet needs a value}"; shift 2 ;;
		--replSet=*) export FERRETDB_REPL_SET_NAME="${1#--replSet=}"; shift ;;
		--bind_ip_all) shift ;;
		--bind_ip) shift 2 ;;
		--bind_ip=*) shift ;;
		*) echo "warning: the FerretDB stand-in ignores mongod argument $1" >&2; shift ;;
		esac
	done
	file_env MONGO_INITDB_ROOT_USERNAME
	file_env MONGO_INITDB_ROOT_PASSWORD
	if [ -n "$MONGO_INITDB_ROOT_USERNAME" ] && [ -z "$MONGO_INITDB_ROOT_PASSWORD" ]; then
		echo "error: MONGO_INITDB_ROOT_USERNAME is set but MONGO_INITDB_ROOT_PASSWORD is not" >&2
		exit 1
	fi
	if [ -z "$MONGO_INITDB_ROOT_USERNAME" ] && [ -n "$MONGO_INITDB_ROOT_PASSWORD" ]; then
		echo "error: MONGO_INITDB_ROOT_PASSWORD is set but MONGO_INITDB_ROOT_USERNAME is not" >&2
		exit 1
	fi
	export FERRETDB_HANDLER=sqlite FERRETDB_SQLITE_URL=file:/data/db/ FERRETDB_STATE_DIR=/data/configdb \
		FERRETDB_LISTEN_ADDR="0.0.0.0:$port" FERRETDB_TELEMETRY=disable
	if [ -n "$MONGO_INITDB_ROOT_USERNAME" ]; then
		# FerretDB reads these itself: the password stays off the command line.
		export FERRETDB_TEST_ENABLE_NEW_AUTH=true FERRETDB_SETUP_DATABASE=admin \
			FERRETDB_SETUP_USERNAME="$MONGO_INITDB_ROOT_USERNAME" \
			FERRETDB_SETUP_PASSWORD="$MONGO_INITDB_ROOT_PASSWORD"
	fi
	exec ferretdb
fi
exec "$@"
ENTRYPOINT
}

make_mongo() {
	if image_current "$MONGO_TAG"; then log "$MONGO_TAG is up to date"; echo "$MONGO_TAG"; return 0; fi
	if [ ! -s "$CACHE/mongo-$RECIPE.tar" ]; then
		ferretdb_binaries
	fi
	ensure_rootfs mongo build_mongo
	log "importing $MONGO_TAG"
	import "$TARBALL" "$MONGO_TAG" "" \
		"ENV $PATH_ENV" 'ENV LANG=C.UTF-8' \
		'VOLUME /data/db' 'VOLUME /data/configdb' 'EXPOSE 27017' \
		'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["mongod"]'
	drop_old_images
	echo "$MONGO_TAG"
}

# --- main -------------------------------------------------------------------------
start=$SECONDS
if [ "$want_postgres" = 1 ]; then make_postgres; fi
if [ "$want_mariadb" = 1 ]; then make_mariadb; fi
if [ "$want_redis" = 1 ]; then make_redis; fi
status=0
if [ "$want_mongo" = 1 ]; then
	# In a subshell with errexit of its own, so that a failed step ends only the
	# mongo stand-in (set -e does not act inside a command whose status is tested).
	set +e
	(
		set -e
		make_mongo
	)
	rc=$?
	set -e
	if [ "$rc" != 0 ]; then
		if [ "$explicit" = 1 ]; then
			log "the mongo stand-in could not be built"
			status=3
		else
			log "warning: the mongo stand-in could not be built; tests that need it skip"
		fi
	fi
fi
log "done in $((SECONDS - start)) s"
exit "$status"
}
