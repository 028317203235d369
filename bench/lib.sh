# Shell functions the benchmark scripts share; sourced, not run.
#
# bench_conf_one DIR MODULE PORT: nginx.conf for one worker on DIR/store.db
# (bench/query.sh, bench/reads.sh).  bench_stop_dir DIR: graceful stop of
# that instance.  bench_stop_wait: graceful stop of the instance whose pid
# file is $DIR/logs/nginx.pid, waiting for it to exit (bench/bench.sh,
# bench/cost.sh).  Both expect NGINX, DIR as the scripts set them.

bench_conf_one() {  # dir module port
    mkdir -p "$1/conf" "$1/logs" "$1/tmp"
    cat > "$1/conf/nginx.conf" <<_EOC_
load_module $2;
daemon on;
worker_processes 1;
error_log $1/logs/error.log warn;
pid $1/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    compensation_store $1/store.db;
    server {
        listen 127.0.0.1:$3;
        location / { compensation_api; }
    }
}
_EOC_
}

bench_stop_dir() {  # dir
    if [ -f "$1/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$1/logs/nginx.pid")" 2>/dev/null || true
        sleep 1
    fi
}

bench_stop_wait() {
    if [ -f "$DIR/logs/nginx.pid" ]; then
        local pid; pid=$(cat "$DIR/logs/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$DIR/logs/nginx.pid"
    fi
}
