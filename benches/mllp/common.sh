# Shared by run.sh, sustained.sh, threads.sh and ab.sh (sourced, not run): ports, the benchmark channel
# file, and starting an engine on it.

# A TCP port nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 15 s for something to listen on port $1.
wait_port() {
    for _ in $(seq 1 150); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# The benchmark channel on stdout: MLLP in on port $2 with durability $1, duplicate detection
# off (the corpus repeats its control ids), and a file destination unless $3 is "nodest".
bench_channel() {
    echo 'description = "benchmark: MLLP in, one file destination"'
    echo "durability = \"$1\""
    echo '[duplicates]'
    echo 'window_secs = 0'
    echo '[source]'
    echo 'type = "mllp"'
    echo "listen = \"127.0.0.1:$2\""
    if [[ ${3:-} != nodest ]]; then
        echo '[[destination]]'
        echo 'name = "archive"'
        echo 'type = "file"'
        echo 'directory = "out"'
    fi
}

# Starts $IHUB in the engine directory $1 (created if missing) on the benchmark channel with
# durability $2 and destination $3 ("dest" or "nodest"), and waits until it listens. Sets
# `port` (the channel's MLLP port), `api` (the engine's HTTP API port) and `pid` (the engine's).
start_engine() {
    local dir=$1 bin=$IHUB
    # The engine starts in $dir: a relative path to it must not change meaning.
    [[ $bin == */* ]] && bin=$(realpath -- "$bin")
    mkdir -p "$dir/channels"
    port=$(free_port)
    api=$(free_port)
    bench_channel "$2" "$port" "$3" > "$dir/channels/bench.toml"
    ( cd "$dir" && NO_COLOR=1 exec "$bin" run --channels channels --data data \
        --api "127.0.0.1:$api" ) > "$dir/engine.log" 2>&1 &
    pid=$!
    wait_port "$port"
}

# "dest" when DEST is set (a file destination), else "nodest": start_engine's $3.
dest_kind() {
    if [[ -n ${DEST:-} ]]; then echo dest; else echo nodest; fi
}

# One timed load of $CONNS connections × $WINDOW in flight against the engine started last
# (`port`, `pid`) for $1 seconds, after a warm-up of $2 messages per connection (at most 1 s);
# prints the load client's summary line (JSON).
timed_load() {
    local warmup_secs=1
    [[ $2 -eq 0 ]] && warmup_secs=0
    "$LOAD" --addr "127.0.0.1:$port" --messages "$MESSAGES" --conns "$CONNS" \
        --window "$WINDOW" --per-conn 100000000 --max-total 1000000000 --duration "$1" \
        --repeat 1 --warmup "$2" --warmup-secs "$warmup_secs" --check ctrl \
        --server-pid "$pid" 2>/dev/null | tail -n 1
}

# Waits (up to 120 s) until no destination of the engine whose API listens on port $1 has
# anything queued, so a backlog of deliveries left by one load does not run during the next.
wait_drained() {
    python3 - "$1" <<'PY'
import json, sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/api/channels"
deadline = time.time() + 120
while time.time() < deadline:
    channels = json.load(urllib.request.urlopen(url, timeout=5))
    if all(d["queue_depth"] == 0 for c in channels for d in c["destinations"]):
        sys.exit(0)
    time.sleep(0.2)
print("the engine's destinations did not drain within 120 s", file=sys.stderr)
sys.exit(1)
PY
}
