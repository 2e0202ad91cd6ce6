#!/bin/bash
# rounds.sh ROUNDS NAME=LOCKBOX_BINARY... measures the access check of each
# `lockbox serve --dev` binary against the minimal handler (docs/benchmarks.md):
# the handler on :18091, the servers on :18100, :18101, …, each set up with
# accessbench -wrk-setup; then ROUNDS rounds of wrk (-t2 -c64, $D each), the
# handler and every server in turn, each with the server's CPU time
# (utime+stime from /proc/PID/stat) per request served.
#   OPEN=auto: afterwards, open-loop latency (accessbench -targets) at half
#              the last server's mean req/s, for each server beside the handler.
#   PERF=i:    afterwards, perf record -g of process i (0 the handler) under wrk.
#   AB:        the accessbench binary (go build -o $AB ./internal/accessbench).
# Example: rounds.sh 5 before=/tmp/lockbox.old after=/tmp/lockbox.new
set -u
AB=${AB:-/tmp/accessbench}
DIR=${DIR:-/tmp/accessbench-rounds}
ROUNDS=$1; shift
D=${D:-5s}
CLK=$(getconf CLK_TCK)
mkdir -p $DIR && cd $DIR
$AB -baseline 127.0.0.1:18091 2>/dev/null &
BPID=$!
names=(base); pids=($BPID); urls=(http://127.0.0.1:18091/)
i=0
for spec in "$@"; do
  name=${spec%%=*}; bin=${spec#*=}; port=$((18100+i)); i=$((i+1))
  $bin serve --dev --listen 127.0.0.1:$port --log-format json 2>$DIR/serve-$name.log >/dev/null &
  pids+=($!); names+=($name); urls+=(http://127.0.0.1:$port/v1/access/check)
done
sleep 3
for ((k=1;k<${#names[@]};k++)); do
  port=$((18100+k-1))
  for t in 1 2 3 4 5 6 7 8 9 10; do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 1; done
  $AB -wrk-setup http://127.0.0.1:$port -wrk-baseline http://127.0.0.1:18091/ -wrk-dir $DIR/wrk-${names[$k]} || exit 1
done
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r=1;r<=ROUNDS;r++)); do
  for ((k=0;k<${#names[@]};k++)); do
    n=${names[$k]}; p=${pids[$k]}; u=${urls[$k]}
    script=$DIR/wrk-${names[1]}/check.lua; [ $k -gt 0 ] && script=$DIR/wrk-$n/check.lua
    c0=$(cpu $p)
    out=$(wrk -t2 -c64 -d$D --latency -s $script $u)
    c1=$(cpu $p)
    reqs=$(echo "$out" | awk '/requests in/{print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    p99=$(echo "$out" | awk '/ 99%/{print $2}')
    non2xx=$(echo "$out" | grep -i "non-2xx" | awk '{print $NF}')
    us=$(awk -v c=$((c1-c0)) -v n=$reqs -v t=$CLK 'BEGIN{printf "%.1f", c/t*1e6/n}')
    sum[$k]=$(awk -v a=${sum[$k]:-0} -v b=$rps 'BEGIN{print a+b}')
    echo "round $r $n req/s $rps cpu_us/req $us p99(closed) $p99 non2xx ${non2xx:-0} load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
if [ "${OPEN:-}" != "" ]; then
  for ((k=1;k<${#names[@]};k++)); do
    last=$((${#names[@]}-1))
    [ "$OPEN" = auto ] && OPEN=$(awk -v s=${sum[$last]} -v r=$ROUNDS 'BEGIN{printf "%d", s/r/2}')
    echo "open loop $OPEN req/s (half ${names[$last]}'s mean req/s), load $(cut -d' ' -f1 /proc/loadavg), target file of ${names[$k]}:"
    $AB -targets $DIR/wrk-${names[$k]}/targets.json -rounds 0 -open-rate $OPEN -duration 5s
  done
fi
if [ "${PERF:-}" != "" ]; then
  p=${pids[$PERF]}
  perf record -F 999 -g -p $p -o $DIR/perf-${names[$PERF]}.data -- sleep 6 >/dev/null 2>&1 & PP=$!
  wrk -t2 -c64 -d6s -s $DIR/wrk-${names[$PERF]}/check.lua ${urls[$PERF]} >/dev/null
  wait $PP; sleep 1
fi
for p in "${pids[@]}"; do kill -TERM $p; done
wait
