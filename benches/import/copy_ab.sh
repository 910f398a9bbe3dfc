#!/bin/bash
# CSV COPY of one file into a fresh LynxStore server: wall time and server CPU.
# usage: benches/import/copy_ab.sh BINARY FILE.csv   (TSBS cpu columns, with a header row)
# Run it alternately for two builds to compare them (docs/benchmarks.md, "Bulk load").
BIN=$1
CSV=$2
DIR=$(mktemp -d /var/tmp/lynx-copy-ab.XXXXXX)

$BIN serve --data-dir $DIR --pg-addr 127.0.0.1:15499 --http-addr 127.0.0.1:18099 --log warn &
PID=$!
for i in $(seq 50); do psql -h 127.0.0.1 -p 15499 -U postgres -c 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
TAGS="hostname region datacenter rack os arch team service service_version service_environment"; FIELDS="usage_user usage_system usage_idle usage_nice usage_iowait usage_irq usage_softirq usage_steal usage_guest usage_guest_nice"
DDL="CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL$(for t in $TAGS; do echo -n ", $t TEXT"; done)$(for f in $FIELDS; do echo -n ", $f DOUBLE PRECISION"; done))"
psql -h 127.0.0.1 -p 15499 -U postgres -c "$DDL" >/dev/null
S=$(date +%s.%N)
psql -h 127.0.0.1 -p 15499 -U postgres -c "\\copy cpu FROM '$CSV' (FORMAT csv, HEADER)" >/dev/null
E=$(date +%s.%N)
C=$(psql -h 127.0.0.1 -p 15499 -U postgres -At -c "select count(*), sum(usage_user) from cpu")
CPU=$(awk -v tck="$(getconf CLK_TCK)" '{print ($14+$15)/tck}' /proc/$PID/stat)
kill $PID; wait $PID 2>/dev/null
echo "$(basename $BIN) $(echo "$E - $S" | bc) s  cpu ${CPU}s  $C"
rm -rf "$DIR"
