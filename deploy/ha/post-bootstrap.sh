#!/bin/sh
# Run by Patroni once, after initdb, on the node that initializes the cluster; $1
# is a superuser connection string. The service connects as wallet, which owns its
# database (and so the public schema its migrations create objects in).
set -eu
psql "$1" -X -v ON_ERROR_STOP=1 -v pw="$WALLET_DB_PASSWORD" <<'SQL'
create role wallet login password :'pw';
create database wallet owner wallet;
SQL
