#!/usr/bin/env bash
# Real servers on their standard ports: installs each from Debian's packages when missing and starts it when
# nothing answers on its port. Servers already running are used as they are.
#   scripts/services.sh                   all of them (the end-to-end tests)
#   scripts/services.sh postgres redis nats   only those (the demo)
# Names: postgres (5432), mariadb (3306), redis (6379), rabbitmq (5672), memcached (11211), nats (4222).
set -euo pipefail
declare -A port_of=([postgres]=5432 [mariadb]=3306 [redis]=6379 [rabbitmq]=5672 [memcached]=11211 [nats]=4222)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(postgres mariadb redis rabbitmq memcached nats)
declare -A want=()
for name in "${wanted[@]}"; do
  [ -n "${port_of[$name]:-}" ] || { printf 'services: unknown service %s\n' "$name" >&2; exit 2; }
  want[${port_of[$name]}]=1
done

say() { printf 'services: %s\n' "$*" >&2; }
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port name seconds
  for _ in $(seq 1 $(($3 * 4))); do up "$1" && return 0; sleep 0.25; done
  printf 'services: error: %s did not start on port %s\n' "$2" "$1" >&2; return 1
}

declare -A package=([5432]=postgresql [3306]=mariadb-server [6379]=redis-server [5672]=rabbitmq-server [11211]=memcached [4222]=nats-server)
missing=()
for port in "${!want[@]}"; do
  up "$port" && continue
  dpkg-query -W -f='${Status}' "${package[$port]}" 2>/dev/null | grep -q "install ok installed" || missing+=("${package[$port]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d: packages must not try to start services through an init system that may not be there.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

if [ -n "${want[5432]:-}" ] && ! up 5432; then
  say "starting PostgreSQL"
  cluster=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
  wait_port 5432 postgresql 30
fi
if [ -n "${want[3306]:-}" ] && ! up 3306; then
  say "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_port 3306 mariadb 60
fi
if [ -n "${want[6379]:-}" ] && ! up 6379; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_port 6379 redis 20
fi
if [ -n "${want[5672]:-}" ] && ! up 5672; then
  say "starting RabbitMQ"
  rabbitmq-server -detached
  wait_port 5672 rabbitmq 90
fi
if [ -n "${want[11211]:-}" ] && ! up 11211; then
  say "starting Memcached"
  memcached -d -u memcache -l 127.0.0.1 -p 11211 2>/dev/null || memcached -d -u root -l 127.0.0.1 -p 11211
  wait_port 11211 memcached 20
fi

if [ -n "${want[4222]:-}" ] && ! up 4222; then
  say "starting NATS on 4222"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
  wait_port 4222 nats-server 20
fi

# The tests connect as postgres (trust on loopback) and as MariaDB root without a password, to database test.
[ -z "${want[3306]:-}" ] || mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS test" >/dev/null 2>&1 || true
say "answering: ${wanted[*]}"
