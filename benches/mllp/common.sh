# Shared by run.sh and sustained.sh (sourced, not run): ports and the benchmark channel file.

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
